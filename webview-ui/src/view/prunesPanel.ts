// Suggested prunes: the lowest-scored candidates, a savings budget that picks them greedily, the
// predicted savings of the current selection, Apply, and the measured result of the last prune.
import type { BudgetMetric, CandidateResult, ModelCheckMsg, PruneCheck, QualityCard, SelectionBudget, ToWebview } from '../../../src/protocol/webview';
import { predictDrop } from '../../../src/core/prune/predicted';
import type { Savings } from '../model/budget';
import { compactId, formatCount, formatFlops, formatMs, formatPercent, formatScore } from '../model/format';
import type { HeatScale } from '../model/heatmap';
import { button, clear, h, icon } from './dom';

/** a check that measured nothing gets a dash, never a tick */
const CHECK_LOOK: Record<PruneCheck['status'], [cls: string, codicon: string, mark: string]> = {
  passed: ['pass', 'pass', '✓'], failed: ['fail', 'error', '✗'], skipped: ['skip', 'dash', '–'],
};

/** Suggestions from a running or cancelled scoring say so: what is not scored yet was not considered. */
export function partialNote(scoring: PrunesModel['scoring']): string | undefined {
  if (scoring.state !== 'running' && scoring.state !== 'cancelled') return undefined;
  const progress = scoring.total ? ` (${scoring.done ?? 0} of ${scoring.total} evaluations)` : '';
  return `Suggested from partial scores${progress}: scoring ${scoring.state === 'running' ? 'is still running' : 'was cancelled'}, and candidates without a score are not considered.`;
}

export type PruneResultMsg = Extract<ToWebview, { type: 'pruneResult' }>;

export interface PrunesModel {
  ranked: CandidateResult[];
  unmodifiable: CandidateResult[];
  failed: CandidateResult[];
  selected: ReadonlySet<string>;
  /** the selected candidate containing id, if any */
  coveredBy(id: string): string | undefined;
  savings: Savings;
  budget: SelectionBudget;
  /** true when the selection is what the budget picked (false after manual changes) */
  budgetDriven: boolean;
  budgetReached: boolean;
  hasLatency: boolean;
  heat: HeatScale | undefined;
  scoring: { state: string; done?: number; total?: number; message?: string };
  pruning: boolean;
  result: PruneResultMsg | undefined;
  showRemoved: boolean;
  distill: { state: string; message?: string; outputPath?: string } | undefined;
  /** a Measure quality job on the result's pruned pipeline */
  measuring?: { state: string; message?: string };
  /** the last "Check model" of the edited document; stale once the model changed after it */
  modelCheck?: { msg: ModelCheckMsg; stale: boolean };
  /** the pipeline's calibration (ld-surgeon report): turns the selection's latent score into a metric drop */
  calibration?: CalibrationMsg;
}

export type CalibrationMsg = Omit<Extract<ToWebview, { type: 'calibration' }>, 'type'>;

export interface PrunesActions {
  setBudget(b: SelectionBudget): void;
  toggle(id: string): void;
  clear(): void;
  apply(): void;
  distill(path: string): void;
  /** measure the pruned pipeline's quality against its original (paired seeds) */
  measure(pipeline: string): void;
  reveal(id: string): void;
  score(): void;
  setShowRemoved(on: boolean): void;
}

const METRICS: { id: BudgetMetric; label: string }[] = [
  { id: 'latency', label: 'Latency' },
  { id: 'params', label: 'Params' },
  { id: 'flops', label: 'FLOPs' },
];

const PAGE = 60;

export class PrunesPanel {
  readonly el: HTMLElement;
  private body: HTMLElement;
  private count: HTMLElement;
  private showAll = false;
  private model: PrunesModel | undefined;

  constructor(host: HTMLElement, private readonly actions: PrunesActions) {
    this.count = h('span', { class: 'badge', 'aria-live': 'polite' });
    this.body = h('div', { class: 'panel-body prunes-body' });
    this.el = h('section', { class: 'panel prunes', 'aria-labelledby': 'prunes-title' }, h('h2', { class: 'panel-title', id: 'prunes-title' }, 'Suggested prunes', this.count), this.body);
    host.append(this.el);
  }

