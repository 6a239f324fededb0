// The graph canvas: an SVG of the visible part of the graph (expanded groups, collapsed blocks,
// operators, graph inputs/outputs), laid out by ELK in a worker, with d3-zoom for pan/zoom.
// SVG keeps every element inspectable and focusable; at module level a U-Net is ~20 elements and
// even a deep expansion stays in the hundreds, which SVG draws without trouble.
import { select, zoom, zoomIdentity, type ZoomBehavior, type ZoomTransform } from 'd3';
import type { CandidateResult } from '../../../src/protocol/webview';
import { fromElk, GROUP_HEADER, toElk, type Box, type Layout, type Point, type Size } from '../model/elkGraph';
import { formatCount, formatScore, formatShape } from '../model/format';
import type { ViewGraph } from '../model/graph';
import { heatScale, textOn, type HeatDomain, type HeatScale } from '../model/heatmap';
import type { ScoreBook } from '../model/scores';
import { computeVisible, visibleKeyOf, type VisibleEdge, type VisibleGraph, type VisibleItem } from '../model/visible';
import type { LayoutEngine } from '../layout/layoutEngine';
import { s } from './dom';

export interface Heat {
  result: CandidateResult;
  /** false when the colour comes from an enclosing candidate */
  own: boolean;
}

export interface CanvasCallbacks {
  /** click / Enter / Space on an item (group headers included) */
  activate(item: VisibleItem, how: 'pointer' | 'keyboard' | 'body'): void;
  /** hover in/out, for the tooltip */
  hover(item: VisibleItem | null, at?: { x: number; y: number }): void;
  /** click on empty canvas */
  clearSelection(): void;
  laidOut?(info: { items: number; edges: number; ms: number }): void;
}

interface Label {
  title: string;
  sub: string;
  score?: string;
}

const BLOCK_H = 48;
/** most candidates a block's score strip shows (more are sampled evenly) */
const SPARK_MAX = 48;
const NODE_H = 36;
const FONT = 12;

export class GraphCanvas {
  readonly svg: SVGSVGElement;
  private viewport: SVGGElement;
  private groupLayer: SVGGElement;
  private edgeLayer: SVGGElement;
  private itemLayer: SVGGElement;
  private pulseLayer: SVGGElement;
  private zoomer: ZoomBehavior<SVGSVGElement, unknown>;
  private transform: ZoomTransform = zoomIdentity;
  private vis: VisibleGraph | undefined;
  private layoutResult: Layout | undefined;
  private labels = new Map<string, Label>();
  private measureCtx: CanvasRenderingContext2D | null;
  private widthCache = new Map<string, number>();
  private heat: HeatScale | undefined;
  private selectedKey: string | undefined;
  private marked = new Set<string>();
  private removed: Set<string> | null = null;
  private hasLaidOut = false;
  private inside = new Map<string, CandidateResult[]>();
  private insideVersion = -1;

