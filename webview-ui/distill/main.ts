// Distillation chart webview: reduces the trainer's events (streamed by src/extension/distill/distillChart.ts)
// and draws the losses, one chart per evaluation metric against the teacher, and throughput.
import { select } from 'd3';
import {
  DISTILL_CHART_PROTOCOL_VERSION, parseToChart, type ChartSnapshot, type FromChart, type ToChart,
} from '../../src/protocol/distillChart';
import { LOSS_LABELS, LOSS_PARTS, RunSeriesReducer, isLive, statusText, type LossPart, type RunSeries } from '../../src/core/distill/runSeries';
import { LineChart, preciseNumber, shortNumber, type ChartSeries } from './lineChart';
import { connectWebview } from '../common/connect';
import './style.css';

const LOSS_CLASS: Record<LossPart, string> = { total: 's-blue', task: 's-orange', out: 's-green', feat: 's-purple' };
/** a trainer that logs nothing for this long while "running" has probably died (killed, machine lost) */
const STALE_MS = 120_000;

class ChartApp {
  private reducer = new RunSeriesReducer();
  private title = '';
  private eventsFile = '';
  private file: { exists: boolean; mtimeMs?: number; error?: string } | undefined;
  /** this clock minus the host's, so a remote host's file times compare with Date.now() */
  private clockSkew = 0;
  private skippedLines = 0;
  private frame = 0;
  private header: HTMLElement;
  private lossBox: HTMLElement;
  private lossEmpty: HTMLElement;
  private lossLegend: HTMLElement;
  private lossChart: LineChart;
  private metricsBox: HTMLElement;
  private metricCharts = new Map<string, { box: HTMLElement; legend: HTMLElement; chart: LineChart }>();
  private rateChart: LineChart;
  private lrChart: LineChart;
  private sideBox: HTMLElement;

  constructor(
    private readonly el: HTMLElement,
    private readonly post: (msg: FromChart) => void,
  ) {
    el.replaceChildren();
    el.classList.add('dc-app');
    this.header = el.appendChild(document.createElement('header'));
    this.header.className = 'dc-header';
    const loss = this.section('Distillation loss', 'log scale · mean over each logging window');
    this.lossBox = loss.box;
    this.lossLegend = loss.legend;
    this.lossEmpty = this.lossBox.appendChild(document.createElement('div'));
    this.lossEmpty.className = 'dc-empty';
    this.lossChart = new LineChart(this.lossBox, { logY: true, height: 300 });
    this.metricsBox = el.appendChild(document.createElement('div'));
    this.metricsBox.className = 'dc-row';
    this.sideBox = el.appendChild(document.createElement('div'));
    this.sideBox.className = 'dc-row';
    const rate = this.section('Throughput', 'samples/s', this.sideBox);
    this.rateChart = new LineChart(rate.box, { height: 150 });
    const lr = this.section('Learning rate', '', this.sideBox);
    this.lrChart = new LineChart(lr.box, { height: 150 });
    new ResizeObserver(() => this.schedule()).observe(el);
    // "last event 3 min ago" ages without new messages
    setInterval(() => this.renderHeader(this.reducer.series), 10_000);
  }

  handle(msg: ToChart): void {
    switch (msg.type) {
      case 'init':
        this.title = msg.title;
        this.eventsFile = msg.eventsFile;
        if (msg.theme) document.body.classList.add(msg.theme === 'light' ? 'vscode-light' : msg.theme === 'high-contrast' ? 'vscode-high-contrast' : 'vscode-dark');
        break;
      case 'events':
        if (msg.reset) {
          this.reducer = new RunSeriesReducer();
          this.skippedLines = 0;
        }
        this.reducer.addAll(msg.events);
        this.skippedLines += msg.skippedLines ?? 0;
        break;
      case 'file':
        this.file = { exists: msg.exists, mtimeMs: msg.mtimeMs, error: msg.error };
        if (msg.hostNowMs !== undefined) this.clockSkew = Date.now() - msg.hostNowMs;
        if (msg.trainerGone) this.reducer.markTrainerGone();
        break;
    }
    this.schedule();
  }

  /** Many messages in one frame (a replay, a burst of steps) draw once. */
  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private section(title: string, note: string, parent: HTMLElement = this.el): { box: HTMLElement; legend: HTMLElement; head: HTMLElement } {
    const box = parent.appendChild(document.createElement('section'));
    box.className = 'dc-chart';
    const head = box.appendChild(document.createElement('div'));
    head.className = 'dc-chart-head';
    const h = head.appendChild(document.createElement('h2'));
    h.textContent = title;
    if (note) {
      const n = head.appendChild(document.createElement('span'));
      n.className = 'dc-note';
      n.textContent = note;
    }
    const legend = head.appendChild(document.createElement('div'));
    legend.className = 'dc-legend';
    return { box, legend, head };
  }