  render(m: PrunesModel): void {
    // keep keyboard focus across re-renders (scores stream in while the user works the list)
    const active = document.activeElement as HTMLElement | null;
    const focusId = active && this.body.contains(active) ? active.dataset.focusId : undefined;
    this.model = m;
    clear(this.body);
    this.count.textContent = m.ranked.length ? String(m.ranked.length) : '';
    // the outcome of the last Apply comes first: it is what the user is waiting for
    if (m.modelCheck) this.body.append(modelCheckCard(m.modelCheck.msg, m.modelCheck.stale));
    if (m.result) this.body.append(this.resultCard(m, m.result));
    if (!m.ranked.length && !m.unmodifiable.length) {
      this.renderEmpty(m);
    } else {
      const partial = partialNote(m.scoring);
      if (partial) this.body.append(h('p', { class: 'partial-note', role: 'note' }, icon('warning', '!'), partial));
      this.body.append(this.budgetControl(m), this.savingsView(m), this.list(m));
      if (m.unmodifiable.length || m.failed.length) this.body.append(this.otherList(m));
      this.body.append(this.actionsBar(m));
    }
    if (focusId) this.body.querySelector<HTMLElement>(`[data-focus-id="${CSS.escape(focusId)}"]`)?.focus();
  }

  private renderEmpty(m: PrunesModel): void {
    if (m.scoring.state === 'running') {
      this.body.append(h('p', { class: 'empty-hint' }, 'Scoring operators… suggestions appear here as results arrive.'));
      return;
    }
    this.body.append(
      h('p', { class: 'empty-hint' }, 'No scores yet.'),
      h('p', { class: 'empty-hint subtle' }, 'LD-Pruner modifies each operator in turn, generates latents with the same seeds, and scores how far they move. The lowest scores are the safest to prune.'),
    );
    if (m.scoring.state === 'failed' && m.scoring.message) this.body.append(h('p', { class: 'error-text', role: 'alert' }, m.scoring.message));
    const b = button({ label: 'Score operators', icon: ['play', '▶'], kind: 'primary', onClick: () => this.actions.score() });
    b.dataset.focusId = 'score';
    this.body.append(h('div', { class: 'actions' }, b));
  }

  private budgetControl(m: PrunesModel): HTMLElement {
    const wrap = h('fieldset', { class: 'budget' });
    wrap.append(h('legend', { class: 'subhead' }, 'Budget', h('span', { class: 'subhead-aside' }, m.budgetDriven ? 'lowest score first' : 'custom selection')));
    const seg = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': 'Budget metric' });
    for (const met of METRICS) {
      const disabled = met.id === 'latency' && !m.hasLatency;
      const id = `metric-${met.id}`;
      const input = h('input', { type: 'radio', name: 'budget-metric', id, value: met.id, disabled }) as HTMLInputElement;
      input.checked = m.budget.metric === met.id;
      input.dataset.focusId = id;
      input.addEventListener('change', () => this.actions.setBudget({ metric: met.id, percent: m.budget.percent }));
      seg.append(input, h('label', { for: id, title: disabled ? 'No latency measurements in these scores' : undefined }, met.label));
    }
    const range = h('input', { type: 'range', min: '0', max: '90', step: '1', id: 'budget-range', 'aria-label': 'Target saving, percent' }) as HTMLInputElement;
    range.value = String(Math.round(m.budget.percent));
    range.dataset.focusId = 'budget-range';
    const num = h('input', { type: 'number', min: '0', max: '100', step: '1', class: 'budget-number', 'aria-label': 'Target saving, percent' }) as HTMLInputElement;
    num.value = String(Math.round(m.budget.percent));
    num.dataset.focusId = 'budget-number';
    range.addEventListener('input', () => {
      num.value = range.value;
      this.actions.setBudget({ metric: m.budget.metric, percent: Number(range.value) });
    });
    num.addEventListener('change', () => {
      const v = Math.max(0, Math.min(100, Number(num.value) || 0));
      this.actions.setBudget({ metric: m.budget.metric, percent: v });
    });
    wrap.append(seg, h('div', { class: 'budget-row' }, h('span', { class: 'budget-label' }, 'save'), range, num, h('span', { class: 'budget-unit' }, '%')));
    if (m.budgetDriven && !m.budgetReached && m.budget.percent > 0) {
      wrap.append(h('p', { class: 'warn-text' }, `Every prunable candidate together saves less than ${formatPercent(m.budget.percent)}.`));
    }
    return wrap;
  }

