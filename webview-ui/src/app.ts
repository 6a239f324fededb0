// The webview application: owns the view state (expanded modules, selection, prune selection,
// budget), applies host messages to it, and keeps canvas, panels and host in step.
import {
  RequestTracker,
  WEBVIEW_PROTOCOL_VERSION,
  type CandidateResult,
  type GraphIndex,
  type FromWebview,
  type SelectionBudget,
  type ToWebview,
  type WeightStats,
} from '../../src/protocol/webview';
import { applyGraphIndexPatch, type GraphIndexPatch } from '../../src/core/graph/index-patch';
import { predictSavings, rankCandidates, selectForBudget, toggleCandidate, type AncestorsOf } from './model/budget';
import { ViewGraph } from './model/graph';
import { heatDomain, heatScale, type HeatDomain } from './model/heatmap';
import { warmPatchPath } from './model/patchWarmUp';
import { ScoreBook, isPrunable } from './model/scores';
import { buildSearchIndex, type SearchEntry } from './model/search';
import { selectStackLowest } from './model/stackSelection';
import { stackKey } from './model/stacks';
import { moduleKey, type VisibleItem } from './model/visible';
import { LayoutEngine } from './layout/layoutEngine';
import { button, clear, h } from './view/dom';
import { GraphCanvas } from './view/graphView';
import { Inspector, type InspectTarget } from './view/inspector';
import { Legend } from './view/legend';
import { PrunesPanel, type CalibrationMsg, type PruneResultMsg } from './view/prunesPanel';
import { Toolbar } from './view/toolbar';
import { Tooltip } from './view/tooltip';

export interface HostChannel {
  post(msg: FromWebview): void;
  getState(): unknown;
  setState(state: unknown): void;
}

interface Persisted {
  modelPath: string;
  expanded: string[];
  /** depth stacks opened block by block (the others draw compactly) */
  openStacks?: string[];
  target?: InspectTarget;
  selected: string[];
  budget: SelectionBudget;
  budgetDriven: boolean;
  /** the last prune's result card (checks, speed-up): it must survive a window reload */
  result?: PruneResultMsg;
}

type InitMsg = Extract<ToWebview, { type: 'init' }>;

/** Expansions laid out ahead after each layout (SD's module level shows 10 expandable blocks, a block ≤ 6 inside). */
const PREFETCH_MAX = 10;
/** Warm-up runs of the edit path at most (see warmPatchPathWhenIdle), and the run time (ms) that ends them early. */
const WARM_PATCH_RUNS = 8;
const WARM_PATCH_FAST_MS = 12;
/** How long the view must have drawn nothing new before a warm-up run (ms). */
const WARM_PATCH_QUIET_MS = 600;

export class App {
  private graph!: ViewGraph;
  /** the index shown, kept for the patches that follow edits */
  private index: GraphIndex | undefined;
  private lastInit: InitMsg | undefined;
  private scores = new ScoreBook();
  private expanded = new Set<string>();
  private openStacks = new Set<string>();
  private target: InspectTarget | undefined;
  private selected = new Set<string>();
  private budget: SelectionBudget = { metric: 'latency', percent: 20 };
  private budgetDriven = true;
  private budgetReached = true;
  private domain: HeatDomain | null = null;
  private scoring: { state: string; done?: number; total?: number; message?: string } = { state: 'idle' };
  private pruning = false;
  private result: PruneResultMsg | undefined;
  private showRemoved = true;
  private distill: { state: string; message?: string; outputPath?: string } | undefined;
  private measuring: { state: string; message?: string } | undefined;
  private calibration: CalibrationMsg | undefined;
  private modelCheck: { msg: Extract<ToWebview, { type: 'modelCheck' }>; stale: boolean } | undefined;
  private stats = new RequestTracker<WeightStats>(120_000);
  private engine = new LayoutEngine();
  private modelPath = '';

  private canvas!: GraphCanvas;
  private toolbar!: Toolbar;
  private inspector!: Inspector;
  private prunes!: PrunesPanel;
  private legend!: Legend;
  private tooltip!: Tooltip;
  /** the search index of the graph shown, built on the first search */
  private entries: SearchEntry[] | undefined;
  /** counts patches: a patch's ELK layout that arrives after a newer one (or an init) marks nothing */
  private patchSeq = 0;
  private ancestorsCache = new Map<string, string[]>();
  /** the block whose expansion the pointer asked to lay out ahead (once per block per layout) */
  private hoverPrefetched: string | undefined;
  private panelQueued = false;
  /** whether the first paint's ELK layout has been drawn (ld:settled) */
  private firstSettled = false;
  /** counts expansions: an interim expansion's ELK layout drawn after a newer one marks nothing */
  private expandSeq = 0;
  /** patches applied in this page (the edit path's warm-up stops at the first) */
  private patchesApplied = 0;
  /** when the view last started or finished drawing a change (an expansion, collapse, edit) */
  private lastRedrawAt = 0;
  /** whether the edit path was warmed in this page (warmPatchPathWhenIdle) */
  private patchPathWarm = false;
  private saveQueued = false;

