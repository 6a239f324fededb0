// The inspector: everything about the selected module, layer, operator or graph input/output —
// score and modification, size and cost, attributes, tensor shapes, and on request the
// statistics of a weight (computed by the host from the file; the bytes never come here).
import type { CandidateResult, WeightStats } from '../../../src/protocol/webview';
import { formatCount, formatFlops, formatScore, formatShape, formatShare } from '../model/format';
import type { ViewGraph } from '../model/graph';
import type { ScoreBook } from '../model/scores';
import { checkStackK, rankStack } from '../model/stackSelection';
import type { VStack } from '../model/stacks';
import { button, clear, h, icon, s } from './dom';

export interface InspectTarget {
  module?: string;
  node?: number;
  io?: string;
  /** a depth stack (model/stacks.ts) */
  stack?: string;
}

export interface InspectorActions {
  weightStats(tensorName: string): Promise<WeightStats>;
  openNode(nodeId: string): void;
  reveal(target: InspectTarget): void;
  toggleExpand(moduleId: string): void;
  isExpanded(moduleId: string): boolean;
  toggleCandidate(id: string): void;
  candidateState(id: string): 'selected' | 'covered' | 'free';
  /** selects the stack's k lowest-scored blocks for pruning; the reason when it cannot */
  stackLowest(stackId: string, k: number): string | undefined;
  toggleStackOpen(stackId: string): void;
  isStackOpen(stackId: string): boolean;
}

export class Inspector {
  readonly el: HTMLElement;
  private body: HTMLElement;
  private target: InspectTarget | undefined;
  private stats = new Map<string, WeightStats | string>();
  /** what the user typed as k and what was said about it, per stack: the panel is rebuilt on every refresh */
  private stackForm = new Map<string, { k: string; msg: string; bad: boolean }>();

  constructor(
    host: HTMLElement,
    private graph: ViewGraph,
    private readonly scores: ScoreBook,
    private readonly actions: InspectorActions,
  ) {
    this.body = h('div', { class: 'panel-body inspector-body' });
    this.el = h('section', { class: 'panel inspector', 'aria-labelledby': 'inspector-title' }, h('h2', { class: 'panel-title', id: 'inspector-title' }, 'Inspector'), this.body);
    host.append(this.el);
    this.show(undefined);
  }

  /** The model changed (an edit): what show() shows next is read from it. */
  setGraph(graph: ViewGraph): void {
    this.graph = graph;
    this.stats.clear();
  }

  get current(): InspectTarget | undefined {
    return this.target;
  }

  show(target: InspectTarget | undefined): void {
    this.target = target;
    this.refresh();
  }

  refresh(): void {
    // the panel is rebuilt on every refresh: a field being typed in (the stack's k) keeps the focus
    const active = document.activeElement as HTMLElement | null;
    const focused = active && active.id && this.body.contains(active) ? active.id : '';
    this.render();
    if (focused) document.getElementById(focused)?.focus();
  }

  private render(): void {
    const t = this.target;
    clear(this.body);
    if (!t) {
      this.body.append(
        h('p', { class: 'empty-hint' }, 'Select a block or operator to see its score, size, shapes and weights.'),
        h('p', { class: 'empty-hint subtle' }, 'Click a block to expand it; click an expanded block’s header to collapse it. Scroll to zoom, drag to pan.'),
      );
      return;
    }
    if (t.io !== undefined) return this.renderIo(t.io);
    const st = t.stack !== undefined ? this.graph.stackById.get(t.stack) : undefined;
    if (st) return this.renderStack(st);
    if (t.module !== undefined) {
      this.renderModule(t.module);
      const single = this.graph.singleNodeOf(t.module);
      if (single !== undefined) this.renderNode(single, true);
      return;
    }
    if (t.node !== undefined) this.renderNode(t.node, false);
  }

  private renderIo(name: string): void {
    const v = this.graph.values.get(name);
    const isInput = this.graph.inputs.includes(name);
    this.body.append(
      header(name, isInput ? 'graph input' : 'graph output'),
      kv([
        ['shape', formatShape(v?.shape)],
        ['type', v?.dtype ?? '?'],
        [isInput ? 'read by' : 'written by', isInput ? `${v?.consumers.length ?? 0} operators` : v && v.producer >= 0 ? this.graph.nodes[v.producer].id : '—'],
      ]),
    );
  }

