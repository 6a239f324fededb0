// The graph canvas: an SVG of the visible part of the graph (expanded groups, collapsed blocks,
// operators, graph inputs/outputs), laid out by ELK in a worker, with d3-zoom for pan/zoom.
// SVG keeps every element inspectable and focusable; at module level a U-Net is ~20 elements and
// even a deep expansion stays in the hundreds, which SVG draws without trouble.
// This class ties the layers together (layout, pointer/keyboard events, selection); each overlay
// lives in its own module under canvas/: zoom, labels and text, heat colours and sparklines, prune
// marks, item and edge SVG, aria labels.
import { select, type Selection } from 'd3';
import type { ElkNode } from 'elkjs/lib/elk-api';
import { fromElk, toElk, type Box, type Layout, type Point } from '../model/elkGraph';
import type { ViewGraph } from '../model/graph';
import type { HeatDomain } from '../model/heatmap';
import type { ScoreBook } from '../model/scores';
import { computeVisible, visibleKeyOf, type VisibleEdge, type VisibleGraph, type VisibleItem } from '../model/visible';
import type { LayoutEngine } from '../layout/layoutEngine';
import { expansionLayout } from '../layout/expansionLayout';
import { interimLayout } from '../layout/interimLayout';
import { ariaLabel } from './canvas/aria';
import { edgeTitle, edgeWidth, roundedPath } from './canvas/edges';
import { HeatOverlay, type Heat } from './canvas/heat';
import { buildGroup, buildItem, canvasDefs, placeGroup, sizeItem } from './canvas/items';
import { ItemLabels, itemSize } from './canvas/labels';
import { PruneMarks } from './canvas/marks';
import { buildStack, paintStack, sizeStack } from './canvas/stack';
import { TextMeasure } from './canvas/text';
import { CanvasZoom } from './canvas/zoom';
import { s } from './dom';

export { heatState, type Heat } from './canvas/heat';
export { opCategory } from './canvas/items';

/**
 * How long an expansion waits for ELK's layout before it is drawn from an interim one
 * (expansionLayout.ts). Measured on SD-1.5 (bench/webview.ts, 2 loaded cores): with 100 ms the
 * clicks that went interim took 160-200 ms to their frame (the wait, the interim layout, drawing
 * it, and the frame), at the edge of the 200 ms an expansion may take; at 50 ms they stay well
 * inside it on a loaded machine. Shorter would draw an interim picture, replaced a blink later, for
 * the layouts ELK delivers quickly (cached or prefetched ones are drawn at once anyway: a small
 * expansion once ELK is warm, a prefetch in flight that is nearly done).
 */
const INTERIM_AFTER_MS = 50;

const LATE = Symbol('late');

export interface CanvasCallbacks {
  /**
   * click / Enter / Space on an item (group headers included). On a stack: `member` when a cell of its
   * strip was clicked; 'body' for a click elsewhere on it; 'pointer' for a double-click or its + button.
   */
  activate(item: VisibleItem, how: 'pointer' | 'keyboard' | 'body', member?: string): void;
  /** hover in/out, for the tooltip (`member`: the stack cell under the pointer) */
  hover(item: VisibleItem | null, at?: { x: number; y: number }, member?: string): void;
  /** click on empty canvas */
  clearSelection(): void;
  laidOut?(info: { items: number; edges: number; ms: number }): void;
}

export class GraphCanvas {
  readonly svg: SVGSVGElement;
  private groupLayer: SVGGElement;
  private edgeLayer: SVGGElement;
  private itemLayer: SVGGElement;
  private pulseLayer: SVGGElement;
  private zoom: CanvasZoom;
  private vis: VisibleGraph | undefined;
  private layoutResult: Layout | undefined;
  private labels: ItemLabels;
  private readonly text = new TextMeasure();
  private readonly heat: HeatOverlay;
  private readonly marks: PruneMarks;
  private selectedKey: string | undefined;
  private selectedMember: string | undefined;
  private openStacks: ReadonlySet<string> = new Set();
  private hasLaidOut = false;
  /** counts show(), showExpansion() and redraw() calls: a layout that arrives after a newer call draws nothing */
  private showSeq = 0;
  /**
   * After setGraph(): what each drawn item, group and edge showed (by its key in the new graph),
   * so that the next render builds again only those whose content the edit changed.
   */
  private before: Map<string, string> | undefined;
  /**
   * What each element was last placed and sized with (its box, an edge's path): a redraw skips the
   * elements whose place did not change. Setting an SVG attribute invalidates its layout even when
   * the value is the same, and sizing rewrites every label, so re-placing every item on each
   * expansion made the browser lay the whole drawing out again.
   */
  private readonly placed = new WeakMap<Element, string>();