  constructor(private readonly root: HTMLElement, private readonly host: HostChannel) {
    // the layout worker compiles while the host is still reading the model
    this.engine.warmUp();
    this.engine.onRefined = () => void this.refineLayout();
    document.addEventListener('keydown', (e) => {
      if (this.graph) this.onGlobalKey(e);
    });
  }

  ready(): void {
    this.host.post({ type: 'ready', protocolVersion: WEBVIEW_PROTOCOL_VERSION });
  }

  handle(msg: ToWebview): void {
    switch (msg.type) {
      case 'init':
        // a new graph is an edit, undo or redo: a check of the model before it no longer applies
        if (this.modelCheck) this.modelCheck.stale = true;
        return void this.init(msg).catch((e: unknown) => this.fail(e));
      case 'patch':
        if (this.modelCheck) this.modelCheck.stale = true;
        return void this.applyPatch(msg.patch).catch((e: unknown) => this.fail(e));
      case 'scores': return this.onScores(msg.results, msg.reset);
      case 'scoringState':
        this.scoring = { state: msg.state, done: msg.done, total: msg.total, message: msg.message };
        this.toolbar?.setScoring(msg.state, msg.done, msg.total, msg.message);
        return this.queuePanels();
      case 'weightStats':
        if (msg.stats) this.stats.settle(msg.requestId, msg.stats);
        else this.stats.settleError(msg.requestId, new Error(msg.error ?? 'no statistics'));
        return;
      case 'pruneResult':
        this.pruning = false;
        this.result = msg;
        this.measuring = undefined;
        this.showRemoved = msg.ok && msg.removedIds.length > 0;
        this.canvas?.setRemoved(this.showRemoved ? new Set(msg.removedIds) : null);
        this.persist();
        return this.queuePanels();
      case 'modelCheck':
        // an edit made while the check ran: its result is of the model before that edit
        this.modelCheck = { msg, stale: msg.state === 'done' && this.modelCheck?.msg.state === 'running' && this.modelCheck.stale };
        return this.queuePanels();
      case 'calibration':
        this.calibration = { fit: msg.fit, note: msg.note };
        return this.queuePanels();
      case 'pruneState':
        this.pruning = msg.state === 'running';
        return this.queuePanels();
      case 'distillState':
        this.distill = { state: msg.state, message: msg.message, outputPath: msg.outputPath };
        return this.queuePanels();
      case 'qualityState':
        // only the card of the prune that wrote this pipeline shows it
        if (this.result?.outputPipeline !== msg.pipeline) return;
        this.measuring = { state: msg.state, message: msg.message };
        if (msg.state === 'done' && msg.quality) {
          this.result = { ...this.result, quality: msg.quality };
          this.persist();
        }
        return this.queuePanels();
      case 'reveal':
        return void this.jumpTo({ module: msg.moduleId });
      case 'selectStackLowest': {
        // the graph's context menu asked for k (the host validated it against the same index)
        const why = this.graph ? this.stackLowest(msg.stackId, msg.k) : 'the graph is not shown yet';
        if (why) this.host.post({ type: 'reportError', message: `Prune the k lowest of ${msg.stackId}: ${why}` });
        return;
      }
      case 'selectionBudget':
        return this.setBudget({ metric: msg.metric, percent: msg.percent });
      case 'loadError':
        return this.showLoadError(msg.modelName, msg.message);
    }
  }

  /** A graph that cannot be shown says why, in the view, instead of spinning forever. */
  private fail(e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.host.post({ type: 'reportError', message: `cannot show the graph: ${message}`, stack: e instanceof Error ? e.stack : undefined });
    clear(this.root);
    this.root.removeAttribute('data-loading');
    this.root.append(h('div', { class: 'app-error', role: 'alert' }, h('h2', null, 'Cannot show this graph'), h('p', null, message)));
  }

  /** The file could not be read: the reader's message, and Reopen to read it again once it is fixed. */
  private showLoadError(modelName: string, message: string): void {
    clear(this.root);
    this.root.removeAttribute('data-loading');
    const reopen = button({
      label: 'Reopen', icon: ['refresh', '↻'], kind: 'primary', title: `Read ${modelName} again`,
      onClick: () => {
        reopen.disabled = true;
        this.host.post({ type: 'reopen' });
      },
    });
    this.root.append(h('div', { class: 'app-error', role: 'alert', 'data-load-error': 'true' },
      h('h2', null, `Cannot read ${modelName}`), h('p', null, message), reopen));
  }

  dispose(): void {
    this.stats.rejectAll('the view was closed');
    this.engine.dispose();
  }

  // ------------------------------------------------------------------------------------------