  constructor(
    private readonly host: HTMLElement,
    private readonly graph: ViewGraph,
    private readonly scores: ScoreBook,
    private readonly engine: LayoutEngine,
    private readonly cb: CanvasCallbacks,
  ) {
    this.svg = s('svg', { class: 'graph', role: 'group', 'aria-label': 'Model graph' });
    const defs = s('defs');
    defs.append(
      s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse', class: 'arrow' }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z' })),
      s('marker', { id: 'arrow-hot', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse', class: 'arrow hot' }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z' })),
      s('pattern', { id: 'hatch', patternUnits: 'userSpaceOnUse', width: '7', height: '7', patternTransform: 'rotate(45)' }, s('rect', { class: 'hatch-bg', width: '7', height: '7' }), s('line', { class: 'hatch-line', x1: '0', y1: '0', x2: '0', y2: '7' })),
      s('pattern', { id: 'hatch-removed', patternUnits: 'userSpaceOnUse', width: '8', height: '8', patternTransform: 'rotate(-45)' }, s('line', { class: 'removed-line', x1: '0', y1: '0', x2: '0', y2: '8' })),
    );
    this.viewport = s('g', { class: 'viewport' });
    this.groupLayer = s('g', { class: 'groups' });
    this.edgeLayer = s('g', { class: 'edges' });
    this.itemLayer = s('g', { class: 'items' });
    this.pulseLayer = s('g', { class: 'pulses', 'aria-hidden': 'true' });
    this.viewport.append(this.groupLayer, this.edgeLayer, this.itemLayer, this.pulseLayer);
    this.svg.append(defs, this.viewport);
    host.append(this.svg);
    this.measureCtx = document.createElement('canvas').getContext('2d');

    this.zoomer = zoom<SVGSVGElement, unknown>()
      .scaleExtent([0.04, 4])
      .filter((e: Event) => {
        // wheel zooms; drag pans from anywhere except items (so clicks stay clicks)
        if (e.type === 'dblclick') return false;
        const me = e as MouseEvent;
        return (!me.ctrlKey || e.type === 'wheel') && !me.button;
      })
      .on('zoom', (e: { transform: ZoomTransform }) => {
        this.transform = e.transform;
        this.viewport.setAttribute('transform', e.transform.toString());
        this.svg.classList.toggle('zoomed-out', e.transform.k < 0.45);
      });
    select(this.svg).call(this.zoomer);

    this.svg.addEventListener('click', (e) => {
      const key = this.keyAt(e.target);
      if (!key) {
        this.cb.clearSelection();
        return;
      }
      const it = this.vis?.byKey.get(key);
      if (!it) return;
      // a group collapses from its header; a click elsewhere on its frame only selects it
      const onHeader = !!(e.target as Element).closest('.header');
      this.cb.activate(it, it.kind === 'group' && !onHeader ? 'body' : 'pointer');
    });
    this.svg.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' && e.key !== ' ') return;
      const key = this.keyAt(e.target);
      const it = key ? this.vis?.byKey.get(key) : undefined;
      if (!it) return;
      e.preventDefault();
      this.cb.activate(it, 'keyboard');
    });
    this.svg.addEventListener('focusin', (e) => {
      const key = this.keyAt(e.target);
      if (key) this.ensureVisible(key);
    });
    this.svg.addEventListener('mouseover', (e) => {
      const key = this.keyAt(e.target);
      const it = key ? this.vis?.byKey.get(key) : undefined;
      this.setHot(key);
      this.cb.hover(it ?? null, { x: e.clientX, y: e.clientY });
    });
    this.svg.addEventListener('mousemove', (e) => {
      const key = this.keyAt(e.target);
      if (key) this.cb.hover(this.vis?.byKey.get(key) ?? null, { x: e.clientX, y: e.clientY });
    });
    this.svg.addEventListener('mouseleave', () => {
      this.setHot(this.selectedKey);
      this.cb.hover(null);
    });
  }

  get visible(): VisibleGraph | undefined {
    return this.vis;
  }

  private keyAt(target: EventTarget | null): string | undefined {
    const el = (target as Element | null)?.closest?.('[data-key]');
    return el?.getAttribute('data-key') ?? undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Layout

  /**
   * Shows the graph with `expanded` modules open. `anchor` (an item key) stays where it was on
   * screen, so the block the user clicked does not jump away.
   */
  async show(expanded: ReadonlySet<string>, anchor?: string): Promise<boolean> {
    const t0 = performance.now();
    const vis = computeVisible(this.graph, expanded);
    this.labels.clear();
    const elkGraph = toElk(vis, (it) => this.sizeOf(it));
    const t1 = performance.now();
    const laid = await this.engine.layout(elkGraph);
    if (!laid) return false; // superseded
    const t2 = performance.now();
    performance.measure('ld:layout', { start: t1, end: t2 });
    const layout = fromElk(laid);
    const before = anchor && this.layoutResult ? this.screenBox(anchor) : undefined;
    this.vis = vis;
    this.layoutResult = layout;
    this.render();
    if (!this.hasLaidOut) {
      this.hasLaidOut = true;
      this.fit(false);
    } else if (anchor && before) {
      this.keepAnchor(anchor, before);
    }
    performance.measure('ld:render', { start: t2, end: performance.now() });
    this.cb.laidOut?.({ items: vis.items.length, edges: vis.edges.length, ms: performance.now() - t0 });
    return true;
  }

  private screenBox(key: string): Box | undefined {
    const b = this.layoutResult?.boxes.get(key);
    if (!b) return undefined;
    const t = this.transform;
    return { x: t.applyX(b.x), y: t.applyY(b.y), w: b.w * t.k, h: b.h * t.k };
  }

  private keepAnchor(key: string, before: Box): void {
    const b = this.layoutResult!.boxes.get(key);
    if (!b) return;
    const { width, height } = this.size();
    let k = this.transform.k;
    // a large expansion is brought fully into view rather than left spilling off-screen
    const fitK = Math.min((width - 48) / b.w, (height - 48) / b.h);
    if (fitK < k) k = Math.max(fitK, 0.04);
    let x = before.x;
    let y = before.y;
    if (x + b.w * k > width - 16) x = Math.max(16, width - 16 - b.w * k);
    if (y + b.h * k > height - 16) y = Math.max(16, height - 16 - b.h * k);
    const t = zoomIdentity.translate(x - b.x * k, y - b.y * k).scale(k);
    this.applyTransform(t, true);
  }

  private applyTransform(t: ZoomTransform, animate: boolean): void {
    const sel = select(this.svg);
    if (animate && !reducedMotion()) sel.transition().duration(220).call(this.zoomer.transform, t);
    else sel.call(this.zoomer.transform, t);
  }

  private size(): { width: number; height: number } {
    const r = this.svg.getBoundingClientRect();
    return { width: r.width || this.host.clientWidth || 800, height: r.height || this.host.clientHeight || 600 };
  }

  /** Fits the whole graph (never zooming in past 100%). */
  fit(animate = true): void {
    const l = this.layoutResult;
    if (!l) return;
    this.fitBox({ x: 0, y: 0, w: l.width, h: l.height }, animate, 1);
  }

  private fitBox(b: Box, animate: boolean, maxK: number): void {
    const { width, height } = this.size();
    const pad = 28;
    const k = Math.max(0.04, Math.min(maxK, (width - 2 * pad) / Math.max(1, b.w), (height - 2 * pad) / Math.max(1, b.h)));
    const t = zoomIdentity.translate(width / 2 - (b.x + b.w / 2) * k, height / 2 - (b.y + b.h / 2) * k).scale(k);
    this.applyTransform(t, animate);
  }

  zoomBy(factor: number): void {
    select(this.svg).transition().duration(reducedMotion() ? 0 : 150).call(this.zoomer.scaleBy, factor);
  }

  /** Centres an item (zooming in to a readable scale if needed) and pulses it. */
  reveal(key: string, pulse = true): void {
    const b = this.layoutResult?.boxes.get(key);
    if (!b) return;
    const { width, height } = this.size();
    const k = Math.min(Math.max(this.transform.k, 0.8), Math.min((width - 60) / b.w, (height - 60) / b.h), 1.5);
    const t = zoomIdentity.translate(width / 2 - (b.x + b.w / 2) * k, height / 2 - (b.y + b.h / 2) * k).scale(k);
    this.applyTransform(t, true);
    if (pulse) this.pulse(key);
  }

  private ensureVisible(key: string): void {
    const sb = this.screenBox(key);
    if (!sb) return;
    const { width, height } = this.size();
    if (sb.x >= 0 && sb.y >= 0 && sb.x + sb.w <= width && sb.y + sb.h <= height) return;
    const b = this.layoutResult!.boxes.get(key)!;
    const k = this.transform.k;
    this.applyTransform(zoomIdentity.translate(width / 2 - (b.x + b.w / 2) * k, height / 2 - (b.y + b.h / 2) * k).scale(k), true);
  }

  private pulse(key: string): void {
    const b = this.layoutResult?.boxes.get(key);
    if (!b) return;
    const ring = s('rect', { class: 'pulse', x: b.x - 6, y: b.y - 6, width: b.w + 12, height: b.h + 12, rx: 10 });
    this.pulseLayer.append(ring);
    setTimeout(() => ring.remove(), 2400);
  }

  /** Key of the item showing a module or node in the current view. */
  keyFor(target: { module?: string; node?: number }): string | undefined {
    return this.vis ? visibleKeyOf(this.graph, this.vis, target) : undefined;
  }

  focusItem(key: string): void {
    // a group's outer element carries the key too; its header is what takes focus
    const el = this.svg.querySelector<SVGGElement>(`[data-key="${cssEscape(key)}"][tabindex]`);
    el?.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------------------------------
  // Labels and sizes

  private label(it: VisibleItem): Label {
    let l = this.labels.get(it.key);
    if (l) return l;
    const g = this.graph;
    if (it.kind === 'io') {
      const v = g.values.get(it.io!);
      l = { title: it.io!, sub: formatShape(v?.shape) };
    } else if (it.kind === 'node') {
      const n = g.nodes[it.node!];
      const out = n.outputs[0] ? g.values.get(n.outputs[0]) : undefined;
      l = { title: n.op, sub: out?.shape ? formatShape(out.shape) : shortName(n.id) };
    } else {
      const m = g.modules.get(it.moduleId!)!;
      const name = m.depth === 1 ? m.id : m.name;
      if (it.node !== undefined && it.kind === 'block') {
        const n = g.nodes[it.node];
        l = { title: name, sub: [n.op, m.params ? `${formatCount(m.params)} params` : ''].filter(Boolean).join(' · ') };
      } else {
        const parts = [`${m.shownCount} ops`];
        if (m.params) parts.push(`${formatCount(m.params)} params`);
        l = { title: name, sub: parts.join(' · ') };
      }
    }
    this.labels.set(it.key, l);
    return l;
  }

  private textWidth(text: string, bold: boolean, size = FONT, mono = false): number {
    const key = `${bold ? 'b' : 'n'}${mono ? 'm' : ''}${size}|${text}`;
    let w = this.widthCache.get(key);
    if (w === undefined) {
      if (this.measureCtx) {
        this.measureCtx.font = `${bold ? '600 ' : ''}${size}px ${fontFamily(mono)}`;
        w = this.measureCtx.measureText(text).width;
      } else w = text.length * size * 0.6;
      this.widthCache.set(key, w);
    }
    return w;
  }

  private sizeOf(it: VisibleItem): Size {
    const l = this.label(it);
    const scoreW = 64;
    if (it.kind === 'group') return { w: Math.min(420, this.textWidth(l.title, true) + scoreW + 60), h: GROUP_HEADER };
    if (it.kind === 'block') {
      const w = Math.max(this.textWidth(l.title, true) + scoreW + 30, this.textWidth(l.sub, false, 11) + 24);
      return { w: clamp(Math.ceil(w), 150, 320), h: BLOCK_H };
    }
    const w = Math.max(this.textWidth(l.title, true) + 24, this.textWidth(l.sub, false, 10.5, true) + 22);
    return { w: clamp(Math.ceil(w), it.kind === 'io' ? 110 : 72, 240), h: NODE_H };
  }

  // ------------------------------------------------------------------------------------------
  // Colour

  setHeat(domain: HeatDomain | null): void {
    this.heat = domain ? heatScale(domain) : undefined;
    this.recolor();
  }

  heatOf(it: VisibleItem): Heat | undefined {
    if (it.kind === 'io') return undefined;
    const g = this.graph;
    if (it.moduleId !== undefined) {
      const own = this.scores.get(it.moduleId) ?? (it.node !== undefined ? this.scores.get(g.nodes[it.node].id) : undefined);
      if (own) return { result: own, own: true };
      let p = g.modules.get(it.moduleId)?.parent ?? null;
      while (p) {
        const r = this.scores.get(p);
        if (r) return { result: r, own: false };
        p = g.modules.get(p)?.parent ?? null;
      }
      return undefined;
    }
    const r = this.scores.forNode(g, it.node!);
    return r ? { result: r, own: r.id === g.nodes[it.node!].id } : undefined;
  }

  /** Re-applies score colours without a new layout (scores stream in while the user browses). */
  recolor(): void {
    if (!this.vis) return;
    const paint = (el: SVGGElement, it: VisibleItem) => {
      const body = el.querySelector<SVGRectElement>('.body');
      if (!body) return;
      const heat = this.heatOf(it);
      const state = heatState(heat);
      el.classList.remove('scored', 'inherited', 'unscored', 'unmodifiable');
      el.classList.add(state);
      const fill = heat && heat.result.score !== null && this.heat ? this.heat(heat.result.score) : '';
      if (state === 'scored' && fill) {
        body.style.fill = fill;
        el.style.setProperty('--ink', textOn(fill));
      } else if (state === 'inherited' && fill) {
        body.style.fill = fill;
        el.style.removeProperty('--ink');
      } else {
        body.style.fill = '';
        el.style.removeProperty('--ink');
      }
      const spark = el.querySelector<SVGGElement>('.spark');
      if (spark) this.drawSpark(spark, it);
      const scoreEl = el.querySelector('.score');
      if (scoreEl) scoreEl.textContent = heat?.own ? (heat.result.modification === 'none' ? 'fixed' : formatScore(heat.result.score)) : '';
    };
    this.itemLayer.querySelectorAll<SVGGElement>('g.item').forEach((el) => {
      const it = this.vis!.byKey.get(el.getAttribute('data-key')!);
      if (it) paint(el, it);
    });
    this.groupLayer.querySelectorAll<SVGGElement>('g.group').forEach((el) => {
      const it = this.vis!.byKey.get(el.getAttribute('data-key')!);
      if (it) paint(el, it);
    });
  }

  /** Prunable candidates strictly inside a module, lowest score first (cached per score version). */
  candidatesInside(moduleId: string): CandidateResult[] {
    if (this.insideVersion !== this.scores.version) {
      this.insideVersion = this.scores.version;
      this.inside.clear();
      const g = this.graph;
      for (const r of this.scores.all()) {
        if (r.modification === 'none' || r.score === null) continue;
        let p: string | null | undefined = g.modules.has(r.id) ? g.modules.get(r.id)!.parent : g.nodeIndex.has(r.id) ? g.nodes[g.nodeIndex.get(r.id)!].module : undefined;
        while (p) {
          let list = this.inside.get(p);
          if (!list) this.inside.set(p, (list = []));
          list.push(r);
          p = g.modules.get(p)?.parent ?? null;
        }
      }
      for (const list of this.inside.values()) list.sort((a, b) => a.score! - b.score!);
    }
    return this.inside.get(moduleId) ?? [];
  }

  /** A strip of the scores inside a collapsed block: where the prunable parts are, before expanding. */
  private drawSpark(g: SVGGElement, it: VisibleItem): void {
    while (g.firstChild) g.removeChild(g.firstChild);
    const list = this.candidatesInside(it.moduleId!);
    const b = this.layoutResult?.boxes.get(it.key);
    if (!list.length || !this.heat || !b) return;
    const n = Math.min(list.length, SPARK_MAX);
    const w = (b.w - 20) / n;
    for (let i = 0; i < n; i++) {
      const r = list[Math.floor((i * list.length) / n)];
      const seg = s('rect', { x: (10 + i * w).toFixed(2), y: String(b.h - 7), width: Math.max(0.5, w - 0.6).toFixed(2), height: '3' });
      seg.style.fill = this.heat(r.score!);
      g.append(seg);
    }
  }

  // ------------------------------------------------------------------------------------------
  // State shown on items

  setSelected(key: string | undefined): void {
    this.selectedKey = key;
    this.svg.querySelectorAll('.selected').forEach((el) => el.classList.remove('selected'));
    if (key) this.svg.querySelector(`[data-key="${cssEscape(key)}"]`)?.classList.add('selected');
    this.setHot(key);
  }

  /** Candidates currently selected for pruning (drawn with a dashed outline). */
  setMarked(ids: ReadonlySet<string>): void {
    this.marked = new Set(ids);
    this.applyMarks();
  }

  /** Module/node ids removed by the last prune; null leaves before/after mode. */
  setRemoved(ids: ReadonlySet<string> | null): void {
    this.removed = ids ? new Set(ids) : null;
    this.applyMarks();
  }

  private within(set: ReadonlySet<string>, it: VisibleItem): boolean {
    const g = this.graph;
    let id: string | null | undefined = it.moduleId;
    if (it.node !== undefined) {
      if (set.has(g.nodes[it.node].id)) return true;
      id ??= g.nodes[it.node].module;
    }
    while (id) {
      if (set.has(id)) return true;
      id = g.modules.get(id)?.parent ?? null;
    }
    return false;
  }

  /** How many members of `set` lie strictly inside each module. */
  private countInside(set: ReadonlySet<string>): Map<string, number> {
    const g = this.graph;
    const counts = new Map<string, number>();
    for (const id of set) {
      let p: string | null | undefined = g.modules.has(id) ? g.modules.get(id)!.parent : g.nodeIndex.has(id) ? g.nodes[g.nodeIndex.get(id)!].module : undefined;
      while (p) {
        counts.set(p, (counts.get(p) ?? 0) + 1);
        p = g.modules.get(p)?.parent ?? null;
      }
    }
    return counts;
  }

  private applyMarks(): void {
    if (!this.vis) return;
    const removedInside = this.removed ? this.countInside(this.removed) : new Map<string, number>();
    const markedInside = this.countInside(this.marked);
    this.svg.querySelectorAll<SVGGElement>('[data-key]').forEach((el) => {
      const it = this.vis!.byKey.get(el.getAttribute('data-key')!);
      if (!it) return;
      el.classList.toggle('marked', this.marked.size > 0 && this.within(this.marked, it));
      el.classList.toggle('removed', !!this.removed && this.within(this.removed, it));
      // a collapsed block says how much of it is selected or was removed, without expanding it
      const note = el.querySelector<SVGGElement>('.inner-mark');
      if (note && it.moduleId !== undefined) {
        const r = removedInside.get(it.moduleId) ?? 0;
        const m = markedInside.get(it.moduleId) ?? 0;
        const text = r ? `${r} removed` : m ? `${m} selected` : '';
        note.classList.toggle('is-removed', r > 0);
        note.style.display = text ? '' : 'none';
        const label = note.querySelector('text')!;
        label.textContent = text;
        const w = this.textWidth(text, true, 10) + 12;
        const box = this.layoutResult?.boxes.get(it.key);
        note.querySelector('rect')!.setAttribute('width', w.toFixed(1));
        label.setAttribute('x', (w / 2).toFixed(1));
        if (box) note.setAttribute('transform', `translate(${(box.w - w - 10).toFixed(1)},-8)`);
      }
    });
    this.svg.classList.toggle('before-after', !!this.removed);
  }

  /** Highlights the edges touching an item. */
  private setHot(key: string | undefined): void {
    this.edgeLayer.querySelectorAll('.hot').forEach((el) => el.classList.remove('hot'));
    if (!key || !this.vis) return;
    this.edgeLayer.querySelectorAll<SVGPathElement>('path.edge').forEach((p) => {
      if (p.dataset.src === key || p.dataset.dst === key) p.classList.add('hot');
    });
  }

  // ------------------------------------------------------------------------------------------
  // Drawing

  private render(): void {
    const vis = this.vis!;
    const layout = this.layoutResult!;
    const boxOf = (k: string): Box => layout.boxes.get(k) ?? { x: 0, y: 0, w: 0, h: 0 };

    // groups, outermost first so inner frames paint over outer ones
    const groups = vis.items.filter((it) => it.kind === 'group');
    const depth = (it: VisibleItem) => this.graph.modules.get(it.moduleId!)!.depth;
    groups.sort((a, b) => depth(a) - depth(b));
    select(this.groupLayer)
      .selectAll<SVGGElement, VisibleItem>('g.group')
      .data(groups, (d) => d.key)
      .join((enter) => enter.append('g').attr('class', 'group').attr('data-key', (d) => d.key).each((d, i, nodes) => this.buildGroup(nodes[i] as SVGGElement, d)))
      .each((d, i, nodes) => this.placeGroup(nodes[i], d, boxOf(d.key)));

    // edges
    select(this.edgeLayer)
      .selectAll<SVGPathElement, VisibleEdge>('path.edge')
      .data(vis.edges, (d) => d.key)
      .join((enter) =>
        enter
          .append('path')
          .attr('class', 'edge')
          .attr('marker-end', 'url(#arrow)')
          .each((d, i, nodes) => {
            const p = nodes[i] as SVGPathElement;
            p.dataset.src = d.src;
            p.dataset.dst = d.dst;
            const title = s('title');
            title.textContent = this.edgeTitle(d);
            p.append(title);
          }),
      )
      .attr('d', (d) => roundedPath(layout.edges.get(d.key) ?? []))
      .classed('bundle', (d) => d.values.length > 1)
      .classed('broadcast', (d) => d.broadcast)
      .style('stroke-width', (d) => (d.values.length > 1 ? `${Math.min(4, 1.25 + Math.log2(d.values.length) * 0.6)}px` : null));

    // items, in reading order so Tab walks the graph top to bottom
    const items = vis.items.filter((it) => it.kind !== 'group');
    items.sort((a, b) => {
      const ba = boxOf(a.key);
      const bb = boxOf(b.key);
      return ba.y - bb.y || ba.x - bb.x;
    });
    select(this.itemLayer)
      .selectAll<SVGGElement, VisibleItem>('g.item')
      .data(items, (d) => `${d.kind}|${d.key}`)
      .join((enter) => enter.append('g').each((d, i, nodes) => this.buildItem(nodes[i] as SVGGElement, d)))
      .attr('transform', (d) => {
        const b = boxOf(d.key);
        return `translate(${b.x},${b.y})`;
      })
      .each((d, i, nodes) => this.sizeItem(nodes[i], d, boxOf(d.key)))
      .order();

    this.recolor();
    this.applyMarks();
    this.setSelected(this.selectedKey && vis.byKey.has(this.selectedKey) ? this.selectedKey : undefined);
  }

  private edgeTitle(e: VisibleEdge): string {
    const lines = e.values.slice(0, 8).map((v) => {
      const val = this.graph.values.get(v);
      return `${v}  ${formatShape(val?.shape)}${val?.dtype ? ` ${val.dtype}` : ''}`;
    });
    if (e.values.length > 8) lines.push(`… ${e.values.length - 8} more tensors`);
    return lines.join('\n');
  }

  private aria(it: VisibleItem): string {
    const l = this.label(it);
    const heat = this.heatOf(it);
    const score = heat?.own && heat.result.score !== null ? `, score ${formatScore(heat.result.score)}` : '';
    switch (it.kind) {
      case 'group': return `${l.title}, expanded module${score}. Press Enter to collapse.`;
      case 'block': return `${l.title}, ${l.sub}${score}${this.graph.expandable(it.moduleId!) ? '. Press Enter to expand.' : ''}`;
      case 'node': return `${l.title} operator, output ${l.sub}${score}`;
      case 'io': return `graph ${it.key.startsWith('i:') ? 'input' : 'output'} ${l.title}, ${l.sub}`;
    }
  }

  private buildItem(el: SVGGElement, it: VisibleItem): void {
    const l = this.label(it);
    const expandable = it.kind === 'block' && this.graph.expandable(it.moduleId!);
    el.setAttribute('class', `item ${it.kind}${expandable ? ' expandable' : ''}${it.kind === 'block' && it.node !== undefined ? ' layer' : ''}${it.kind === 'node' ? ` op-${opCategory(this.graph.nodes[it.node!].op)}` : ''}`);
    el.setAttribute('data-key', it.key);
    el.setAttribute('tabindex', '0');
    el.setAttribute('role', 'button');
    el.setAttribute('aria-label', this.aria(it));
    el.append(s('rect', { class: 'body', rx: it.kind === 'io' ? NODE_H / 2 : it.kind === 'node' ? 4 : 6 }), s('rect', { class: 'outline', rx: it.kind === 'io' ? NODE_H / 2 + 3 : 8 }));
    if (it.kind === 'node') el.append(s('rect', { class: 'stripe', x: 0, y: 0, width: 4, rx: 2 }));
    const title = s('text', { class: 'title', x: it.kind === 'io' ? 0 : it.kind === 'node' ? 12 : 12, y: it.kind === 'block' ? 19 : 15 });
    title.textContent = l.title;
    const sub = s('text', { class: 'sub', x: it.kind === 'io' ? 0 : 12, y: it.kind === 'block' ? 36 : 29 });
    sub.textContent = l.sub;
    el.append(title, sub);
    if (it.kind === 'block') el.append(s('text', { class: 'score', y: 19 }));
    if (it.kind === 'block' && it.node === undefined) el.append(s('g', { class: 'spark', 'aria-hidden': 'true' }), s('g', { class: 'inner-mark' }, s('rect', { height: 16, rx: 8 }), s('text', { y: 11.5 })));
    if (expandable) el.append(s('path', { class: 'expander', d: 'M0,0 h6 M3,-3 v6' }));
  }

  private sizeItem(el: SVGGElement, it: VisibleItem, b: Box): void {
    const body = el.querySelector('.body')!;
    body.setAttribute('width', String(b.w));
    body.setAttribute('height', String(b.h));
    const outline = el.querySelector('.outline')!;
    outline.setAttribute('x', '-3');
    outline.setAttribute('y', '-3');
    outline.setAttribute('width', String(b.w + 6));
    outline.setAttribute('height', String(b.h + 6));
    el.querySelector('.stripe')?.setAttribute('height', String(b.h));
    if (it.kind === 'io') {
      el.querySelector('.title')!.setAttribute('x', String(b.w / 2));
      el.querySelector('.sub')!.setAttribute('x', String(b.w / 2));
    }
    el.querySelector('.score')?.setAttribute('x', String(b.w - 10));
    el.querySelector('.expander')?.setAttribute('transform', `translate(${b.w - 16},${b.h - 11})`);
    this.fitText(el.querySelector('.title')!, b.w - (it.kind === 'block' ? 80 : 16), true);
    const mono = it.kind === 'node' || it.kind === 'io';
    this.fitText(el.querySelector('.sub')!, b.w - (it.kind === 'block' ? 28 : 16), false, mono ? 10.5 : 11, mono);
  }

  /** Shortens a label to `max` px with an ellipsis; the full text stays available as its tooltip. */
  private fitText(el: SVGTextElement, max: number, bold: boolean, size = FONT, mono = false): void {
    const full = el.dataset.full ?? el.textContent ?? '';
    el.dataset.full = full;
    el.textContent = full;
    if (this.textWidth(full, bold, size, mono) <= max) return;
    let lo = 0;
    let hi = full.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.textWidth(full.slice(0, mid) + '…', bold, size, mono) <= max) lo = mid;
      else hi = mid - 1;
    }
    el.textContent = full.slice(0, lo) + '…';
    const t = s('title');
    t.textContent = full;
    el.append(t);
  }

  private buildGroup(el: SVGGElement, it: VisibleItem): void {
    const l = this.label(it);
    el.append(
      s('rect', { class: 'frame', rx: 8 }),
      s('rect', { class: 'body header-bg', rx: 8 }),
      s('rect', { class: 'outline', rx: 10 }),
    );
    const header = s('g', { class: 'header', tabindex: '0', role: 'button', 'data-key': it.key, 'aria-label': this.aria(it), 'aria-expanded': 'true' });
    header.append(s('rect', { class: 'header-hit', rx: 8 }), s('path', { class: 'collapser', d: 'M0,0 h7' }));
    const title = s('text', { class: 'title', x: 28, y: 19 });
    title.textContent = l.title;
    const count = s('text', { class: 'sub', y: 19 });
    count.textContent = l.sub;
    header.append(title, count, s('text', { class: 'score', y: 19 }));
    el.append(header);
  }

  private placeGroup(el: SVGGElement, _it: VisibleItem, b: Box): void {
    el.setAttribute('transform', `translate(${b.x},${b.y})`);
    const frame = el.querySelector('.frame')!;
    frame.setAttribute('width', String(b.w));
    frame.setAttribute('height', String(b.h));
    const hb = el.querySelector('.header-bg')!;
    hb.setAttribute('width', String(b.w));
    hb.setAttribute('height', String(GROUP_HEADER));
    const outline = el.querySelector('.outline')!;
    outline.setAttribute('x', '-3');
    outline.setAttribute('y', '-3');
    outline.setAttribute('width', String(b.w + 6));
    outline.setAttribute('height', String(b.h + 6));
    const hit = el.querySelector('.header-hit')!;
    hit.setAttribute('width', String(b.w));
    hit.setAttribute('height', String(GROUP_HEADER));
    el.querySelector('.collapser')!.setAttribute('transform', `translate(11,${GROUP_HEADER / 2 - 1})`);
    const title = el.querySelector<SVGTextElement>('.title')!;
    const titleW = this.textWidth(title.textContent ?? '', true);
    const sub = el.querySelector<SVGTextElement>('.sub')!;
    sub.setAttribute('x', String(28 + titleW + 10));
    const subRoom = b.w - (28 + titleW + 10) - 72;
    sub.style.display = subRoom > 40 ? '' : 'none';
    if (subRoom > 40) this.fitText(sub, subRoom, false, 11);
    el.querySelector('.score')!.setAttribute('x', String(b.w - 10));
  }
}