  private savingsView(m: PrunesModel): HTMLElement {
    const sv = m.savings;
    const row = (label: string, pct: number, detail: string, active: boolean) =>
      h(
        'div',
        { class: `meter${active ? ' active' : ''}` },
        h('span', { class: 'meter-label' }, label),
        meterBar(pct),
        h('span', { class: 'meter-value' }, `−${formatPercent(pct)}`),
        h('span', { class: 'meter-detail' }, detail),
      );
    const box = h('section', { class: 'savings', 'aria-live': 'polite', 'aria-label': 'Predicted savings' });
    box.append(
      h('h3', { class: 'subhead' }, 'Predicted savings', h('span', { class: 'subhead-aside' }, `${sv.roots.length} selected`)),
      row('Latency', sv.latencyPct, m.hasLatency ? (sv.latencyUnknown ? `${sv.latencyUnknown} unmeasured` : '') : 'not measured', m.budget.metric === 'latency'),
      row('Params', sv.paramsPct, formatCount(sv.params), m.budget.metric === 'params'),
      row('FLOPs', sv.flopsPct, formatFlops(sv.flops).replace(' FLOPs', ''), m.budget.metric === 'flops'),
    );
    const covered = [...m.selected].length - sv.roots.length;
    if (covered > 0) box.append(h('p', { class: 'muted small' }, `${covered} selected inside other selected blocks, counted once.`));
    box.append(predictedDropView(m));
    return box;
  }

  private list(m: PrunesModel): HTMLElement {
    const shown = this.showAll ? m.ranked : m.ranked.slice(0, PAGE);
    const extra = this.showAll ? [] : m.ranked.slice(PAGE).filter((r) => m.selected.has(r.id) || m.coveredBy(r.id));
    const ul = h('ul', { class: 'cand-list', 'aria-label': 'Candidates, least important first' });
    [...shown, ...extra].forEach((r, i) => ul.append(this.row(m, r, i)));
    const wrap = h('div', { class: 'cand-wrap' }, h('div', { class: 'cand-head', 'aria-hidden': 'true' }, h('span', null, 'candidate'), h('span', null, 'score'), h('span', null, 'params')), ul);
    if (!this.showAll && m.ranked.length > PAGE) {
      const more = button({ label: `Show all ${m.ranked.length}`, kind: 'toolbar', onClick: () => {
        this.showAll = true;
        if (this.model) this.render(this.model);
      } });
      wrap.append(more);
    }
    return wrap;
  }

  private row(m: PrunesModel, r: CandidateResult, i: number): HTMLElement {
    const cover = m.coveredBy(r.id);
    const checked = m.selected.has(r.id) || !!cover;
    const id = `cand-${i}`;
    const box = h('input', { type: 'checkbox', id, 'aria-describedby': `${id}-meta` }) as HTMLInputElement;
    box.checked = checked;
    box.disabled = !!cover;
    box.dataset.focusId = `cand:${r.id}`;
    box.addEventListener('change', () => this.actions.toggle(r.id));
    const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    if (m.heat && r.score !== null) sw.style.background = m.heat(r.score);
    const name = h('label', { for: id, class: 'cand-name', title: r.id }, sw, h('span', { class: 'cand-id' }, compactId(r.id, 28)));
    const meta = h('span', { class: 'cand-meta', id: `${id}-meta` });
    meta.append(h('span', { class: 'cand-score' }, formatScore(r.score)), h('span', { class: 'cand-params' }, formatCount(r.params)));
    const reveal = button({ label: `Show ${r.id} in graph`, icon: ['target', '◎'], iconOnly: true, kind: 'toolbar', onClick: () => this.actions.reveal(r.id) });
    reveal.dataset.focusId = `reveal:${r.id}`;
    const li = h('li', { class: `cand-row${checked ? ' checked' : ''}${cover ? ' covered' : ''}` }, box, name, meta, reveal);
    const notes: string[] = [];
    if (cover) notes.push(`removed with ${cover}`);
    if (r.modification === 'replace') notes.push('replaced, not removed');
    if (notes.length) li.append(h('span', { class: 'cand-note' }, notes.join(' · ')));
    return li;
  }

  private otherList(m: PrunesModel): HTMLElement {
    const d = h('details', { class: 'other' });
    d.append(h('summary', null, `Not prunable (${m.unmodifiable.length + m.failed.length})`));
    const ul = h('ul', { class: 'other-list' });
    for (const r of [...m.unmodifiable, ...m.failed]) {
      const link = h('button', { type: 'button', class: 'link' }, compactId(r.id, 34));
      link.title = r.id;
      link.addEventListener('click', () => this.actions.reveal(r.id));
      ul.append(h('li', null, h('span', { class: r.modification === 'none' ? 'tag tag-none' : 'tag tag-failed' }, r.modification === 'none' ? 'fixed' : 'failed'), link, r.reason ? h('span', { class: 'other-reason' }, r.reason) : null));
    }
    d.append(ul);
    return d;
  }