  private async init(msg: InitMsg): Promise<void> {
    performance.mark('ld:init');
    if (msg.theme) applyTheme(msg.theme);
    const t0 = performance.now();
    this.index = msg.graph ?? (JSON.parse(msg.graphJson!) as GraphIndex);
    this.graph = new ViewGraph(this.index);
    performance.measure('ld:index', { start: t0, end: performance.now() });
    this.lastInit = msg;
    this.modelPath = msg.modelPath;
    this.entries = undefined;
    this.patchSeq++;
    this.ancestorsCache.clear();
    this.restore(msg.modelPath);
    this.buildDom(msg);
    this.root.removeAttribute('data-loading');
    await this.canvas.show(this.expanded);
    this.syncSelection(false);
    this.renderPanels();
    const provisional = this.engine.provisional;
    requestAnimationFrame(() => {
      performance.mark('ld:first-paint');
      performance.measure('ld:first-paint', 'ld:init', 'ld:first-paint');
      this.root.dataset.ready = 'true';
      if (!provisional) this.layoutSettled();
    });
  }

  /**
   * The model changed (an edit, undo, redo): the index is patched and the graph redrawn in place —
   * the same canvas (zoom, pan), the blocks the user had open and the selection where they still
   * exist. What is drawn at once is ELK's layout when it is cached (an undo), else an interim one
   * from the layout on screen, which ELK's replaces when ready (`data-layout` goes from
   * "provisional" to "settled"). A patch that does not fit the index shown (a view that missed a
   * change) asks the host for the whole index instead.
   */
  private async applyPatch(patch: GraphIndexPatch): Promise<void> {
    if (!this.index || !this.lastInit) return this.ready();
    performance.mark('ld:patch');
    this.lastRedrawAt = performance.now();
    this.patchesApplied++;
    const t0 = performance.now();
    let next: GraphIndex;
    try {
      next = applyGraphIndexPatch(this.index, patch);
    } catch (e) {
      this.host.post({ type: 'reportError', message: `the graph view missed a change and reloads the graph: ${(e as Error).message}` });
      return this.ready();
    }
    const prev = this.graph;
    const seq = ++this.patchSeq;
    // the shown graph's entries the patch did not touch are reused, not built again
    this.graph = prev ? ViewGraph.patched(prev, this.index, patch, next) : new ViewGraph(next);
    this.index = next;
    this.entries = undefined;
    this.ancestorsCache.clear();
    this.expanded = new Set([...this.expanded].filter((id) => this.graph.modules.has(id)));
    this.openStacks = new Set([...this.openStacks].filter((id) => this.graph.stackById.has(id)));
    this.target = this.retarget(this.target, prev);
    // where an edit's redraw goes (bench/webview.ts reports these beside the whole)
    const t1 = performance.now();
    performance.measure('ld:patch:model', { start: t0, end: t1 });
    this.toolbar.setGraph(this.graph, this.searchEntries);
    this.tooltip.setGraph(this.graph);
    this.canvas.setGraph(this.graph);
    this.canvas.setOpenStacks(this.openStacks);
    const t2 = performance.now();
    performance.measure('ld:patch:views', { start: t1, end: t2 });
    const { interim, settled } = this.canvas.redraw(this.expanded);
    const t3 = performance.now();
    performance.measure('ld:patch:draw', { start: t2, end: t3 });
    this.root.dataset.layout = interim ? 'provisional' : 'settled';
    this.inspector.setGraph(this.graph);
    this.syncSelection(false);
    this.persist();
    performance.measure('ld:patch:panels', { start: t3, end: performance.now() });
    requestAnimationFrame(() => {
      performance.mark('ld:patched');
      performance.measure('ld:patched', 'ld:patch', 'ld:patched');
      // the prune panel (its list and the budget's params, FLOPs and savings: rebuilt whole, ~10-70 ms
      // on SD-1.5 with every block scored) follows in the task after the frame that shows the edit
      setTimeout(() => {
        if (seq !== this.patchSeq) return;
        const t = performance.now();
        this.renderPanels();
        performance.measure('ld:patch:prunes-after-frame', { start: t, end: performance.now() });
      });
    });
    if (!(await settled) || seq !== this.patchSeq) return;
    this.lastRedrawAt = performance.now();
    this.syncSelection(false);
    requestAnimationFrame(() => {
      if (seq !== this.patchSeq) return;
      this.root.dataset.layout = 'settled';
      performance.mark('ld:patch-settled');
      performance.measure('ld:patch-settled', 'ld:patch', 'ld:patch-settled');
    });
  }

  /** The selection after an edit: the same module, stack or graph input/output, the same operator by name. */
  private retarget(t: InspectTarget | undefined, prev: ViewGraph): InspectTarget | undefined {
    const g = this.graph;
    if (!t) return undefined;
    if (t.module !== undefined) return g.modules.has(t.module) ? t : undefined;
    if (t.stack !== undefined) return g.stackById.has(t.stack) ? t : undefined;
    if (t.io !== undefined) return g.inputs.includes(t.io) || g.outputs.includes(t.io) ? t : undefined;
    if (t.node !== undefined) {
      const node = g.nodeIndex.get(prev.nodes[t.node]?.id ?? '');
      return node === undefined ? undefined : { node };
    }
    return undefined;
  }