  private renderModule(id: string): void {
    const g = this.graph;
    const m = g.modules.get(id)!;
    const chain = g.moduleChain(id);
    const crumbs = h('nav', { class: 'path', 'aria-label': 'module path' });
    chain.forEach((c, i) => {
      if (i) crumbs.append(h('span', { class: 'path-sep', 'aria-hidden': 'true' }, '›'));
      const link = h('button', { type: 'button', class: 'link' }, g.modules.get(c)!.name);
      link.addEventListener('click', () => this.actions.reveal({ module: c }));
      crumbs.append(link);
    });
    const kind = g.singleNodeOf(id) !== undefined ? 'layer' : `module · ${m.children.length} submodules · ${m.shownCount} operators`;
    this.body.append(header(m.id, kind), crumbs);

    const r = this.scores.get(id);
    this.body.append(this.scoreSection(r, id));
    const st = g.stackOfMember.get(id);
    if (st) {
      const link = h('button', { type: 'button', class: 'link' }, st.name);
      link.addEventListener('click', () => this.actions.reveal({ stack: st.id }));
      this.body.append(h('p', { class: 'stack-member' }, `Block ${st.members.indexOf(id) + 1} of ${st.members.length} in the depth stack `, link));
    }

    const root = g.root;
    this.body.append(
      section(
        'Cost',
        kv([
          ['parameters', `${formatCount(m.params)}${root.params ? `  (${formatShare(m.params / root.params)} of model)` : ''}`],
          ['FLOPs', `${formatFlops(m.flops)}${root.flops ? `  (${formatShare(m.flops / root.flops)})` : ''}`],
          ['latency share', r?.latencyShare !== undefined ? formatShare(r.latencyShare) : 'not measured'],
          ['operators', String(m.ops)],
          ...(opMix(m.opCounts) ? [['op mix', opMix(m.opCounts)] as [string, string]] : []),
        ]),
      ),
    );

    const actions = h('div', { class: 'actions' });
    if (g.expandable(id)) {
      const open = this.actions.isExpanded(id);
      actions.append(button({ label: open ? 'Collapse' : 'Expand', icon: open ? ['collapse-all', '−'] : ['expand-all', '+'], onClick: () => this.actions.toggleExpand(id) }));
    }
    actions.append(button({ label: 'Show in graph', icon: ['target', '◎'], onClick: () => this.actions.reveal({ module: id }) }));
    this.body.append(actions);

    if (m.children.length > 1) {
      const kids = m.children.map((c) => g.modules.get(c)!).filter((c) => c.shownCount > 0).sort((a, b) => b.params - a.params || b.flops - a.flops);
      const list = h('ul', { class: 'child-list' });
      for (const k of kids.slice(0, 24)) {
        const kr = this.scores.get(k.id);
        const li = h('li');
        const link = h('button', { type: 'button', class: 'link child-link' }, k.name);
        link.addEventListener('click', () => this.actions.reveal({ module: k.id }));
        li.append(link, h('span', { class: 'child-meta' }, `${formatCount(k.params)} · ${kr ? formatScore(kr.score) : '—'}`));
        list.append(li);
      }
      this.body.append(section(`Submodules (${kids.length})`, list, 'params · score'));
    }
  }