  private actionsBar(m: PrunesModel): HTMLElement {
    const n = m.savings.roots.length;
    const apply = button({ label: m.pruning ? 'Pruning…' : `Apply prune${n ? ` (${n})` : ''}`, icon: ['check', '✓'], kind: 'primary', onClick: () => this.actions.apply() });
    apply.disabled = !n || m.pruning;
    apply.dataset.focusId = 'apply';
    const clr = button({ label: 'Clear', kind: 'secondary', onClick: () => this.actions.clear() });
    clr.disabled = !m.selected.size;
    clr.dataset.focusId = 'clear';
    const bar = h('div', { class: 'actions sticky-actions' }, apply, clr);
    if (m.scoring.state === 'running') bar.append(h('span', { class: 'muted small' }, 'scores still arriving'));
    return bar;
  }

  private resultCard(m: PrunesModel, r: PruneResultMsg): HTMLElement {
    const card = h('section', { class: `result-card ${r.ok ? 'ok' : 'failed'}`, 'aria-label': 'Prune result', role: 'status' });
    card.append(
      h('h3', { class: 'result-title' }, icon(r.ok ? 'pass' : 'error', r.ok ? '✓' : '✗'), r.ok ? 'Pruned model written' : 'Prune failed'),
    );
    if (r.error) card.append(h('p', { class: 'error-text' }, r.error));
    const stats = h('div', { class: 'result-stats' });
    if (r.speedup !== undefined) {
      stats.append(stat(`${r.speedup.toFixed(2)}×`, 'measured speed-up', r.latencyBeforeMs !== undefined && r.latencyAfterMs !== undefined ? `${formatMs(r.latencyBeforeMs)} → ${formatMs(r.latencyAfterMs)}` : undefined));
    }
    if (r.paramsBefore !== undefined && r.paramsAfter !== undefined) {
      const saved = r.paramsBefore ? 1 - r.paramsAfter / r.paramsBefore : 0;
      stats.append(stat(`−${formatPercent(saved * 100)}`, 'parameters', `${formatCount(r.paramsBefore)} → ${formatCount(r.paramsAfter)}`));
    }
    stats.append(stat(String(r.removedIds.length), 'modules modified'));
    card.append(stats);
    if (r.paramsUnknown) card.append(h('p', { class: 'muted small' }, r.paramsUnknown));
    if (r.checks.length) card.append(checksList(r.checks));
    if (r.outputPath) card.append(h('div', { class: 'result-path', title: r.outputPath }, icon('file', '▫'), h('span', null, r.outputPath)));
    if (r.samples) card.append(h('p', { class: 'muted small' }, `Samples of the original (top) and the pruned pipeline (bottom), the same ${r.samples.count} seeds, opened beside: ${r.samples.path}`));
    if (r.quality) card.append(qualityView(r.quality));
    if (r.ok && (r.predicted || r.measured)) card.append(predictedVsMeasured(r));
    const toggleId = 'show-removed';
    const t = h('input', { type: 'checkbox', id: toggleId }) as HTMLInputElement;
    t.checked = m.showRemoved;
    t.dataset.focusId = toggleId;
    t.addEventListener('change', () => this.actions.setShowRemoved(t.checked));
    const acts = h('div', { class: 'actions' }, h('label', { class: 'check-line', for: toggleId }, t, 'Before/after: highlight removed modules'));
    if (r.ok && r.outputPath) {
      const path = r.outputPath;
      const d = button({ label: 'Distill…', icon: ['mortar-board', '⚗'], kind: 'primary', onClick: () => this.actions.distill(path) });
      d.disabled = m.distill?.state === 'running';
      d.dataset.focusId = 'distill';
      acts.append(d);
    }
    if (r.ok && r.outputPipeline) {
      const pipeline = r.outputPipeline;
      const running = m.measuring?.state === 'running';
      const q = button({ label: running ? 'Measuring…' : r.quality ? 'Measure again' : 'Measure quality', icon: ['graph', '≈'], title: "The pipeline's metric on the original and the pruned pipeline at n = 200, the same seeds", onClick: () => this.actions.measure(pipeline) });
      q.disabled = running;
      q.dataset.focusId = 'measure';
      acts.append(q);
    }
    card.append(acts);
    if (m.measuring && m.measuring.state !== 'done') {
      const text = m.measuring.state === 'running' ? 'Measuring quality… (progress in the Jobs view)' : m.measuring.state === 'cancelled' ? 'Quality measurement cancelled.' : `Quality measurement failed: ${m.measuring.message ?? ''}`;
      card.append(h('p', { class: m.measuring.state === 'failed' ? 'error-text' : 'muted small', role: 'status' }, text));
    }
    if (m.distill) {
      card.append(h('p', { class: m.distill.state === 'failed' ? 'error-text' : 'muted small', role: 'status' }, m.distill.state === 'running' ? `Distilling… ${m.distill.message ?? ''}` : m.distill.state === 'done' ? `Distilled: ${m.distill.outputPath ?? m.distill.message ?? ''}` : `Distillation failed: ${m.distill.message ?? ''}`));
    }
    return card;
  }
}