  private searchEntries = (): readonly SearchEntry[] => (this.entries ??= buildSearchIndex(this.graph));

  /**
   * ELK's layout of the graph first drawn from a provisional one is ready: drawn in its place,
   * fitted again unless the user has opened something meanwhile.
   */
  private async refineLayout(): Promise<void> {
    if (!this.graph) return;
    const refit = this.expanded.size === 0;
    if (!(await this.canvas.show(this.expanded))) return;
    if (refit) this.canvas.fit(false);
    this.syncSelection(false);
    requestAnimationFrame(() => this.layoutSettled());
  }

  /**
   * What was just drawn is ELK's layout unless the engine handed out a provisional one (the first
   * paint's, while ELK is cold): an interim expansion replaced by a newer layout is no longer shown.
   */
  private elkLayoutShown(): void {
    if (this.engine.provisional) return;
    if (!this.firstSettled) return this.layoutSettled();
    if (this.root.dataset.layout === 'provisional') this.root.dataset.layout = 'settled';
  }

  /** `data-layout="settled"`: what is drawn is ELK's layout (ld:settled measures from init to it). */
  private layoutSettled(): void {
    if (this.firstSettled) return;
    this.firstSettled = true;
    performance.mark('ld:settled');
    performance.measure('ld:settled', 'ld:init', 'ld:settled');
    this.root.dataset.layout = 'settled';
    this.prefetchExpansions();
    this.warmPatchPathWhenIdle();
  }

  /**
   * Once per page, after the graph is drawn: runs an edit's model and layout work on a throw-away
   * patch so that the first real edit does not run it cold (model/patchWarmUp.ts). V8 optimises
   * this code only after it has run ~5-8 times (SD-1.5 in node: applying a bypass's patch and
   * building its view model takes 60-90 ms on the 1st-4th run, 8-20 ms from the 8th), so it runs
   * up to WARM_PATCH_RUNS times, one run per idle moment of the page once it has drawn nothing new
   * for WARM_PATCH_QUIET_MS (a click waits at most for the run in progress; a run between clicks
   * in quick succession would hold up the drawing of an ELK layout in flight), and stops once a run is fast. Nothing it computes is kept: the page and the
   * view's state are as they were (test/webview-patch-warmup.test.ts).
   */
  private warmPatchPathWhenIdle(): void {
    if (this.patchPathWarm) return;
    this.patchPathWarm = true;
    let runs = 0;
    const step = () => {
      // a real edit has run the code since: there is nothing left to warm
      if (!this.index || !this.graph || this.patchesApplied) return;
      // a click or an edit just drew (more are likely soon, and an ELK layout may be in flight,
      // whose drawing a run would hold up): wait until the view has been quiet a moment
      const quiet = performance.now() - this.lastRedrawAt;
      if (quiet < WARM_PATCH_QUIET_MS) return void setTimeout(() => whenIdle(step), WARM_PATCH_QUIET_MS - quiet);
      const t0 = performance.now();
      const ms = warmPatchPath(this.index, this.graph);
      performance.measure('ld:warm-patch:model', { start: t0, end: performance.now() });
      this.canvas.warmRedraw(this.expanded);
      performance.measure('ld:warm-patch', { start: t0, end: performance.now() });
      if (++runs < WARM_PATCH_RUNS && ms > WARM_PATCH_FAST_MS) whenIdle(step);
    };
    whenIdle(step);
  }