  private render(): void {
    const s = this.reducer.series;
    this.renderHeader(s);
    const xDomain: [number, number] = [0, Math.max(s.totalSteps ?? 0, s.step, 1)];
    const resumes = s.resumes.filter((r) => r.step > 0).map((r) => ({ step: r.step, label: `resumed @${r.step}` }));

    const lossSeries: ChartSeries[] = LOSS_PARTS.filter((p) => s.losses[p].length).map((p) => ({
      key: `loss.${p}`,
      label: LOSS_LABELS[p],
      cls: LOSS_CLASS[p],
      points: s.losses[p],
    }));
    const empty = !lossSeries.length;
    this.lossEmpty.hidden = !empty;
    this.lossChart.root.hidden = empty;
    if (empty) {
      this.lossEmpty.textContent = this.emptyText(s);
      this.lossLegend.replaceChildren();
    } else {
      // a part that is exactly 0 throughout (λ = 0, no matched feature stages) cannot sit on a log axis
      const flatZero = lossSeries.filter((x) => x.points.every((p) => p.value <= 0)).map((x) => x.label);
      this.legend(this.lossLegend, lossSeries.map((x) => ({ label: x.label, cls: x.cls })), flatZero.length ? `${flatZero.join(', ')}: 0 (not on a log axis)` : undefined);
      this.lossChart.render({ series: lossSeries, xDomain, vlines: resumes });
    }

    this.renderMetrics(s, xDomain, resumes);
    this.rateChart.render({ series: [{ key: 'samples_per_s', label: 'samples/s', cls: 's-blue', points: s.samplesPerS }], xDomain, vlines: resumes });
    this.lrChart.render({ series: [{ key: 'lr', label: 'lr', cls: 's-orange', points: s.lr }], xDomain, formatValue: (v) => shortNumber(v) });
    this.sideBox.hidden = empty;
    this.el.dataset.ready = 'true';
    this.el.dataset.state = s.state;
    this.postSnapshot(s, empty);
  }

  private emptyText(s: RunSeries): string {
    if (s.state === 'error') return `The run failed before its first step: ${s.message ?? ''}`;
    if (s.state === 'cancelled') return 'The run was cancelled before its first step.';
    if (s.state === 'lost') return `Training never began: ${s.message ?? ''}.`;
    if (s.state === 'waiting') {
      if (this.file?.error) return this.file.error;
      return this.file && !this.file.exists ? `Waiting for the trainer to start… (${this.eventsFile} does not exist yet)` : 'Waiting for the trainer to start…';
    }
    return `Waiting for the first step… (${s.phase ?? 'preparing'})`;
  }

  private renderMetrics(s: RunSeries, xDomain: [number, number], resumes: { step: number; label: string }[]): void {
    const names = new Set(s.metrics.map((m) => m.name));
    for (const [name, c] of this.metricCharts) {
      if (!names.has(name)) {
        c.box.remove();
        this.metricCharts.delete(name);
      }
    }
    if (!s.metrics.length) {
      this.metricsBox.hidden = s.state === 'waiting' || s.state === 'error';
      let note = this.metricsBox.querySelector<HTMLElement>('.dc-empty');
      if (!note) {
        note = this.metricsBox.appendChild(document.createElement('div'));
        note.className = 'dc-empty dc-empty-small';
      }
      note.textContent = 'Evaluations (the student before training, then every ' + (s.evalEvery ? `${s.evalEvery} steps` : 'evaluation') + ') appear here.';
      return;
    }
    this.metricsBox.hidden = false;
    this.metricsBox.querySelector('.dc-empty')?.remove();
    for (const m of s.metrics) {
      let c = this.metricCharts.get(m.name);
      if (!c) {
        const sec = this.section(m.name, m.higherIsBetter ? 'higher is better' : 'lower is better', this.metricsBox);
        c = { box: sec.box, legend: sec.legend, chart: new LineChart(sec.box, { height: 200 }) };
        this.metricCharts.set(m.name, c);
      }
      const legend = [{ label: 'student', cls: 's-blue' }];
      if (m.teacher !== undefined) legend.push({ label: `teacher ${preciseNumber(m.teacher)}`, cls: 's-teacher' });
      const extra: string[] = [];
      if (m.before !== undefined) extra.push(`before ${preciseNumber(m.before)}`);
      if (m.after !== undefined) extra.push(`exported ${preciseNumber(m.after)}`);
      this.legend(c.legend, legend, extra.join(' → ') || undefined);
      const markers = [];
      if (m.before !== undefined) markers.push({ step: 0, value: m.before, label: 'before', cls: 'm-before' });
      const best = s.bestStep !== undefined && s.bestStep > 0 ? m.points.find((p) => p.step === s.bestStep) : undefined;
      if (best) markers.push({ step: best.step, value: best.value, label: 'best', cls: 'm-best' });
      c.chart.render({
        series: [{ key: `metric.${m.name}`, label: m.name, cls: 's-blue', points: m.points, dots: true }],
        refs: m.teacher !== undefined ? [{ label: 'teacher', value: m.teacher, cls: 's-teacher' }] : [],
        markers,
        vlines: resumes,
        xDomain,
      });
    }
  }