const signed = (x: number, digits = 3) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;
const rhoText = (rho: number) => (Number.isFinite(rho) ? rho.toFixed(2) : 'n/a');

/** The predicted quality drop of the accepted set, live: its latent score sum, and the metric when calibrated. */
function predictedDropView(m: PrunesModel): HTMLElement {
  const p = predictDrop(m.ranked, m.savings.roots);
  const fit = m.calibration?.fit;
  const box = h('div', { class: 'predicted-drop', 'aria-label': 'Predicted quality drop' });
  box.append(h('div', { class: 'predicted-line' },
    h('span', { class: 'meter-label' }, 'Quality'),
    h('span', { class: 'predicted-latent', title: 'Sum of the selected candidates\' LD-Pruner scores (latent-score units)' }, `latent score ${formatScore(p.latentScore)}`),
    fit ? h('span', { class: 'predicted-metric', title: m.calibration!.note }, `${fit.metric} ${signed(fit.slope * p.latentScore)}`) : null,
  ));
  const why = fit ? `predicted: fit through the origin, n=${fit.n}, ρ ${rhoText(fit.rho)}` : (m.calibration?.note ?? 'latent units only; run ld-surgeon report for a metric prediction');
  box.append(h('p', { class: 'muted small' }, p.unscored.length ? `${why}; ${p.unscored.length} unscored not counted` : why));
  return box;
}

/** After Apply: what the scores predicted beside what the prune's checks (and Measure quality) measured. */
function predictedVsMeasured(r: PruneResultMsg): HTMLElement {
  const pr = r.predicted;
  const me = r.measured;
  const q = r.quality;
  const table = h('table', { class: 'predicted-vs-measured', 'aria-label': 'Predicted vs measured quality drop' });
  table.append(h('tr', null, h('th', null, ''), h('th', null, 'predicted'), h('th', null, 'measured')));
  table.append(h('tr', null, h('th', null, 'latent score'), h('td', null, pr ? formatScore(pr.latentScore) : '–'), h('td', null, me?.latentScore !== undefined ? `${formatScore(me.latentScore)} (combined)` : '–')));
  const metricName = pr?.metric?.name ?? me?.metric?.name ?? q?.metric;
  if (metricName) {
    const measured: string[] = [];
    if (me?.metric) measured.push(`${signed(me.metric.after - me.metric.before)} (n=${me.metric.n}${me.metric.indicative ? ', indicative' : ''})`);
    if (q?.metric && q.original !== undefined && q.measured !== undefined) measured.push(`${signed(q.measured - q.original)} (quality.json, n=${q.n})`);
    table.append(h('tr', null, h('th', null, metricName), h('td', null, pr?.metric ? `${signed(pr.metric.drop)} (fit n=${pr.metric.n}, ρ ${rhoText(pr.metric.rho)})` : '–'), h('td', null, measured.join(' · ') || '–')));
  }
  const box = h('div', { class: 'predicted-result' }, h('h4', { class: 'subhead' }, 'Quality drop: predicted vs measured'), table);
  if (pr?.note) box.append(h('p', { class: 'muted small' }, pr.note));
  return box;
}

/** The checks as passed / failed / skipped rows (a skipped one says why, never shows a tick). */
function checksList(checks: readonly PruneCheck[]): HTMLElement {
  const ul = h('ul', { class: 'checks' });
  for (const c of checks) {
    const [cls, codicon, mark] = CHECK_LOOK[c.status];
    const detail = c.status === 'skipped' ? `skipped: ${c.detail ?? 'nothing was measured'}` : c.detail;
    ul.append(h('li', { class: cls, title: c.status === 'skipped' ? 'not measured' : undefined }, icon(codicon, mark), h('span', { class: 'check-name' }, c.name), detail ? h('span', { class: 'check-detail' }, detail) : null));
    if (c.indicative) ul.append(h('li', { class: 'note' }, h('span', null), h('span', { class: 'check-note' }, `indicative only: ${c.indicative}`)));
  }
  return ul;
}