  private buildDom(msg: InitMsg): void {
    clear(this.root);
    const canvasWrap = h('div', { class: 'canvas-wrap' });
    const sidebar = h('aside', { class: 'sidebar', 'aria-label': 'Details and pruning' });
    this.toolbar = new Toolbar(this.root, this.graph, this.searchEntries, msg.modelName, msg.modelPath, {
      crumb: (id) => this.onCrumb(id),
      jump: (e) => void this.jumpTo(e.kind === 'module' ? { module: e.id } : { node: e.node }),
      fit: () => this.canvas.fit(),
      zoom: (f) => this.canvas.zoomBy(f),
      collapseAll: () => this.onCrumb(''),
      score: () => this.host.post({ type: 'scoreOperators' }),
      cancelScoring: () => this.host.post({ type: 'cancelScoring' }),
      checkModel: () => this.host.post({ type: 'checkModel' }),
    });
    const workspace = h('div', { class: 'workspace' }, canvasWrap, sidebar);
    this.root.append(workspace);
    // the sidebar folds away for a wide graph (a narrow editor group), and comes back with the same button
    const sidebarToggle = button({
      label: 'Hide the sidebar', icon: ['layout-sidebar-right', '⇥'], iconOnly: true, kind: 'toolbar',
      onClick: () => {
        const collapsed = workspace.classList.toggle('sidebar-collapsed');
        const label = collapsed ? 'Show the sidebar (details and pruning)' : 'Hide the sidebar';
        sidebarToggle.setAttribute('aria-label', label);
        sidebarToggle.title = label;
        sidebarToggle.setAttribute('aria-pressed', String(collapsed));
      },
    });
    sidebarToggle.classList.add('sidebar-toggle');
    sidebarToggle.setAttribute('aria-pressed', 'false');
    canvasWrap.append(sidebarToggle);
    this.canvas = new GraphCanvas(canvasWrap, this.graph, this.scores, this.engine, {
      activate: (it, how, member) => this.activate(it, how, member),
      hover: (it, at, member) => this.onHover(it, at, member),
      clearSelection: () => {
        this.target = undefined;
        this.syncSelection(false);
      },
    });
    this.legend = new Legend(canvasWrap);
    this.tooltip = new Tooltip(canvasWrap, this.graph);
    this.inspector = new Inspector(sidebar, this.graph, this.scores, {
      weightStats: (name) => this.stats.request((requestId) => this.host.post({ type: 'requestWeightStats', requestId, tensorName: name })),
      openNode: (id) => this.host.post({ type: 'openNode', nodeId: id }),
      reveal: (t) => void this.jumpTo(t),
      toggleExpand: (id) => (this.expanded.has(id) ? this.collapse(id, 'keyboard') : this.expand(id, 'keyboard')),
      isExpanded: (id) => this.expanded.has(id),
      toggleCandidate: (id) => this.toggle(id),
      candidateState: (id) => (this.selected.has(id) ? 'selected' : this.coveredBy(id) ? 'covered' : 'free'),
      stackLowest: (id, k) => this.stackLowest(id, k),
      toggleStackOpen: (id) => void this.setStackOpen(id, !this.openStacks.has(id)),
      isStackOpen: (id) => this.openStacks.has(id),
    });
    this.prunes = new PrunesPanel(sidebar, {
      setBudget: (b) => this.setBudget(b),
      toggle: (id) => this.toggle(id),
      clear: () => {
        this.selected.clear();
        this.budgetDriven = false;
        this.selectionChanged();
      },
      apply: () => {
        const ids = this.savings().roots;
        if (!ids.length) return;
        this.pruning = true;
        this.host.post({ type: 'applyPrune', ids });
        this.queuePanels();
      },
      distill: (path) => this.host.post({ type: 'distill', prunedPath: path }),
      measure: (pipeline) => this.host.post({ type: 'measureQuality', pipeline }),
      reveal: (id) => void this.jumpTo(this.graph.modules.has(id) ? { module: id } : { node: this.graph.nodeIndex.get(id) }),
      score: () => this.host.post({ type: 'scoreOperators' }),
      setShowRemoved: (on) => {
        this.showRemoved = on;
        this.canvas.setRemoved(on && this.result ? new Set(this.result.removedIds) : null);
        this.queuePanels();
      },
    });
    this.toolbar.setScoring(this.scoring.state, this.scoring.done, this.scoring.total, this.scoring.message);
    this.applyScores();
    this.canvas.setMarked(this.selected);
    this.canvas.setOpenStacks(this.openStacks);
  }

  // ------------------------------------------------------------------------------------------
  // Expansion, selection, navigation

  private activate(it: VisibleItem, how: 'pointer' | 'keyboard' | 'body', member?: string): void {
    if (it.kind === 'stack') {
      if (member) return this.select({ module: member });
      if (how === 'body') return this.select({ stack: it.stackId });
      return void this.setStackOpen(it.stackId!, true, how);
    }
    if (it.kind === 'group') {
      if (how === 'body') return this.select({ module: it.moduleId });
      return void this.collapse(it.moduleId!, how);
    }
    if (it.kind === 'block' && this.graph.expandable(it.moduleId!)) return void this.expand(it.moduleId!, how);
    if (it.kind === 'block') return this.select({ module: it.moduleId });
    if (it.kind === 'node') return this.select({ node: it.node });
    return this.select({ io: it.io });
  }

  private select(t: InspectTarget | undefined): void {
    this.target = t;
    this.syncSelection(false);
    this.persist();
  }

