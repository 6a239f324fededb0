// Decoded samples as one PNG grid: values in the decoder's [-1, 1] range map to [0, 255];
// one channel is grayscale, three RGB, four RGBA (other counts show channel 0). Spectrograms are
// flipped so the lowest frequency bin is at the bottom, as people read them.
import { PNG } from 'pngjs';

export interface GridOptions {
  /** columns; default ⌈√n⌉ */
  columns?: number;
  /** draw row 0 of each sample at the bottom (mel spectrograms) */
  flipVertical?: boolean;
  /** pixel gap between tiles */
  gap?: number;
  /** integer upscaling; default enough to make a tile at least 64 px */
  scale?: number;
}

const toByte = (v: number) => (Number.isNaN(v) ? 0 : Math.round((Math.min(Math.max(v, -1), 1) + 1) * 127.5));

/** samples [n, C, H, W] → PNG bytes */
export function samplesToPng(samples: Float32Array, shape: number[], opts: GridOptions = {}): Buffer {
  const [n, c, h, w] = shape;
  const cols = opts.columns ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const gap = opts.gap ?? 2;
  const scale = opts.scale ?? Math.max(1, Math.floor(64 / Math.max(h, w)));
  const th = h * scale;
  const tw = w * scale;
  const png = new PNG({ width: cols * tw + (cols - 1) * gap, height: rows * th + (rows - 1) * gap, colorType: 6 });
  png.data.fill(0);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  const plane = h * w;
  for (let s = 0; s < n; s++) {
    const ox = (s % cols) * (tw + gap);
    const oy = Math.floor(s / cols) * (th + gap);
    const base = s * c * plane;
    for (let y = 0; y < th; y++) {
      const sy = Math.floor(y / scale);
      const srcY = opts.flipVertical ? h - 1 - sy : sy;
      for (let x = 0; x < tw; x++) {
        const p = srcY * w + Math.floor(x / scale);
        const o = ((oy + y) * png.width + ox + x) * 4;
        if (c === 3 || c === 4) {
          png.data[o] = toByte(samples[base + p]);
          png.data[o + 1] = toByte(samples[base + plane + p]);
          png.data[o + 2] = toByte(samples[base + 2 * plane + p]);
          if (c === 4) png.data[o + 3] = toByte(samples[base + 3 * plane + p]);
        } else {
          const g = toByte(samples[base + p]);
          png.data[o] = g;
          png.data[o + 1] = g;
          png.data[o + 2] = g;
        }
      }
    }
  }
  return PNG.sync.write(png);
}
