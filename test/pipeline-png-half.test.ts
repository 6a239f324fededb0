// The PNG grid's value mapping and layout, and float16 conversion for half-precision exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { samplesToPng } from '../src/core/pipeline/image-grid';
import { fromHalf, toHalf } from '../src/core/pipeline/tensors';

test('grid: [-1, 1] → [0, 255] with clipping, columns, gaps, and a vertical flip for spectrograms', () => {
  // 3 grayscale samples of 2×1 pixels: top row values [-1, 0.5, 7], bottom row [1, -0.5, NaN]
  const s = Float32Array.from([-1, 1, 0.5, -0.5, 7, NaN]);
  const png = PNG.sync.read(samplesToPng(s, [3, 1, 2, 1], { columns: 2, gap: 1, scale: 1 }));
  assert.deepEqual([png.width, png.height], [3, 5]);
  const at = (x: number, y: number) => Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 4));
  assert.deepEqual(at(0, 0), [0, 0, 0, 255]);
  assert.deepEqual(at(0, 1), [255, 255, 255, 255]);
  assert.deepEqual(at(2, 0), [191, 191, 191, 255], '0.5 → 191');
  assert.deepEqual(at(0, 3), [255, 255, 255, 255], 'clipped at 1');
  assert.deepEqual(at(0, 4), [0, 0, 0, 255], 'NaN shows black');
  assert.deepEqual(at(1, 0), [0, 0, 0, 255], 'the gap');
  const flipped = PNG.sync.read(samplesToPng(s, [3, 1, 2, 1], { columns: 2, gap: 1, scale: 1, flipVertical: true }));
  assert.equal(flipped.data[0], 255, 'row 0 (lowest mel bin) is drawn at the bottom');
  const rgb = PNG.sync.read(samplesToPng(Float32Array.from([1, -1, 0]), [1, 3, 1, 1], { scale: 3 }));
  assert.deepEqual([rgb.width, rgb.height], [3, 3]);
  assert.deepEqual(Array.from(rgb.data.subarray(16, 20)), [255, 0, 128, 255]);
});

test('float16: exact values, round-to-nearest-even, subnormals, overflow', () => {
  assert.equal(toHalf(1), 0x3c00);
  assert.equal(toHalf(-2), 0xc000);
  assert.equal(toHalf(65504), 0x7bff);
  assert.equal(toHalf(65520), 0x7c00, 'rounds up to infinity');
  assert.equal(toHalf(0.1), 0x2e66);
  assert.equal(toHalf(1 + 2 ** -11), 0x3c00, 'tie rounds to even (down)');
  assert.equal(toHalf(1 + 3 * 2 ** -11), 0x3c02, 'tie rounds to even (up)');
  assert.equal(toHalf(2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(toHalf(2 ** -26), 0, 'underflow');
  assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
  for (const v of [0.5, -3.25, 2 ** -20, 1234, 6.103515625e-5]) assert.equal(fromHalf(toHalf(v)), v);
});