export function heatState(heat: Heat | undefined): 'scored' | 'inherited' | 'unscored' | 'unmodifiable' {
  if (!heat) return 'unscored';
  if (heat.own && heat.result.modification === 'none') return 'unmodifiable';
  if (heat.result.score === null || heat.result.modification === 'none') return 'unscored';
  return heat.own ? 'scored' : 'inherited';
}

/** Broad operator families, shown as a coloured stripe on operators. */
export function opCategory(op: string): string {
  if (/^(Conv|ConvTranspose|Gemm|MatMul|MatMulInteger|QLinearConv|QLinearMatMul|Einsum)$/.test(op)) return 'linear';
  if (/Norm|^(InstanceNormalization|LayerNormalization|GroupNormalization|BatchNormalization|LpNormalization)$/.test(op)) return 'norm';
  if (/^(Relu|LeakyRelu|Sigmoid|Tanh|Gelu|Erf|Softmax|LogSoftmax|Elu|Selu|HardSigmoid|HardSwish|Mish|Softplus|PRelu)$/.test(op)) return 'activation';
  if (/^(Add|Sub|Mul|Div|Pow|Sqrt|Exp|Log|Neg|Abs|Reciprocal|Sin|Cos|Min|Max|Sum|Mean|Where|Equal|Less|Greater)$/.test(op)) return 'math';
  if (/^(Reshape|Transpose|Concat|Split|Slice|Gather|Squeeze|Unsqueeze|Flatten|Expand|Tile|Pad|Resize|Shape|Cast|Identity|Constant|ConstantOfShape|Range|ScatterND|DepthToSpace|SpaceToDepth)$/.test(op)) return 'shape';
  if (/Pool|^Reduce/.test(op)) return 'reduce';
  return 'other';
}