/**
 * "Check model" on the edited document: running, or its checks with the output difference and
 * latency against the original; `stale` when the model was edited after the check ran.
 */
export function modelCheckCard(c: ModelCheckMsg, stale: boolean): HTMLElement {
  if (c.state === 'running') {
    return h('section', { class: 'result-card', 'aria-label': 'Model check', role: 'status' }, h('h3', { class: 'result-title' }, icon('loading', '…'), 'Checking the edited model…'));
  }
  if (c.state === 'failed') {
    return h('section', { class: 'result-card failed', 'aria-label': 'Model check', role: 'status' }, h('h3', { class: 'result-title' }, icon('error', '✗'), 'Model check could not run'), h('p', { class: 'error-text' }, c.error));
  }
  const ok = !c.checks.some((x) => x.status === 'failed');
  const card = h('section', { class: `result-card ${ok ? 'ok' : 'failed'}`, 'aria-label': 'Model check', role: 'status' });
  card.append(h('h3', { class: 'result-title' }, icon(ok ? 'pass' : 'error', ok ? '✓' : '✗'), ok ? 'Edited model passes the checks' : 'Edited model fails a check'));
  if (stale) card.append(h('p', { class: 'partial-note', role: 'note' }, icon('warning', '!'), 'The model was edited after this check: run Check model again.'));
  const stats = h('div', { class: 'result-stats' });
  if (c.maxAbsDiff !== undefined) stats.append(stat(c.maxAbsDiff === 0 ? '0' : c.maxAbsDiff.toPrecision(3), 'max output difference', 'vs the original, same seeded inputs'));
  if (c.latencyBeforeMs !== undefined && c.latencyAfterMs !== undefined) {
    stats.append(stat(`${(c.latencyBeforeMs / c.latencyAfterMs).toFixed(2)}×`, `measured speed-up${c.ep ? ` (${c.ep})` : ''}`, `${formatMs(c.latencyBeforeMs)} → ${formatMs(c.latencyAfterMs)}`));
  }
  if (stats.childNodes.length) card.append(stats);
  card.append(checksList(c.checks));
  return card;
}

function meterBar(pct: number): HTMLElement {
  const fill = h('span', { class: 'meter-fill' });
  fill.style.width = `${Math.max(0, Math.min(100, pct)).toFixed(1)}%`;
  return h('span', { class: 'meter-bar', role: 'presentation' }, fill);
}

function stat(value: string, label: string, detail?: string): HTMLElement {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label), detail ? h('div', { class: 'stat-detail' }, detail) : null);
}

/** The measured quality of the pruned pipeline (its quality.json): original → pruned, with n and noise. */
function qualityView(q: QualityCard): HTMLElement {
  const box = h('section', { class: 'quality', 'aria-label': 'Measured quality' });
  box.append(h('h4', { class: 'subhead' }, 'Measured quality', h('span', { class: 'subhead-aside' }, `n = ${q.n}, same seeds`)));
  const pm = (v: number, s: number | undefined) => `${v.toFixed(2)}${s !== undefined ? ` ±${s.toFixed(2)}` : ''}`;
  if (q.metric && q.original !== undefined && q.measured !== undefined) {
    box.append(h('p', { class: 'quality-line' }, h('strong', null, q.metric), ` ${pm(q.original, q.originalSpread)} → ${pm(q.measured, q.measuredSpread)}`));
    if (q.indicative) box.append(h('p', { class: 'warn-text small' }, `Indicative only: ${q.indicative}`));
  } else {
    box.append(h('p', { class: 'muted small' }, `No metric: ${q.noMetric ?? 'the pipeline ships none'}`));
  }
  if (q.accuracyOriginal !== undefined && q.accuracyMeasured !== undefined) {
    box.append(h('p', { class: 'quality-line' }, h('strong', null, 'Class accuracy'), ` ${(100 * q.accuracyOriginal).toFixed(1)}% → ${(100 * q.accuracyMeasured).toFixed(1)}%`));
  }
  box.append(h('p', { class: 'quality-line' }, h('strong', null, 'Latent distance'), ` ${q.latentDistance === 0 ? '0 (identical)' : q.latentDistance.toPrecision(4)}`));
  box.append(h('p', { class: 'muted small', title: q.file }, q.file));
  return box;
}