  /**
   * Opens block `id`: drawn from ELK's layout when it is cached or quick, else from an interim one at
   * once (GraphCanvas.showExpansion) with `data-layout` "provisional" until ELK's is drawn in its
   * place (ld:expand measures the click to the first frame, ld:expand-settled to ELK's layout drawn).
   */
  private async expand(id: string, how: 'pointer' | 'keyboard' | 'body'): Promise<void> {
    performance.mark('ld:expand-start');
    const seq = ++this.expandSeq;
    this.lastRedrawAt = performance.now();
    for (const c of this.graph.moduleChain(id)) this.expanded.add(c);
    this.target = { module: id };
    this.hoverPrefetched = undefined;
    const key = moduleKey(id);
    const shown = await this.canvas.showExpansion(this.expanded, key, key);
    if (!shown) return;
    this.syncSelection(false);
    this.persist();
    if (how === 'keyboard') this.canvas.focusItem(key);
    if (shown.interim) this.root.dataset.layout = 'provisional';
    requestAnimationFrame(() => {
      performance.mark('ld:expand-end');
      performance.measure('ld:expand', 'ld:expand-start', 'ld:expand-end');
    });
    // ELK's own layout drawn at once (as relayout does): also the first paint's settling when the click
    // came before ELK's first layout was in place
    if (!shown.interim) this.elkLayoutShown();
    this.prefetchExpansions(id);
    this.lastRedrawAt = performance.now();
    if (!shown.interim || !(await shown.settled)) return;
    this.lastRedrawAt = performance.now();
    this.syncSelection(false);
    requestAnimationFrame(() => {
      if (seq !== this.expandSeq) return;
      performance.mark('ld:expand-settled');
      performance.measure('ld:expand-settled', 'ld:expand-start', 'ld:expand-settled');
      this.elkLayoutShown();
    });
  }

  private async collapse(id: string, how: 'pointer' | 'keyboard' | 'body'): Promise<void> {
    this.expanded.delete(id);
    for (const e of [...this.expanded]) if (this.graph.contains(id, e)) this.expanded.delete(e);
    this.target = { module: id };
    await this.relayout(moduleKey(id));
    if (how === 'keyboard') this.canvas.focusItem(moduleKey(id));
  }

  /** Opens a depth stack into its blocks, or draws it compactly again. */
  private async setStackOpen(id: string, open: boolean, how: 'pointer' | 'keyboard' | 'body' = 'pointer'): Promise<void> {
    const st = this.graph.stackById.get(id);
    if (!st) return;
    if (open) this.openStacks.add(id);
    else {
      this.openStacks.delete(id);
      // what was expanded inside its blocks would keep it open
      for (const e of [...this.expanded]) if (st.members.some((m) => m === e || this.graph.contains(m, e))) this.expanded.delete(e);
    }
    this.canvas.setOpenStacks(this.openStacks);
    this.target = open ? { module: st.members[0] } : { stack: id };
    const anchor = open ? undefined : stackKey(id);
    await this.relayout(anchor);
    const key = this.canvas.keyFor(this.target);
    if (key) {
      this.canvas.reveal(key, false);
      if (how === 'keyboard') this.canvas.focusItem(key);
    }
  }

  /** Puts the stack's k lowest-scored blocks into the prune selection; the reason when it cannot. */
  private stackLowest(id: string, k: number): string | undefined {
    const st = this.graph.stackById.get(id);
    if (!st) return `${id} is not a depth stack of this model`;
    const r = selectStackLowest(this.selected, st, k, (m) => this.scores.get(m), this.ancestorsOf);
    if ('error' in r) return r.error;
    this.selected = r.selected;
    this.budgetDriven = false;
    this.selectionChanged();
    return undefined;
  }

  /** Draws the graph with what is expanded now (a collapse, a depth stack, a reveal), `anchor` kept where it is on screen. */
  private async relayout(anchor?: string): Promise<void> {
    this.lastRedrawAt = performance.now();
    this.hoverPrefetched = undefined;
    const done = await this.canvas.show(this.expanded, anchor);
    if (!done) return;
    this.elkLayoutShown();
    this.syncSelection(false);
    this.persist();
    this.prefetchExpansions();
  }

  /**
   * Lays out ahead, while the user reads the graph, the expansions a click is likely to ask for
   * next: the blocks inside the one just opened, largest first (the ones there is most to see
   * inside, and the dearest to lay out), or, when nothing was just opened, the expandable blocks on
   * screen in model order (see layout/layoutCache.ts for why; the block under the pointer goes
   * first). Bounded: each is an ELK run on another core, which a 2-core machine feels while drawing.
   */
  private prefetchExpansions(opened?: string): void {
    const vis = this.canvas.visible;
    if (!vis) return;
    const g = this.graph;
    const blocks = vis.items.filter((it) => it.kind === 'block' && g.expandable(it.moduleId!)).map((it) => it.moduleId!);
    const ops = (id: string) => g.modules.get(id)?.shownCount ?? 0;
    const inside = opened ? blocks.filter((id) => g.modules.get(id)?.parent === opened).sort((a, b) => ops(b) - ops(a)) : [];
    const order = (inside.length ? inside : blocks).slice(0, PREFETCH_MAX);
    this.engine.prefetch(order.map((id) => () => this.canvas.layoutInput(this.expandedWith(id))));
  }

  /** The expanded set after a click on `id` (expand() opens it and everything above it). */
  private expandedWith(id: string): Set<string> {
    const out = new Set(this.expanded);
    for (const c of this.graph.moduleChain(id)) out.add(c);
    return out;
  }