function shortName(id: string): string {
  const parts = id.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? id;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, x));
}

/** Orthogonal route with softened corners. */
function roundedPath(pts: Point[]): string {
  if (pts.length < 2) return '';
  const r = 6;
  let d = `M${pts[0].x},${pts[0].y}`;
  for (let i = 1; i < pts.length - 1; i++) {
    const p = pts[i];
    const a = pts[i - 1];
    const c = pts[i + 1];
    const r1 = Math.min(r, dist(a, p) / 2);
    const r2 = Math.min(r, dist(p, c) / 2);
    const p1 = toward(p, a, r1);
    const p2 = toward(p, c, r2);
    d += ` L${p1.x},${p1.y} Q${p.x},${p.y} ${p2.x},${p2.y}`;
  }
  const last = pts[pts.length - 1];
  return d + ` L${last.x},${last.y}`;
}

function dist(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

function toward(from: Point, to: Point, len: number): Point {
  const d = dist(from, to) || 1;
  return { x: from.x + ((to.x - from.x) * len) / d, y: from.y + ((to.y - from.y) * len) / d };
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

function reducedMotion(): boolean {
  return window.matchMedia?.('(prefers-reduced-motion: reduce)').matches ?? false;
}

function cssEscape(s: string): string {
  return typeof CSS !== 'undefined' && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, '\\$&');
}
