// Pan and zoom of the graph canvas (d3-zoom): fitting, centring an item, and keeping the block the
// user clicked where it was on screen when the layout changes under it.
import { select, zoom, zoomIdentity, type ZoomBehavior, type ZoomTransform } from 'd3';

/** the smallest on-screen text size drawn; smaller labels are hidden until zoomed in (the colours still show) */
const MIN_TEXT_PX = 9;
import type { Box } from '../../model/elkGraph';

const MIN_K = 0.04;

export class CanvasZoom {
  private readonly zoomer: ZoomBehavior<SVGSVGElement, unknown>;
  private transform: ZoomTransform = zoomIdentity;
  /**
   * The canvas size as the last layout left it, kept by a ResizeObserver: reading it from the DOM
   * (getBoundingClientRect) right after a redraw mutated the SVG forced a synchronous reflow of the
   * whole drawing (~55 ms per expansion of SD-1.5 under load).
   */
  private observed: { width: number; height: number } | undefined;

  constructor(
    private readonly svg: SVGSVGElement,
    viewport: SVGGElement,
    private readonly host: HTMLElement,
  ) {
    this.zoomer = zoom<SVGSVGElement, unknown>()
      .scaleExtent([MIN_K, 4])
      .filter((e: Event) => {
        // wheel zooms; drag pans from anywhere except items (so clicks stay clicks)
        if (e.type === 'dblclick') return false;
        const me = e as MouseEvent;
        return (!me.ctrlKey || e.type === 'wheel') && !me.button;
      })
      .on('zoom', (e: { transform: ZoomTransform }) => {
        this.transform = e.transform;
        viewport.setAttribute('transform', e.transform.toString());
        svg.classList.toggle('zoomed-out', e.transform.k < 0.45);
        // level of detail: text that would be drawn below ~9 px on screen is not drawn at all
        // (12 px titles below k 0.75, 11–11.5 px details and scores below k 0.82, 10 px marks below k 0.9)
        svg.classList.toggle('lod-no-titles', e.transform.k * 12 < MIN_TEXT_PX);
        svg.classList.toggle('lod-no-details', e.transform.k * 11 < MIN_TEXT_PX);
        svg.classList.toggle('lod-no-marks', e.transform.k * 10 < MIN_TEXT_PX);
      });
    select(svg).call(this.zoomer);
    if (typeof ResizeObserver !== 'undefined') {
      new ResizeObserver((entries) => {
        const box = entries[entries.length - 1].borderBoxSize?.[0];
        const r = entries[entries.length - 1].contentRect;
        this.observed = { width: box?.inlineSize ?? r.width, height: box?.blockSize ?? r.height };
      }).observe(svg);
    }
  }

  /** Where a box of the layout is on screen now. */
  toScreen(b: Box): Box {
    const t = this.transform;
    return { x: t.applyX(b.x), y: t.applyY(b.y), w: b.w * t.k, h: b.h * t.k };
  }

  /** Puts `b` (the anchor's new layout box) at `before` (where the anchor was on screen). */
  keepAnchor(b: Box, before: Box): void {
    const { width, height } = this.size();
    let k = this.transform.k;
    // a large expansion is brought fully into view rather than left spilling off-screen
    const fitK = Math.min((width - 48) / b.w, (height - 48) / b.h);
    if (fitK < k) k = Math.max(fitK, MIN_K);
    let x = before.x;
    let y = before.y;
    if (x + b.w * k > width - 16) x = Math.max(16, width - 16 - b.w * k);
    if (y + b.h * k > height - 16) y = Math.max(16, height - 16 - b.h * k);
    this.apply(zoomIdentity.translate(x - b.x * k, y - b.y * k).scale(k), true);
  }

  /** Fits a box in view, never zooming in past `maxK`. */
  fitBox(b: Box, animate: boolean, maxK: number): void {
    const { width, height } = this.size();
    const pad = 28;
    const k = Math.max(MIN_K, Math.min(maxK, (width - 2 * pad) / Math.max(1, b.w), (height - 2 * pad) / Math.max(1, b.h)));
    this.apply(this.centredOn(b, k), animate);
  }

  zoomBy(factor: number): void {
    select(this.svg).transition().duration(reducedMotion() ? 0 : 150).call(this.zoomer.scaleBy, factor);
  }

  /** Centres a box, zooming in to a readable scale if needed. */
  reveal(b: Box): void {
    const { width, height } = this.size();
    const k = Math.min(Math.max(this.transform.k, 0.8), Math.min((width - 60) / b.w, (height - 60) / b.h), 1.5);
    this.apply(this.centredOn(b, k), true);
  }

  /** Scrolls a box into view (at the current scale) when any of it is off-screen. */
  ensureVisible(b: Box): void {
    const sb = this.toScreen(b);
    const { width, height } = this.size();
    if (sb.x >= 0 && sb.y >= 0 && sb.x + sb.w <= width && sb.y + sb.h <= height) return;
    this.apply(this.centredOn(b, this.transform.k), true);
  }

  private centredOn(b: Box, k: number): ZoomTransform {
    const { width, height } = this.size();
    return zoomIdentity.translate(width / 2 - (b.x + b.w / 2) * k, height / 2 - (b.y + b.h / 2) * k).scale(k);
  }

  private apply(t: ZoomTransform, animate: boolean): void {
    const sel = select(this.svg);
    if (animate && !reducedMotion()) sel.transition().duration(220).call(this.zoomer.transform, t);
    else sel.call(this.zoomer.transform, t);
  }

  private size(): { width: number; height: number } {
    // before the observer's first report (or without one) the DOM is read once
    const r = this.observed?.width && this.observed.height ? this.observed : this.svg.getBoundingClientRect();
    return { width: r.width || this.host.clientWidth || 800, height: r.height || this.host.clientHeight || 600 };
  }
}

function reducedMotion(): boolean {
  return window.matchMedia?.('(prefers-reduced-motion: reduce)').matches ?? false;
}
