// Hover card for graph items: what a user needs to judge a candidate at a glance.
import type { CandidateResult } from '../../../src/protocol/webview';
import { formatCount, formatFlops, formatScore, formatShape, formatShare } from '../model/format';
import type { ViewGraph } from '../model/graph';
import type { VisibleItem } from '../model/visible';
import { clear, h } from './dom';
import type { Heat } from './graphView';

export class Tooltip {
  readonly el: HTMLDivElement;
  private current: string | undefined;

  constructor(private readonly host: HTMLElement, private graph: ViewGraph) {
    this.el = h('div', { class: 'tooltip', role: 'tooltip', 'aria-hidden': 'true' });
    host.append(this.el);
  }

  /** The model changed (an edit): the next card is filled from it. */
  setGraph(graph: ViewGraph): void {
    this.graph = graph;
    this.current = undefined;
    this.hide();
  }

  /** `member`: a block of a compact stack (the cell under the pointer), shown instead of the stack. */
  show(it: VisibleItem, heat: Heat | undefined, at: { x: number; y: number }, member?: string): void {
    const sig = `${it.key}|${member ?? ''}|${heat?.result.score ?? ''}|${heat?.result.id ?? ''}`;
    if (sig !== this.current) {
      this.current = sig;
      clear(this.el);
      if (it.kind === 'stack') this.fillStack(it, heat, member);
      else this.fill(it, heat);
    }
    this.el.classList.add('visible');
    const r = this.host.getBoundingClientRect();
    const w = this.el.offsetWidth;
    const hgt = this.el.offsetHeight;
    let x = at.x - r.left + 16;
    let y = at.y - r.top + 16;
    if (x + w > r.width - 8) x = Math.max(8, at.x - r.left - w - 12);
    if (y + hgt > r.height - 8) y = Math.max(8, at.y - r.top - hgt - 12);
    this.el.style.transform = `translate(${Math.round(x)}px, ${Math.round(y)}px)`;
  }

  hide(): void {
    this.el.classList.remove('visible');
  }

  private fill(it: VisibleItem, heat: Heat | undefined): void {
    const g = this.graph;
    const rows: [string, string][] = [];
    let title = '';
    let kind = '';
    if (it.kind === 'io') {
      const v = g.values.get(it.io!);
      title = it.io!;
      kind = it.key.startsWith('i:') ? 'graph input' : 'graph output';
      rows.push(['shape', formatShape(v?.shape)], ['type', v?.dtype ?? '?']);
    } else if (it.kind === 'node') {
      const n = g.nodes[it.node!];
      title = n.id;
      kind = `${n.op} operator`;
      const out = n.outputs[0] ? g.values.get(n.outputs[0]) : undefined;
      rows.push(['output', formatShape(out?.shape)]);
      const weights = g.weightsOf(n.index);
      if (weights.length) rows.push(['weights', formatCount(weights.reduce((s, w) => s + (w.shape ?? []).reduce((a: number, b) => a * (typeof b === 'number' ? b : 1), 1), 0))]);
    } else {
      const m = g.modules.get(it.moduleId!)!;
      title = m.id;
      kind = it.kind === 'group' ? 'module (expanded)' : it.node !== undefined ? `layer · ${g.nodes[it.node].op}` : `module · ${m.children.length} submodules`;
      rows.push(['params', formatCount(m.params)], ['FLOPs', formatFlops(m.flops)], ['operators', String(m.shownCount)]);
    }
    this.el.append(h('div', { class: 'tt-title' }, title), h('div', { class: 'tt-kind' }, kind));
    if (heat) this.el.append(scoreBlock(heat));
    const dl = h('dl', { class: 'tt-grid' });
    for (const [k, v] of rows) dl.append(h('dt', null, k), h('dd', null, v));
    if (heat) {
      const r = heat.result;
      if (r.latencyShare !== undefined) dl.append(h('dt', null, 'latency'), h('dd', null, formatShare(r.latencyShare)));
    }
    this.el.append(dl);
    if (it.kind === 'block' && g.expandable(it.moduleId!)) this.el.append(h('div', { class: 'tt-hint' }, 'Click to expand'));
    else if (it.kind === 'group') this.el.append(h('div', { class: 'tt-hint' }, 'Click the header to collapse'));
  }

  private fillStack(it: VisibleItem, heat: Heat | undefined, member: string | undefined): void {
    const g = this.graph;
    const st = g.stackById.get(it.stackId!)!;
    if (member) {
      const m = g.modules.get(member)!;
      this.el.append(h('div', { class: 'tt-title' }, m.id), h('div', { class: 'tt-kind' }, `block ${st.members.indexOf(member) + 1} of ${st.members.length} in ${st.name}`));
      if (heat) this.el.append(scoreBlock(heat));
      else this.el.append(h('div', { class: 'tt-score' }, h('div', { class: 'tt-mod' }, 'not scored')));
      const dl = h('dl', { class: 'tt-grid' });
      dl.append(h('dt', null, 'params'), h('dd', null, formatCount(m.params)), h('dt', null, 'FLOPs'), h('dd', null, formatFlops(m.flops)));
      if (heat?.result.latencyShare !== undefined) dl.append(h('dt', null, 'latency'), h('dd', null, formatShare(heat.result.latencyShare)));
      this.el.append(dl, h('div', { class: 'tt-hint' }, 'Click to select this block'));
      return;
    }
    const params = st.members.reduce((sum, id) => sum + (g.modules.get(id)?.params ?? 0), 0);
    const flops = st.members.reduce((sum, id) => sum + (g.modules.get(id)?.flops ?? 0), 0);
    this.el.append(h('div', { class: 'tt-title' }, st.id), h('div', { class: 'tt-kind' }, `depth stack · ${st.members.length} blocks of the same build`));
    const dl = h('dl', { class: 'tt-grid' });
    dl.append(h('dt', null, 'params'), h('dd', null, formatCount(params)), h('dt', null, 'FLOPs'), h('dd', null, formatFlops(flops)));
    this.el.append(dl, h('div', { class: 'tt-hint' }, 'Double-click to open block by block'));
  }
}

function scoreBlock(heat: Heat): HTMLElement {
  const r: CandidateResult = heat.result;
  const box = h('div', { class: 'tt-score' });
  if (!heat.own) {
    box.append(h('div', { class: 'tt-inherited' }, `inside candidate ${r.id}`));
  }
  if (r.modification === 'none') {
    box.append(h('div', { class: 'tt-mod tt-mod-none' }, 'cannot be modified'));
  } else if (r.score === null) {
    box.append(h('div', { class: 'tt-mod' }, 'not scored'));
  } else {
    box.append(
      h('div', { class: 'tt-score-line' }, h('span', { class: 'tt-score-label' }, heat.own ? 'LD-Pruner score' : 'its score'), h('span', { class: 'tt-score-value' }, formatScore(r.score))),
      h('div', { class: 'tt-mod' }, r.modification === 'remove' ? 'modification: remove (bypass)' : 'modification: replace with cheaper op'),
    );
  }
  if (r.reason) box.append(h('div', { class: 'tt-reason' }, r.reason));
  return box;
}