  /** A depth stack: its blocks by score, and "prune the k lowest" into the prune selection. */
  private renderStack(st: VStack): void {
    const g = this.graph;
    const n = st.members.length;
    this.body.append(header(st.id, `depth stack · ${n} blocks of the same build`));
    const { ranked, unscored, fixed } = rankStack(st, (id) => this.scores.get(id));
    const params = st.members.reduce((sum, m) => sum + (g.modules.get(m)?.params ?? 0), 0);
    const flops = st.members.reduce((sum, m) => sum + (g.modules.get(m)?.flops ?? 0), 0);
    this.body.append(section('Stack', kv([
      ['blocks', String(n)],
      ['parameters', formatCount(params)],
      ['FLOPs', formatFlops(flops)],
      ['scored', unscored.length ? `${n - unscored.length} of ${n}` : `all ${n}`],
      ...(fixed.length ? [['cannot be removed', fixed.join(', ')] as [string, string]] : []),
    ])));

    let state = this.stackForm.get(st.id);
    if (!state) this.stackForm.set(st.id, (state = { k: String(Math.min(2, n - 1)), msg: '', bad: false }));
    const form = h('form', { class: 'stack-lowest' }) as HTMLFormElement;
    const k = h('input', { type: 'number', min: '1', max: String(n - 1), step: '1', value: state.k, id: 'stack-k', 'aria-describedby': 'stack-k-msg' }) as HTMLInputElement;
    const msg = h('p', { class: 'stack-k-msg', id: 'stack-k-msg', role: 'status' });
    const say = (text: string, bad: boolean) => {
      state.msg = text;
      state.bad = bad;
      msg.textContent = text;
      msg.classList.toggle('bad', bad);
      k.setAttribute('aria-invalid', String(bad));
    };
    say(state.msg, state.bad);
    const submit = button({ label: 'Select for pruning', icon: ['filter', '↓'], kind: 'primary', onClick: () => form.requestSubmit() });
    form.append(h('label', { for: 'stack-k' }, 'Prune the k lowest-scored blocks, k = '), k, submit, msg);
    const validate = (): number | undefined => {
      state.k = k.value;
      const v = Number(k.value);
      const bad = k.value.trim() === '' ? `k must be a whole number from 1 to ${n - 1}` : checkStackK(st, v);
      say(bad ?? '', !!bad);
      return bad ? undefined : v;
    };
    k.addEventListener('input', () => void validate());
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = validate();
      if (v === undefined) return;
      const err = this.actions.stackLowest(st.id, v);
      say(err ?? `the ${v} lowest-scored blocks are selected for pruning`, !!err);
    });
    this.body.append(section('Prune', form));

    const list = h('ol', { class: 'stack-members' });
    const order = [...ranked.map((r) => r.id), ...fixed, ...unscored];
    for (const id of order) {
      const r = this.scores.get(id);
      const link = h('button', { type: 'button', class: 'link child-link' }, g.modules.get(id)?.name ?? id);
      link.addEventListener('click', () => this.actions.reveal({ module: id }));
      const state = this.actions.candidateState(id);
      list.append(h('li', { 'data-member': id, class: state === 'free' ? '' : 'is-selected' }, link, h('span', { class: 'child-meta' }, `${formatCount(g.modules.get(id)?.params ?? 0)} · ${r ? (r.modification === 'none' ? 'fixed' : formatScore(r.score)) : '—'}`)));
    }
    this.body.append(section(`Blocks (${n})`, list, 'lowest score first · params · score'));

    const open = this.actions.isStackOpen(st.id);
    const actions = h('div', { class: 'actions' });
    actions.append(
      button({ label: open ? 'Show compactly' : 'Open block by block', icon: open ? ['collapse-all', '−'] : ['expand-all', '+'], onClick: () => this.actions.toggleStackOpen(st.id) }),
      button({ label: 'Show in graph', icon: ['target', '◎'], onClick: () => this.actions.reveal({ stack: st.id }) }),
    );
    this.body.append(actions);
  }

  private scoreSection(r: CandidateResult | undefined, id: string): HTMLElement {
    if (!r) return section('LD-Pruner', h('p', { class: 'muted' }, 'Not a scored candidate.'));
    const rows: [string, string][] = [];
    let status: HTMLElement;
    if (r.modification === 'none') {
      status = h('div', { class: 'status-line status-none' }, icon('circle-slash', '⊘'), h('span', null, 'Cannot be modified'));
    } else if (r.score === null) {
      status = h('div', { class: 'status-line status-failed' }, icon('warning', '!'), h('span', null, 'Scoring failed'));
    } else {
      status = h('div', { class: 'score-big' }, h('span', { class: 'score-value' }, formatScore(r.score)), h('span', { class: 'score-caption' }, r.modification === 'remove' ? 'if removed' : 'if replaced'));
      rows.push(['modification', r.modification === 'remove' ? 'remove (output = input)' : 'replace with a cheaper op']);
    }
    for (const [k, v] of Object.entries(r.variants ?? {})) rows.push([`score (${k})`, formatScore(v)]);
    const body = h('div', null, status);
    if (r.reason) body.append(h('p', { class: 'reason' }, r.reason));
    if (rows.length) body.append(kv(rows));
    if (r.modification !== 'none' && r.score !== null) {
      const state = this.actions.candidateState(id);
      const box = h('input', { type: 'checkbox', id: 'inspector-select' }) as HTMLInputElement;
      box.checked = state !== 'free';
      box.disabled = state === 'covered';
      box.addEventListener('change', () => this.actions.toggleCandidate(id));
      body.append(h('label', { class: 'check-line', for: 'inspector-select' }, box, state === 'covered' ? 'Removed with a selected block' : 'Selected for pruning'));
    }
    return section('LD-Pruner', body);
  }

  private renderNode(index: number, embedded: boolean): void {
    const g = this.graph;
    const n = g.nodes[index];
    if (!embedded) {
      this.body.append(header(n.id, `${n.op} operator`));
      const path = h('nav', { class: 'path', 'aria-label': 'module path' });
      const chain = g.moduleChain(n.module);
      chain.forEach((c, i) => {
        if (i) path.append(h('span', { class: 'path-sep', 'aria-hidden': 'true' }, '›'));
        const link = h('button', { type: 'button', class: 'link' }, g.modules.get(c)!.name);
        link.addEventListener('click', () => this.actions.reveal({ module: c }));
        path.append(link);
      });
      if (chain.length) this.body.append(path);
      const r = this.scores.forNode(g, index);
      if (r) {
        this.body.append(
          section('LD-Pruner', kv([[r.id === n.id ? 'score' : `score of ${r.id}`, r.modification === 'none' ? 'cannot be modified' : formatScore(r.score)]])),
        );
      }
    } else {
      this.body.append(h('h3', { class: 'subhead' }, `${n.op} · ${n.id}`));
    }

    const ioTable = (title: string, names: string[]) => {
      const table = h('table', { class: 'tensor-table' });
      table.append(h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'tensor'), h('th', { scope: 'col' }, 'shape'), h('th', { scope: 'col' }, ''))));
      const tb = h('tbody');
      names.forEach((name) => {
        if (!name) return;
        const v = g.values.get(name);
        const tr = h('tr', null, h('td', { class: 'tensor-name', title: name }, name), h('td', { class: 'mono' }, `${formatShape(v?.shape)}${v?.dtype ? ` ${v.dtype}` : ''}`));
        const cell = h('td', { class: 'tensor-kind' });
        if (v?.kind === 'initializer') {
          cell.append(button({ label: 'Statistics', icon: ['graph', '▤'], iconOnly: true, kind: 'toolbar', title: `Statistics of ${name}`, onClick: () => void this.loadStats(name, tr) }));
        } else if (v && v.producer >= 0 && g.hidden[v.producer]) {
          const noise = g.nodes[v.producer].noise;
          cell.append(h('span', { class: 'tag', title: noise === 'shape' ? 'computed from tensor shapes (hidden)' : 'constant (hidden)' }, noise === 'shape' ? 'shape' : 'const'));
        } else if (v?.kind === 'input') {
          cell.append(h('span', { class: 'tag' }, 'input'));
        }
        tr.append(cell);
        tb.append(tr);
        const cached = this.stats.get(name);
        if (cached) tb.append(statsRow(name, cached));
      });
      table.append(tb);
      return section(title, table);
    };
    this.body.append(ioTable(`Inputs (${n.inputs.filter(Boolean).length})`, n.inputs), ioTable(`Outputs (${n.outputs.length})`, n.outputs));

    const facts: [string, string][] = [];
    if (n.domain) facts.push(['domain', n.domain]);
    if (n.flops !== undefined) facts.push(['FLOPs', n.flops === null ? 'unknown' : formatFlops(n.flops)]);
    if (n.noise) facts.push(['exporter noise', n.noise === 'shape' ? 'shape arithmetic' : 'constant folding']);
    if (facts.length) this.body.append(section('Operator', kv(facts)));
    const attrs = Object.entries(n.attrs ?? {});
    if (attrs.length) this.body.append(section('Attributes', kv(attrs.map(([k, v]) => [k, formatAttr(v)]), true)));
    const actions = h('div', { class: 'actions' });
    actions.append(button({ label: 'Open definition', icon: ['go-to-file', '↗'], onClick: () => this.actions.openNode(n.id) }));
    if (!embedded) actions.append(button({ label: 'Show in graph', icon: ['target', '◎'], onClick: () => this.actions.reveal({ node: index }) }));
    this.body.append(actions);
  }

  private async loadStats(name: string, row: HTMLTableRowElement): Promise<void> {
    const existing = row.nextElementSibling;
    if (existing?.classList.contains('stats-row')) {
      existing.remove();
      this.stats.delete(name);
      return;
    }
    const pending = h('tr', { class: 'stats-row' }, h('td', { colspan: '3' }, h('div', { class: 'stats-loading', role: 'status' }, 'Reading tensor…')));
    row.after(pending);
    let result: WeightStats | string;
    try {
      result = await this.actions.weightStats(name);
    } catch (e) {
      result = e instanceof Error ? e.message : String(e);
    }
    this.stats.set(name, result);
    if (pending.isConnected) pending.replaceWith(statsRow(name, result));
  }
}