  constructor(
    host: HTMLElement,
    private graph: ViewGraph,
    private readonly scores: ScoreBook,
    private readonly engine: LayoutEngine,
    private readonly cb: CanvasCallbacks,
  ) {
    this.labels = new ItemLabels(graph);
    this.heat = new HeatOverlay(graph, scores);
    this.marks = new PruneMarks(graph);
    this.svg = s('svg', { class: 'graph', role: 'group', 'aria-label': 'Model graph' });
    const viewport = s('g', { class: 'viewport' });
    this.groupLayer = s('g', { class: 'groups' });
    this.edgeLayer = s('g', { class: 'edges' });
    this.itemLayer = s('g', { class: 'items' });
    this.pulseLayer = s('g', { class: 'pulses', 'aria-hidden': 'true' });
    viewport.append(this.groupLayer, this.edgeLayer, this.itemLayer, this.pulseLayer);
    this.svg.append(canvasDefs(), viewport);
    host.append(this.svg);
    this.zoom = new CanvasZoom(this.svg, viewport, host);
    this.listen();
  }

  get visible(): VisibleGraph | undefined {
    return this.vis;
  }

  private listen(): void {
    this.svg.addEventListener('click', (e) => {
      const key = this.keyAt(e.target);
      if (!key) {
        this.cb.clearSelection();
        return;
      }
      const it = this.vis?.byKey.get(key);
      if (!it) return;
      if (it.kind === 'stack') {
        const member = memberAt(e.target);
        if (member) return this.cb.activate(it, 'pointer', member);
        return this.cb.activate(it, (e.target as Element).closest('.expander') ? 'pointer' : 'body');
      }
      // a group collapses from its header; a click elsewhere on its frame only selects it
      const onHeader = !!(e.target as Element).closest('.header');
      this.cb.activate(it, it.kind === 'group' && !onHeader ? 'body' : 'pointer');
    });
    // a stack opens into its blocks on a double-click (a single click selects it or one of its blocks)
    this.svg.addEventListener('dblclick', (e) => {
      const key = this.keyAt(e.target);
      const it = key ? this.vis?.byKey.get(key) : undefined;
      if (it?.kind === 'stack') this.cb.activate(it, 'pointer');
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
      const b = key ? this.layoutResult?.boxes.get(key) : undefined;
      if (b) this.zoom.ensureVisible(b);
    });
    this.svg.addEventListener('mouseover', (e) => {
      const key = this.keyAt(e.target);
      const it = key ? this.vis?.byKey.get(key) : undefined;
      this.setHot(key);
      this.cb.hover(it ?? null, { x: e.clientX, y: e.clientY }, memberAt(e.target));
    });
    this.svg.addEventListener('mousemove', (e) => {
      const key = this.keyAt(e.target);
      if (key) this.cb.hover(this.vis?.byKey.get(key) ?? null, { x: e.clientX, y: e.clientY }, memberAt(e.target));
    });
    this.svg.addEventListener('mouseleave', () => {
      this.setHot(this.selectedKey);
      this.cb.hover(null);
    });
  }

