// Label text on the canvas: widths measured with a 2D canvas context (SVG text has no layout until it
// is in the document, and ELK needs sizes before anything is drawn), and ellipsis fitting.
import { s } from '../dom';

export const FONT = 12;

export class TextMeasure {
  private readonly ctx = document.createElement('canvas').getContext('2d');
  private readonly cache = new Map<string, number>();

  width(text: string, bold: boolean, size = FONT, mono = false): number {
    const key = `${bold ? 'b' : 'n'}${mono ? 'm' : ''}${size}|${text}`;
    let w = this.cache.get(key);
    if (w === undefined) {
      if (this.ctx) {
        this.ctx.font = `${bold ? '600 ' : ''}${size}px ${fontFamily(mono)}`;
        w = this.ctx.measureText(text).width;
      } else w = text.length * size * 0.6;
      this.cache.set(key, w);
    }
    return w;
  }

  /** Shortens a label to `max` px with an ellipsis; the full text stays available as its tooltip. */
  fit(el: SVGTextElement, max: number, bold: boolean, size = FONT, mono = false): void {
    const full = el.dataset.full ?? el.textContent ?? '';
    el.dataset.full = full;
    el.textContent = full;
    if (this.width(full, bold, size, mono) <= max) return;
    let lo = 0;
    let hi = full.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.width(full.slice(0, mid) + '…', bold, size, mono) <= max) lo = mid;
      else hi = mid - 1;
    }
    el.textContent = full.slice(0, lo) + '…';
    const t = s('title');
    t.textContent = full;
    el.append(t);
  }
}

const families: Partial<Record<'ui' | 'mono', string>> = {};
/** The fonts the CSS gives labels, resolved once (canvas measuring does not read CSS variables). */
function fontFamily(mono: boolean): string {
  const k = mono ? 'mono' : 'ui';
  if (!families[k]) {
    const probe = document.createElement('span');
    probe.className = mono ? 'mono' : '';
    document.body.append(probe);
    families[k] = getComputedStyle(probe).fontFamily || (mono ? 'monospace' : 'sans-serif');
    probe.remove();
  }
  return families[k]!;
}