function header(title: string, kind: string): HTMLElement {
  return h('header', { class: 'insp-header' }, h('div', { class: 'insp-title', title }, title), h('div', { class: 'insp-kind' }, kind));
}

function section(title: string, content: HTMLElement, aside?: string): HTMLElement {
  return h('section', { class: 'insp-section' }, h('h3', { class: 'subhead' }, title, aside ? h('span', { class: 'subhead-aside' }, aside) : null), content);
}

function kv(rows: [string, string][], mono = false): HTMLElement {
  const dl = h('dl', { class: `kv${mono ? ' kv-mono' : ''}` });
  for (const [k, v] of rows) dl.append(h('dt', null, k), h('dd', { title: v.length > 40 ? v : undefined }, v));
  return dl;
}

export function formatAttr(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(formatAttr).join(', ')}]`;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** 'Conv 4 · MatMul 12 · Add 9' — the most frequent operator types of a module. */
export function opMix(counts: Record<string, number>, top = 5): string {
  const list = Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const shown = list.slice(0, top).map(([op, n]) => `${op} ${n}`);
  if (list.length > top) shown.push(`+${list.length - top} more`);
  return shown.join(' · ');
}

function statsRow(name: string, st: WeightStats | string): HTMLTableRowElement {
  const cell = h('td', { colspan: '3' });
  if (typeof st === 'string') {
    cell.append(h('div', { class: 'stats-error', role: 'alert' }, `Could not read ${name}: ${st}`));
  } else {
    cell.append(
      h(
        'dl',
        { class: 'kv kv-compact' },
        h('dt', null, 'min'), h('dd', null, formatScore(st.min)),
        h('dt', null, 'max'), h('dd', null, formatScore(st.max)),
        h('dt', null, 'mean'), h('dd', null, formatScore(st.mean)),
        h('dt', null, 'std'), h('dd', null, formatScore(st.std)),
        h('dt', null, 'elements'), h('dd', null, formatCount(st.count)),
        ...(st.zeros !== undefined ? [h('dt', null, 'zeros'), h('dd', null, formatShare(st.count ? st.zeros / st.count : 0))] : []),
        ...(st.nonFinite ? [h('dt', null, 'NaN/Inf'), h('dd', { class: 'bad' }, formatCount(st.nonFinite))] : []),
      ),
      histogram(st),
    );
  }
  return h('tr', { class: 'stats-row' }, cell);
}

/** Equal-width histogram of a weight, with its range and the mean marked. */
export function histogram(st: WeightStats): SVGSVGElement {
  const W = 280;
  const H = 64;
  const counts = st.histogram.counts;
  const max = Math.max(1, ...counts);
  const bw = W / Math.max(1, counts.length);
  const svg = s('svg', { class: 'histogram', viewBox: `0 0 ${W} ${H + 14}`, role: 'img', 'aria-label': `histogram of ${counts.length} bins from ${formatScore(st.histogram.lo)} to ${formatScore(st.histogram.hi)}` });
  counts.forEach((c, i) => {
    // square-root height keeps the tails of a bell-shaped weight distribution visible
    const hh = c ? Math.max(1, (Math.sqrt(c) / Math.sqrt(max)) * H) : 0;
    svg.append(s('rect', { class: 'bar', x: (i * bw + 0.5).toFixed(2), y: (H - hh).toFixed(2), width: Math.max(0.5, bw - 1).toFixed(2), height: hh.toFixed(2) }));
  });
  const span = st.histogram.hi - st.histogram.lo;
  if (span > 0 && st.mean >= st.histogram.lo && st.mean <= st.histogram.hi) {
    const x = ((st.mean - st.histogram.lo) / span) * W;
    svg.append(s('line', { class: 'mean', x1: x.toFixed(1), x2: x.toFixed(1), y1: '0', y2: String(H) }));
  }
  const lo = s('text', { class: 'axis', x: '0', y: String(H + 12) });
  lo.textContent = formatScore(st.histogram.lo);
  const hi = s('text', { class: 'axis end', x: String(W), y: String(H + 12) });
  hi.textContent = formatScore(st.histogram.hi);
  svg.append(lo, hi);
  return svg;
}