  private keyAt(target: EventTarget | null): string | undefined {
    const el = (target as Element | null)?.closest?.('[data-key]');
    return el?.getAttribute('data-key') ?? undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Layout and view

  /**
   * Shows the graph with `expanded` modules open. `anchor` (an item key) stays where it was on
   * screen, so the block the user clicked does not jump away.
   */
  async show(expanded: ReadonlySet<string>, anchor?: string): Promise<boolean> {
    this.showSeq++;
    const t0 = performance.now();
    const { vis, elkGraph } = this.visibleNow(expanded);
    const t1 = performance.now();
    const laid = await this.engine.layout(elkGraph);
    if (!laid) return false; // superseded
    const t2 = performance.now();
    performance.measure('ld:layout', { start: t1, end: t2 });
    this.draw(vis, fromElk(laid), anchor);
    performance.measure('ld:render', { start: t2, end: performance.now() });
    this.cb.laidOut?.({ items: vis.items.length, edges: vis.edges.length, ms: performance.now() - t0 });
    return true;
  }

  /**
   * Shows the graph with `expanded` open, `opened` (an item key: the block just expanded) among
   * them: ELK's layout when it is cached or ready within INTERIM_AFTER_MS, else at once an interim
   * layout (expansionLayout.ts: the block's contents inside its group where the block was, the rest
   * pushed out of its way) and ELK's in its place when it is ready. `anchor` stays where it was on
   * screen both times. Resolves undefined when something newer was shown before this was drawn;
   * `settled` resolves true once ELK's layout is drawn (at once when no interim one was), false
   * when something newer was laid out meanwhile.
   */
  async showExpansion(expanded: ReadonlySet<string>, anchor: string, opened: string): Promise<{ interim: boolean; settled: Promise<boolean> } | undefined> {
    const seq = ++this.showSeq;
    const t0 = performance.now();
    const { vis, elkGraph } = this.visibleNow(expanded);
    const t1 = performance.now();
    const shown = this.layoutResult;
    const pending = this.engine.layout(elkGraph);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = shown
      ? await Promise.race([pending, new Promise<typeof LATE>((res) => (timer = setTimeout(() => res(LATE), INTERIM_AFTER_MS)))])
      : await pending;
    clearTimeout(timer);
    if (seq !== this.showSeq) return undefined;
    const interim = first === LATE ? expansionLayout(elkGraph, shown!, opened) : undefined;
    const laid = first === LATE ? (interim ?? (await pending)) : first;
    if (!laid || seq !== this.showSeq) return undefined;
    const t2 = performance.now();
    performance.measure('ld:layout', { start: t1, end: t2 });
    this.draw(vis, fromElk(laid), anchor);
    performance.measure('ld:render', { start: t2, end: performance.now() });
    this.cb.laidOut?.({ items: vis.items.length, edges: vis.edges.length, ms: performance.now() - t0 });
    if (!interim) return { interim: false, settled: Promise.resolve(true) };
    const settled = pending.then((elk) => {
      if (!elk || seq !== this.showSeq) return false;
      this.draw(vis, fromElk(elk), anchor);
      return true;
    }, () => false);
    return { interim: true, settled };
  }

  private visibleNow(expanded: ReadonlySet<string>) {
    const vis = computeVisible(this.graph, expanded, this.openStacks);
    this.labels.clear();
    const elkGraph = toElk(vis, (it) => itemSize(it, this.labels.of(it), this.text, this.graph));
    return { vis, elkGraph };
  }

  /**
   * The ELK input show() would lay out with `expanded` open, without drawing anything: the view
   * lays likely next expansions out ahead (LayoutEngine.prefetch) under the very key show() uses.
   */
  layoutInput(expanded: ReadonlySet<string>): ElkNode {
    const vis = computeVisible(this.graph, expanded, this.openStacks);
    return toElk(vis, (it) => itemSize(it, this.labels.of(it), this.text, this.graph));
  }

  /** Draws `layout` of `vis`; `anchor` (an item key) stays where it was on screen. */
  private draw(vis: VisibleGraph, layout: Layout, anchor?: string): void {
    const anchorBefore = anchor ? this.layoutResult?.boxes.get(anchor) : undefined;
    const before = anchorBefore ? this.zoom.toScreen(anchorBefore) : undefined;
    this.vis = vis;
    this.layoutResult = layout;
    this.render();
    if (!this.hasLaidOut) {
      this.hasLaidOut = true;
      this.fit(false);
    } else if (anchor && before) {
      const b = layout.boxes.get(anchor);
      if (b) this.zoom.keepAnchor(b, before);
    }
  }

  /**
   * The model changed under the view (an edit, undo or redo). Nothing is drawn yet (redraw() does):
   * the items drawn keep their elements and places, their keys moved to the edited graph's (an
   * operator's key is its node index, which an edit shifts); an operator the edit removed is gone.
   */
  setGraph(next: ViewGraph): void {
    const prev = this.graph;
    const oldLabels = this.labels;
    this.graph = next;
    this.labels = new ItemLabels(next);
    this.heat.setGraph(next);
    this.marks.setGraph(next);
    const vis = this.vis;
    const layout = this.layoutResult;
    if (!vis || !layout) return;
    const rekey = (key: string): string | undefined => {
      if (!key.startsWith('n:')) return key;
      const i = next.nodeIndex.get(prev.nodes[Number(key.slice(2))]?.id ?? '\0');
      return i === undefined ? undefined : `n:${i}`;
    };
    const before = new Map<string, string>();
    const boxes = new Map<string, Box>();
    for (const [k, b] of layout.boxes) {
      const nk = rekey(k);
      if (nk) boxes.set(nk, b);
    }
    const edges = new Map<string, Point[]>();
    const edgeKeys = new Map<string, VisibleEdge>();
    for (const e of vis.edges) {
      const src = rekey(e.src);
      const dst = rekey(e.dst);
      if (!src || !dst) continue;
      const moved: VisibleEdge = { ...e, key: `${src}>${dst}`, src, dst };
      edgeKeys.set(e.key, moved);
      const route = layout.edges.get(e.key);
      if (route) edges.set(moved.key, route);
      before.set(`e|${moved.key}`, edgeTitle(prev, e));
    }
    this.layoutResult = { ...layout, boxes, edges };
    const items = (sel: Selection<SVGGElement, VisibleItem, SVGGElement, unknown>) =>
      sel.each((d, i, nodes) => {
        const key = rekey(d.key);
        const el = nodes[i];
        if (!key) return void el.remove();
        before.set(`${d.kind}|${key}`, this.contentOf(d, prev, oldLabels));
        if (key === d.key) return;
        const moved: VisibleItem = { ...d, key, ...(d.node !== undefined ? { node: Number(key.slice(2)) } : {}) };
        select(el).datum(moved);
        el.setAttribute('data-key', key);
      });
    items(select(this.itemLayer).selectAll<SVGGElement, VisibleItem>('g.item'));
    items(select(this.groupLayer).selectAll<SVGGElement, VisibleItem>('g.group'));
    select(this.edgeLayer).selectAll<SVGPathElement, VisibleEdge>('path.edge').each((d, i, nodes) => {
      const moved = edgeKeys.get(d.key);
      const el = nodes[i];
      if (!moved) return void el.remove();
      if (moved.key === d.key) return;
      select(el).datum(moved);
      el.dataset.src = moved.src;
      el.dataset.dst = moved.dst;
    });
    if (this.selectedKey) this.selectedKey = rekey(this.selectedKey);
    this.before = before;
  }

  /** What an item's element shows that the graph decides (its score and marks are painted over it). */
  private contentOf(d: VisibleItem, g: ViewGraph, labels: ItemLabels): string {
    const l = labels.of(d);
    const own = d.kind === 'node' ? g.nodes[d.node!] : d.node !== undefined ? g.nodes[d.node] : undefined;
    const extra = d.kind === 'stack' ? g.stackById.get(d.stackId!)?.members.join(',') : d.kind === 'block' ? String(g.expandable(d.moduleId!)) : '';
    return [l.title, l.sub, own?.id ?? '', own?.op ?? '', extra ?? ''].join('\0');
  }

  /**
   * Draws the graph after setGraph(): ELK's layout at once when it is cached (an undo to a state
   * laid out before is exact), else an interim layout from what is on screen (interimLayout.ts) and
   * ELK's in its place when it is ready. `interim` says which was drawn; `settled` resolves true
   * once ELK's layout is drawn, false when something newer (an expansion) was laid out meanwhile.
   * The selected item stays where it is on screen when ELK's layout is drawn.
   */
  redraw(expanded: ReadonlySet<string>): { interim: boolean; settled: Promise<boolean> } {
    this.showSeq++;
    const { vis, elkGraph } = this.visibleNow(expanded);
    const hit = this.engine.cached(elkGraph);
    const shown = this.layoutResult;
    if (hit || !shown) {
      if (hit) this.draw(vis, fromElk(hit), this.selectedKey);
      return { interim: false, settled: hit ? Promise.resolve(true) : this.show(expanded) };
    }
    this.draw(vis, fromElk(interimLayout(elkGraph, shown)));
    const settled = this.engine.layout(elkGraph).then((laid) => {
      // a provisional layout (ELK still cold) is replaced through LayoutEngine.onRefined instead
      if (!laid || this.vis !== vis || this.engine.provisional) return false;
      this.draw(vis, fromElk(laid), this.selectedKey);
      return true;
    });
    return { interim: true, settled };
  }

  /**
   * Runs, without drawing or changing anything, the pure part of what redraw() and render() compute
   * after an edit (the visible graph, its ELK input, an interim layout from the one shown, what each
   * drawn item and edge shows), so that V8 has optimised it before the first edit (app.ts warms the
   * edit path while the view is idle). Labels it measures are the ones the graph shown has anyway.
   */
  warmRedraw(expanded: ReadonlySet<string>): void {
    const shown = this.layoutResult;
    const vis = this.vis;
    if (!shown || !vis) return;
    fromElk(interimLayout(this.layoutInput(expanded), shown));
    for (const d of vis.items) this.contentOf(d, this.graph, this.labels);
    for (const e of vis.edges) edgeTitle(this.graph, e);
  }

  /** Fits the whole graph (never zooming in past 100%). */
  fit(animate = true): void {
    const l = this.layoutResult;
    if (!l) return;
    this.zoom.fitBox({ x: 0, y: 0, w: l.width, h: l.height }, animate, 1);
  }

  zoomBy(factor: number): void {
    this.zoom.zoomBy(factor);
  }

  /** Centres an item (zooming in to a readable scale if needed) and pulses it. */
  reveal(key: string, pulse = true): void {
    const b = this.layoutResult?.boxes.get(key);
    if (!b) return;
    this.zoom.reveal(b);
    if (pulse) this.pulse(b);
  }

  private pulse(b: Box): void {
    const ring = s('rect', { class: 'pulse', x: b.x - 6, y: b.y - 6, width: b.w + 12, height: b.h + 12, rx: 10 });
    this.pulseLayer.append(ring);
    setTimeout(() => ring.remove(), 2400);
  }

  /** The stacks drawn block by block from the next show() on; the others draw compactly. */
  setOpenStacks(ids: ReadonlySet<string>): void {
    this.openStacks = new Set(ids);
  }

  /** Key of the item showing a module, node or stack in the current view. */
  keyFor(target: { module?: string; node?: number; stack?: string }): string | undefined {
    return this.vis ? visibleKeyOf(this.graph, this.vis, target) : undefined;
  }

  focusItem(key: string): void {
    // a group's outer element carries the key too; its header is what takes focus
    const el = this.svg.querySelector<SVGGElement>(`[data-key="${cssEscape(key)}"][tabindex]`);
    el?.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------------------------------
  // Overlays

  setHeat(domain: HeatDomain | null): void {
    this.heat.setDomain(domain);
    this.recolor();
  }

  heatOf(it: VisibleItem): Heat | undefined {
    return this.heat.of(it);
  }

  /** Re-applies score colours without a new layout (scores stream in while the user browses). */
  recolor(): void {
    if (!this.vis) return;
    const paint = (el: SVGGElement) => {
      const key = el.getAttribute('data-key')!;
      const it = this.vis!.byKey.get(key);
      if (it) this.heat.paint(el, it, this.layoutResult?.boxes.get(key));
    };
    this.itemLayer.querySelectorAll<SVGGElement>('g.item').forEach(paint);
    this.groupLayer.querySelectorAll<SVGGElement>('g.group').forEach(paint);
    this.paintStacks();
  }

  /** The strips of the compact stacks: each member's score colour and prune marks. */
  private paintStacks(): void {
    this.itemLayer.querySelectorAll<SVGGElement>('g.item.stack').forEach((el) => {
      const st = this.graph.stackById.get(this.vis?.byKey.get(el.getAttribute('data-key')!)?.stackId ?? '');
      if (!st) return;
      paintStack(el, st, (m) => {
        const result = this.scores.get(m);
        return { result, fill: this.heat.fillOf(result?.score), ...this.marks.stateOf(m) };
      }, this.selectedMember);
    });
  }

  /** The stack member shown as selected in its strip (the inspector's module), if any. */
  setSelectedMember(id: string | undefined): void {
    // painted again even when unchanged: setSelected() clears every .selected, the cell's too
    this.selectedMember = id;
    this.paintStacks();
  }

  setSelected(key: string | undefined): void {
    this.selectedKey = key;
    this.svg.querySelectorAll('.selected').forEach((el) => el.classList.remove('selected'));
    if (key) this.svg.querySelector(`[data-key="${cssEscape(key)}"]`)?.classList.add('selected');
    this.setHot(key);
  }

  /** Candidates currently selected for pruning (drawn with a dashed outline). */
  setMarked(ids: ReadonlySet<string>): void {
    this.marks.setMarked(ids);
    this.applyMarks();
  }

  /** Module/node ids removed by the last prune; null leaves before/after mode. */
  setRemoved(ids: ReadonlySet<string> | null): void {
    this.marks.setRemoved(ids);
    this.applyMarks();
  }

  private applyMarks(): void {
    if (this.vis) this.marks.apply(this.svg, this.vis, this.layoutResult, this.text);
    this.paintStacks();
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

  /** After setGraph(): the elements whose content the edit changed go, so that render builds them again. */
  private dropChanged(vis: VisibleGraph): void {
    const before = this.before!;
    this.before = undefined;
    const stale = (el: Element, kind: string, key: string | null, now: () => string) => {
      const was = before.get(`${kind}|${key}`);
      if (was !== undefined && was !== now()) el.remove();
    };
    for (const el of [...this.itemLayer.children, ...this.groupLayer.children]) {
      const key = el.getAttribute('data-key');
      const d = key ? vis.byKey.get(key) : undefined;
      if (d) stale(el, d.kind, key, () => this.contentOf(d, this.graph, this.labels));
    }
    const edges = new Map(vis.edges.map((e) => [e.key, e]));
    for (const el of [...this.edgeLayer.children] as SVGPathElement[]) {
      const e = edges.get(`${el.dataset.src}>${el.dataset.dst}`);
      if (e) stale(el, 'e', e.key, () => edgeTitle(this.graph, e));
    }
  }

  /** Whether `el` is to be placed anew: `sig` (its box or path) differs from what it was placed with. */
  private moved(el: Element, sig: string): boolean {
    if (this.placed.get(el) === sig) return false;
    this.placed.set(el, sig);
    return true;
  }

  /**
   * Takes keyboard focus off an element this render is about to remove (an expanded block's item,
   * replaced by its group; a collapsed group), while the document is still clean: removing the
   * focused element from a drawing the join had already changed made the browser recompute focus
   * and style over all of it (~27 ms per expansion of SD-1.5 under load). The app puts focus on the
   * block's new element afterwards when the user expanded it with the keyboard.
   */
  private releaseFocus(vis: VisibleGraph): void {
    const active = document.activeElement;
    if (!(active instanceof SVGElement) || !this.svg.contains(active)) return;
    const holder = active.closest<SVGGElement>('g.item, g.group');
    const d = holder ? select<SVGGElement, VisibleItem | undefined>(holder).datum() : undefined;
    if (d && vis.byKey.get(d.key)?.kind === d.kind) return; // it stays
    active.blur();
  }

  private render(): void {
    const vis = this.vis!;
    const layout = this.layoutResult!;
    this.releaseFocus(vis);
    if (this.before) this.dropChanged(vis);
    const boxOf = (k: string): Box => layout.boxes.get(k) ?? { x: 0, y: 0, w: 0, h: 0 };
    const aria = (it: VisibleItem) => ariaLabel(this.graph, it, this.labels.of(it), this.heat.of(it));

    // groups, outermost first so inner frames paint over outer ones
    const groups = vis.items.filter((it) => it.kind === 'group');
    const depth = (it: VisibleItem) => this.graph.modules.get(it.moduleId!)!.depth;
    groups.sort((a, b) => depth(a) - depth(b));
    select(this.groupLayer)
      .selectAll<SVGGElement, VisibleItem>('g.group')
      .data(groups, (d) => d.key)
      .join((enter) => enter.append('g').attr('class', 'group').attr('data-key', (d) => d.key).each((d, i, nodes) => buildGroup(nodes[i] as SVGGElement, d, this.labels.of(d), aria(d))))
      .each((d, i, nodes) => {
        const b = boxOf(d.key);
        if (this.moved(nodes[i], boxSig(b))) placeGroup(nodes[i], b, this.text);
      });

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
            title.textContent = edgeTitle(this.graph, d);
            p.append(title);
          }),
      )
      .each((d, i, nodes) => {
        const p = nodes[i];
        const path = roundedPath(layout.edges.get(d.key) ?? []);
        if (!this.moved(p, path)) return;
        p.setAttribute('d', path);
        p.classList.toggle('bundle', d.values.length > 1);
        p.classList.toggle('broadcast', d.broadcast);
        const w = edgeWidth(d.values.length);
        if (w) p.style.strokeWidth = w;
        else p.style.removeProperty('stroke-width');
      });

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
      .join((enter) =>
        enter.append('g').each((d, i, nodes) =>
          d.kind === 'stack' ? buildStack(nodes[i] as SVGGElement, d, this.graph.stackById.get(d.stackId!)!, this.labels.of(d), aria(d)) : buildItem(nodes[i] as SVGGElement, d, {
            label: this.labels.of(d),
            aria: aria(d),
            expandable: d.kind === 'block' && this.graph.expandable(d.moduleId!),
            op: d.kind === 'node' ? this.graph.nodes[d.node!].op : undefined,
            context: editContext(d, this.graph),
          }),
        ),
      )
      .each((d, i, nodes) => {
        const el = nodes[i];
        const b = boxOf(d.key);
        if (!this.moved(el, boxSig(b))) return;
        el.setAttribute('transform', `translate(${b.x},${b.y})`);
        if (d.kind === 'stack') sizeStack(el, b, this.text);
        else sizeItem(el, d, b, this.text);
      })
      .order();

    this.recolor();
    this.applyMarks();
    this.setSelected(this.selectedKey && vis.byKey.has(this.selectedKey) ? this.selectedKey : undefined);
  }
}

function boxSig(b: Box): string {
  return `${b.x},${b.y},${b.w},${b.h}`;
}

function memberAt(target: EventTarget | null): string | undefined {
  return (target as Element | null)?.closest?.('[data-member]')?.getAttribute('data-member') ?? undefined;
}

function cssEscape(s: string): string {
  return typeof CSS !== 'undefined' && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, '\\$&');
}

/** The webview context-menu data of an item: modules get the block edits, nodes the node edits. */
function editContext(d: VisibleItem, g: ViewGraph): Record<string, string | boolean> | undefined {
  const nodeId = d.node !== undefined ? g.nodes[d.node].id : undefined;
  if (d.kind === 'block') return { webviewSection: 'module', moduleId: d.moduleId!, ...(nodeId ? { nodeId } : {}), preventDefaultContextMenuItems: true };
  if (d.kind === 'node' && nodeId) return { webviewSection: 'node', nodeId, preventDefaultContextMenuItems: true };
  return undefined;
}