  private legend(el: HTMLElement, items: { label: string; cls: string }[], note?: string): void {
    const sel = select(el);
    sel.selectAll('*').remove();
    for (const it of items) {
      const item = sel.append('span').attr('class', 'dc-legend-item');
      item.append('span').attr('class', `dc-swatch ${it.cls}`);
      item.append('span').text(it.label);
    }
    if (note) sel.append('span').attr('class', 'dc-note').text(note);
  }

  private renderHeader(s: RunSeries): void {
    const h = select(this.header);
    h.selectAll('*').remove();
    const top = h.append('div').attr('class', 'dc-header-top');
    top.append('h1').text(this.title || 'Distillation');
    top.append('span').attr('class', `dc-status dc-state-${s.state}`).attr('role', 'status').text(statusText(s));
    const facts = h.append('dl').attr('class', 'dc-facts');
    const fact = (k: string, v: string | undefined) => {
      if (v === undefined) return;
      const d = facts.append('div');
      d.append('dt').text(k);
      d.append('dd').text(v);
    };
    fact('step', s.totalSteps ? `${s.step} / ${s.totalSteps}` : String(s.step));
    fact('device', s.device);
    const sps = s.samplesPerS[s.samplesPerS.length - 1];
    fact('samples/s', sps ? shortNumber(sps.value) : undefined);
    const lastLoss = s.losses.total[s.losses.total.length - 1];
    fact('loss', lastLoss ? preciseNumber(lastLoss.value) : undefined);
    fact('best step', s.bestStep !== undefined ? String(s.bestStep) : undefined);
    if (s.resumes.length) {
      fact('resumed', s.resumes.map((r) => `@${r.step}${r.dropped ? ` (${r.dropped} redone point${r.dropped === 1 ? '' : 's'} replaced)` : ''}`).join(', '));
    }
    if (isLive(s) && this.file?.mtimeMs !== undefined) {
      const age = Date.now() - this.clockSkew - this.file.mtimeMs;
      if (age > STALE_MS) fact('last event', `${ago(age)} ago: is the trainer still running?`);
    }
    if (s.state === 'done') {
      if (s.output) {
        const d = facts.append('div').attr('class', 'dc-output');
        d.append('dt').text('output');
        const a = d.append('dd').append('a').attr('href', '#').text(s.output);
        const path = s.output;
        a.on('click', (ev: MouseEvent) => {
          ev.preventDefault();
          this.post({ type: 'openOutput', path });
        });
      } else fact('output', 'not exported (--no-export)');
    }
    if (s.state === 'error' && s.message) h.append('div').attr('class', 'dc-banner dc-banner-error').attr('role', 'alert').text(s.message);
    if (s.state === 'lost') {
      h.append('div').attr('class', 'dc-banner dc-banner-warn').attr('role', 'alert')
        .text(`${sentence(s.message ?? '')}. Resume the run (Jobs view, or ld-surgeon distill --resume) to continue from its latest checkpoint.`);
    }
    if (s.diverged) h.append('div').attr('class', 'dc-banner dc-banner-warn').text(`The ${LOSS_LABELS[s.diverged.part]} loss became NaN or infinite at step ${s.diverged.step}: lower --lr or check the data.`);
    if (this.file?.error) h.append('div').attr('class', 'dc-banner dc-banner-error').text(this.file.error);
    if (this.skippedLines) h.append('div').attr('class', 'dc-banner dc-banner-warn').text(`${this.skippedLines} line${this.skippedLines === 1 ? '' : 's'} of ${this.eventsFile} could not be read as events and were skipped.`);
  }

  private postSnapshot(s: RunSeries, empty: boolean): void {
    const points: Record<string, number> = {};
    for (const p of LOSS_PARTS) if (s.losses[p].length) points[`loss.${p}`] = s.losses[p].length;
    points.lr = s.lr.length;
    points.samples_per_s = s.samplesPerS.length;
    const teacher: Record<string, number> = {};
    for (const m of s.metrics) {
      points[`metric.${m.name}`] = m.points.length;
      if (m.teacher !== undefined) teacher[m.name] = m.teacher;
    }
    const drawn: Record<string, number> = { ...(empty ? {} : this.lossChart.drawn), ...this.rateChart.drawn, ...this.lrChart.drawn };
    for (const c of this.metricCharts.values()) Object.assign(drawn, c.chart.drawn);
    const snapshot: ChartSnapshot = {
      points,
      drawn,
      status: statusText(s),
      state: s.state,
      step: s.step,
      totalSteps: s.totalSteps,
      bestStep: s.bestStep,
      empty,
      teacher,
      resumes: s.resumes.map((r) => r.step),
    };
    this.post({ type: 'rendered', snapshot });
  }
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

const { host, root } = connectWebview<ToChart, FromChart>(parseToChart, (msg) => app.handle(msg));
const app = new ChartApp(root, (m) => host.postMessage(m));
host.postMessage({ type: 'ready', protocolVersion: DISTILL_CHART_PROTOCOL_VERSION });

function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