  private onCrumb(id: string): void {
    if (!id) {
      this.expanded.clear();
      this.openStacks.clear();
      this.canvas.setOpenStacks(this.openStacks);
      this.target = undefined;
      this.hoverPrefetched = undefined;
      void this.canvas.show(this.expanded).then((done) => {
        if (done) this.elkLayoutShown();
        this.canvas.fit();
        this.prefetchExpansions();
        this.syncSelection(false);
        this.persist();
      });
      return;
    }
    for (const e of [...this.expanded]) if (this.graph.contains(id, e)) this.expanded.delete(e);
    this.target = { module: id };
    void this.relayout(moduleKey(id)).then(() => this.canvas.reveal(moduleKey(id), false));
  }

  /** Opens whatever is needed to show a module or node, selects it, centres and pulses it. */
  private async jumpTo(t: InspectTarget): Promise<void> {
    if (t.node === undefined && t.module === undefined && t.stack === undefined) return;
    const g = this.graph;
    let chain: string[] = [];
    if (t.stack !== undefined) {
      const st = g.stackById.get(t.stack);
      if (!st) return;
      chain = st.parent ? g.moduleChain(st.parent) : [];
    } else if (t.node !== undefined) chain = g.moduleChain(g.nodes[t.node].module);
    else if (t.module !== undefined) {
      if (!g.modules.has(t.module)) return;
      chain = g.moduleChain(t.module).slice(0, -1);
    }
    let changed = false;
    for (const c of chain) {
      if (g.expandable(c) && !this.expanded.has(c)) {
        this.expanded.add(c);
        changed = true;
      }
    }
    this.target = t;
    if (changed) await this.relayout();
    else this.syncSelection(false);
    const key = this.canvas.keyFor(t);
    if (key) this.canvas.reveal(key);
    this.persist();
  }

  private syncSelection(reveal: boolean): void {
    const t = this.target;
    const key = t ? (t.io !== undefined ? (this.graph.inputs.includes(t.io) ? `i:${t.io}` : `o:${t.io}`) : this.canvas.keyFor(t)) : undefined;
    this.canvas.setSelected(key);
    this.canvas.setSelectedMember(t?.module !== undefined && this.graph.stackOfMember.has(t.module) ? t.module : undefined);
    if (reveal && key) this.canvas.reveal(key);
    this.inspector.show(t);
    const focusModule = t?.module ?? (t?.node !== undefined ? this.graph.nodes[t.node].module : t?.stack !== undefined ? this.graph.stackById.get(t.stack)?.parent || undefined : undefined);
    const chain = focusModule ? this.graph.moduleChain(focusModule) : [...this.expanded].sort((a, b) => b.length - a.length).slice(0, 1).flatMap((m) => this.graph.moduleChain(m));
    this.toolbar.setPath(chain);
  }

  private onHover(it: VisibleItem | null, at?: { x: number; y: number }, member?: string): void {
    if (!it || !at) {
      this.tooltip.hide();
      this.legend.mark(null);
      return;
    }
    if (it.kind === 'block' && it.key !== this.hoverPrefetched && this.graph.expandable(it.moduleId!)) {
      // a click on it is likely: its expansion is laid out first (the click waits for that one run)
      this.hoverPrefetched = it.key;
      this.engine.prefetchFirst(this.canvas.layoutInput(this.expandedWith(it.moduleId!)));
    }
    const own = member ? this.scores.get(member) : undefined;
    const heat = member ? (own ? { result: own, own: true } : undefined) : this.canvas.heatOf(it);
    this.tooltip.show(it, heat, at, member);
    this.legend.mark(heat && heat.result.score !== null && isPrunable(heat.result) ? heat.result.score : null);
  }

  private onGlobalKey(e: KeyboardEvent): void {
    const inField = (e.target as HTMLElement | null)?.closest?.('input, textarea, select');
    if ((e.key === 'f' && (e.ctrlKey || e.metaKey)) || (e.key === '/' && !inField)) {
      e.preventDefault();
      this.toolbar.focusSearch();
      return;
    }
    if (inField || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'f' || e.key === 'F') this.canvas.fit();
    else if (e.key === '+' || e.key === '=') this.canvas.zoomBy(1.3);
    else if (e.key === '-') this.canvas.zoomBy(1 / 1.3);
    else if (e.key === 'Escape') this.select(undefined);
  }

  // ------------------------------------------------------------------------------------------
  // Scores and pruning

  private onScores(results: CandidateResult[], reset?: boolean): void {
    this.scores.add(results, reset);
    if (!this.graph) return;
    this.applyScores();
    if (this.budgetDriven) this.reselect();
    this.queuePanels();
  }

  private applyScores(): void {
    this.domain = heatDomain(this.scores.all());
    this.canvas.setHeat(this.domain);
    this.legend.setDomain(this.domain);
  }

  private ancestorsOf: AncestorsOf = (id) => {
    let a = this.ancestorsCache.get(id);
    if (a) return a;
    const g = this.graph;
    if (g.modules.has(id)) a = g.moduleChain(id).slice(0, -1);
    else {
      const n = g.nodeIndex.get(id);
      a = n !== undefined ? g.moduleChain(g.nodes[n].module) : [];
    }
    this.ancestorsCache.set(id, a);
    return a;
  };

  private coveredBy(id: string): string | undefined {
    return this.ancestorsOf(id).find((a) => this.selected.has(a));
  }

  private totals() {
    return { params: this.graph.root.params, flops: this.graph.root.flops };
  }

  private savings() {
    return predictSavings(this.selected, (id) => this.scores.get(id), this.totals(), this.ancestorsOf);
  }

  private hasLatency(): boolean {
    return this.scores.all().some((r) => r.latencyShare !== undefined);
  }

  private setBudget(b: SelectionBudget): void {
    this.budget = { ...b };
    if (this.budget.metric === 'latency' && this.scores.size && !this.hasLatency()) this.budget.metric = 'params';
    this.budgetDriven = true;
    this.reselect();
    this.queuePanels();
  }

  private reselect(): void {
    if (!this.graph) return;
    const budget = this.budget.metric === 'latency' && !this.hasLatency() ? { ...this.budget, metric: 'params' as const } : this.budget;
    const sel = selectForBudget(this.scores.all(), budget, this.totals(), this.ancestorsOf);
    this.selected = new Set(sel.ids);
    this.budgetReached = sel.reached;
    this.selectionChanged(false);
  }

  private toggle(id: string): void {
    this.selected = toggleCandidate(this.selected, id, this.ancestorsOf);
    this.budgetDriven = false;
    this.selectionChanged();
  }

  private selectionChanged(queue = true): void {
    this.canvas?.setMarked(this.selected);
    this.host.post({ type: 'selectionChanged', ids: [...this.selected] });
    if (queue) this.queuePanels();
    this.persist();
  }

  private queuePanels(): void {
    if (this.panelQueued || !this.graph) return;
    this.panelQueued = true;
    requestAnimationFrame(() => {
      this.panelQueued = false;
      this.renderPanels();
    });
  }

  private renderPanels(): void {
    const all = this.scores.all();
    const ranked = rankCandidates(all);
    const metric = this.budget.metric === 'latency' && all.length && !this.hasLatency() ? 'params' : this.budget.metric;
    this.prunes.render({
      ranked,
      unmodifiable: all.filter((r) => r.modification === 'none'),
      failed: all.filter((r) => r.modification !== 'none' && r.score === null),
      selected: this.selected,
      coveredBy: (id) => this.coveredBy(id),
      savings: this.savings(),
      budget: { ...this.budget, metric },
      budgetDriven: this.budgetDriven,
      budgetReached: this.budgetReached,
      hasLatency: this.hasLatency(),
      heat: this.domain ? heatScale(this.domain) : undefined,
      scoring: this.scoring,
      pruning: this.pruning,
      result: this.result,
      showRemoved: this.showRemoved,
      distill: this.distill,
      measuring: this.measuring,
      modelCheck: this.modelCheck,
      calibration: this.calibration,
    });
    this.inspector.refresh();
  }

  // ------------------------------------------------------------------------------------------
  // Persistence across webview reloads (VS Code keeps getState/setState while the editor is open)

  private restore(modelPath: string): void {
    const st = this.host.getState() as Persisted | undefined;
    if (!st || st.modelPath !== modelPath) return;
    this.expanded = new Set(st.expanded.filter((id) => this.graph.modules.has(id)));
    this.openStacks = new Set((st.openStacks ?? []).filter((id) => this.graph.stackById.has(id)));
    this.target = st.target;
    this.selected = new Set(st.selected);
    this.budget = st.budget;
    this.budgetDriven = st.budgetDriven;
    this.result = st.result;
  }

  private persist(): void {
    if (this.saveQueued) return;
    this.saveQueued = true;
    setTimeout(() => {
      this.saveQueued = false;
      const st: Persisted = {
        modelPath: this.modelPath,
        expanded: [...this.expanded],
        openStacks: [...this.openStacks],
        target: this.target,
        selected: [...this.selected],
        budget: this.budget,
        budgetDriven: this.budgetDriven,
        result: this.result,
      };
      this.host.setState(st);
    }, 200);
  }
}

/** Runs `fn` when the page is idle: no input, animation frame or task waiting. */
function whenIdle(fn: () => void): void {
  if (typeof requestIdleCallback === 'function') requestIdleCallback(() => fn());
  else setTimeout(fn, 50);
}

function applyTheme(theme: NonNullable<InitMsg['theme']>): void {
  const b = document.body.classList;
  b.remove('vscode-light', 'vscode-dark', 'vscode-high-contrast', 'vscode-high-contrast-light');
  b.add(theme === 'light' ? 'vscode-light' : theme === 'dark' ? 'vscode-dark' : theme === 'high-contrast' ? 'vscode-high-contrast' : 'vscode-high-contrast-light');
  if (theme === 'high-contrast-light') b.add('vscode-high-contrast');
}
