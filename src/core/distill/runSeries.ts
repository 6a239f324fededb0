// Turns a distillation run's events (python/ld_surgeon_distill prints them and appends them to
// `<runDir>/events.jsonl`) into what a chart draws: loss curves, learning rate, throughput, one series per
// evaluation metric with the teacher's and the untrained student's values, and a status line.
// No vscode and no DOM here: the extension host reduces a run for its panel title, the webview reduces
// the same events to draw them, and tests run it in node.
import { parseEvent, type TrainerEvent } from './events';

export interface Point {
  step: number;
  value: number;
}

export const LOSS_PARTS = ['total', 'task', 'out', 'feat'] as const;
export type LossPart = (typeof LOSS_PARTS)[number];

/** What each loss part is, for legends (the trainer's BK-SDM-style objective). */
export const LOSS_LABELS: Record<LossPart, string> = {
  total: 'total',
  task: 'task (denoising)',
  out: 'output KD',
  feat: 'feature KD',
};

export interface MetricSeries {
  name: string;
  /** the student's evaluations in step order; step 0 is the student before distillation */
  points: Point[];
  /** the teacher's value: the target the student is distilled towards */
  teacher?: number;
  /** the student's value before any training step */
  before?: number;
  /** the exported model's value (the best checkpoint, re-evaluated after export) */
  after?: number;
  higherIsBetter: boolean;
}

/** `lost`: the trainer process is gone but the run has no final event (it was killed or crashed) */
export type RunState = 'waiting' | 'preparing' | 'running' | 'cancelled' | 'done' | 'error' | 'lost';

export interface ResumeMark {
  /** the checkpoint step the resumed run continued from */
  step: number;
  /** logged points (steps and evaluations) after that step that the resumed run redid, dropped */
  dropped: number;
}

export interface RunSeries {
  losses: Record<LossPart, Point[]>;
  lr: Point[];
  samplesPerS: Point[];
  metrics: MetricSeries[];
  state: RunState;
  /** what the trainer is doing before the first step (loading, generating data, evaluating) */
  phase?: string;
  /** the error's message, or where a cancelled run left its checkpoint */
  message?: string;
  /** the latest logged step (0 until training logs one) */
  step: number;
  totalSteps?: number;
  /** steps between evaluations (0: only before and after training) */
  evalEvery?: number;
  /** the step whose weights are (or will be) exported: the best evaluation so far */
  bestStep?: number;
  /** e.g. "cuda:0 · NVIDIA H100 80GB HBM3 · bfloat16" */
  device?: string;
  /** the trainer's main process, from its latest `start` (older trainers do not say) */
  trainer?: { pid: number; host: string };
  output?: string | null;
  resumes: ResumeMark[];
  /** the first logged loss that was NaN or infinite: the run diverged there */
  diverged?: { step: number; part: LossPart };
  /** lines of the events file that were not events (corrupt or foreign) */
  skippedLines: number;
}

// Metrics where a larger value is better; every other metric the evaluator reports (FID, FAD,
// latent_score) is a distance to the teacher or to real data.
const HIGHER_IS_BETTER = new Set(['class_accuracy', 'accuracy', 'clip_score', 'inception_score', 'is']);

export function metricHigherIsBetter(name: string): boolean {
  return HIGHER_IS_BETTER.has(name.toLowerCase());
}

export function emptyRunSeries(): RunSeries {
  return {
    losses: { total: [], task: [], out: [], feat: [] },
    lr: [],
    samplesPerS: [],
    metrics: [],
    state: 'waiting',
    step: 0,
    resumes: [],
    skippedLines: 0,
  };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Drops points after `step` (from a series kept in step order); returns how many went. */
function dropAfter(points: Point[], step: number): number {
  let keep = points.length;
  while (keep > 0 && points[keep - 1].step > step) keep--;
  const dropped = points.length - keep;
  points.length = keep;
  return dropped;
}

/**
 * Reduces events one at a time (a live run appends a few per second; a replay may bring 10k at once),
 * mutating one RunSeries in place so each event costs O(1) amortised.
 */
export class RunSeriesReducer {
  readonly series: RunSeries = emptyRunSeries();
  /** eval steps that were marked best, in order, so a resume can fall back to the best before it */
  private bestMarks: number[] = [];
  private resumedStart = false;

  addAll(events: Iterable<TrainerEvent>): this {
    for (const e of events) this.add(e);
    return this;
  }

  /**
   * Whoever can see the trainer's host found its process gone while the run still looks live: it was killed
   * or crashed before writing a final event. A later `start` (a resume appending to the same file) clears it.
   */
  markTrainerGone(): void {
    const s = this.series;
    if (!isLive(s)) return;
    s.state = 'lost';
    s.phase = undefined;
    s.message = `the trainer${s.trainer ? ` (pid ${s.trainer.pid})` : ''} stopped without a final event: it was killed or crashed`;
  }

  add(e: TrainerEvent): void {
    const s = this.series;
    switch (e.event) {
      case 'start': {
        // a resumed run starts again: whatever ended the previous attempt no longer holds
        s.state = 'preparing';
        this.resumedStart = e.resumed === true;
        s.phase = this.resumedStart ? 'resuming: loading models' : 'loading models';
        s.message = undefined;
        s.output = undefined;
        const steps = num(e.steps);
        if (steps !== undefined) s.totalSteps = steps;
        const every = num(e.eval_every);
        if (every !== undefined) s.evalEvery = every;
        s.device = describeDevice(e);
        const pid = num(e.pid);
        s.trainer = pid !== undefined && typeof e.host === 'string' ? { pid, host: e.host } : undefined;
        break;
      }
      case 'setup':
        if (s.state === 'preparing') s.phase = 'preparing training data';
        break;
      case 'data_progress':
        if (s.state === 'preparing') s.phase = `generating training latents ${e.done}/${e.total}`;
        break;
      case 'data':
        // a fresh run evaluates the teacher and the untrained student next; a resumed one trains at once
        if (s.state === 'preparing') s.phase = this.resumedStart ? 'resuming: loading the checkpoint' : 'evaluating the teacher and the student before training';
        break;
      case 'resume':
        this.truncateAfter(num(e.step) ?? 0, true);
        break;
      case 'step':
        this.addStep(e);
        break;
      case 'eval':
        this.addEval(e);
        break;
      case 'checkpoint':
        break;
      case 'cancelled':
        s.state = 'cancelled';
        s.step = num(e.step) ?? s.step;
        s.message = e.checkpoint ? `checkpoint ${e.checkpoint}` : undefined;
        break;
      case 'done': {
        s.state = 'done';
        s.phase = undefined;
        s.output = typeof e.output === 'string' ? e.output : null;
        const best = num(e.best_step);
        if (best !== undefined) s.bestStep = best;
        this.mergeFinalMetrics(e);
        break;
      }
      case 'error':
        s.state = 'error';
        s.message = String(e.message ?? 'unknown error');
        break;
    }
  }

  private addStep(e: Extract<TrainerEvent, { event: 'step' }>): void {
    const s = this.series;
    const step = num(e.step);
    if (step === undefined) return;
    // Steps only go forward within a run. One at or before the last logged step means a run restarted
    // without a `resume` line (resumed with no checkpoint yet: it starts over): the new line wins.
    if (step <= s.step) this.truncateAfter(step - 1, false);
    s.state = 'running';
    s.phase = undefined;
    s.step = step;
    const parts: Record<LossPart, unknown> = { total: e.loss, task: e.loss_task, out: e.loss_out, feat: e.loss_feat };
    for (const part of LOSS_PARTS) {
      const raw = parts[part];
      if (raw === undefined) continue;
      const v = num(raw);
      // JSON has no NaN: the trainer writes a bare NaN token, which parseEvent reads as null
      if (v === undefined) {
        if (!s.diverged && (raw === null || typeof raw === 'number')) s.diverged = { step, part };
        continue;
      }
      s.losses[part].push({ step, value: v });
    }
    const lr = num(e.lr);
    if (lr !== undefined) s.lr.push({ step, value: lr });
    const sps = num(e.samples_per_s);
    if (sps !== undefined) s.samplesPerS.push({ step, value: sps });
  }

  private addEval(e: Extract<TrainerEvent, { event: 'eval' }>): void {
    const s = this.series;
    const step = num(e.step);
    if (step === undefined || !e.metrics || typeof e.metrics !== 'object') return;
    const last = this.lastEvalStep();
    if (last !== undefined && step <= last) this.truncateEvalsFrom(step);
    for (const [name, raw] of Object.entries(e.metrics)) {
      const m = this.metric(name);
      const v = num(raw);
      if (v !== undefined) m.points.push({ step, value: v });
      if (step === 0 && v !== undefined) m.before = v;
    }
    if (e.teacher && typeof e.teacher === 'object') {
      for (const [name, raw] of Object.entries(e.teacher)) {
        const v = num(raw);
        if (v !== undefined) this.metric(name).teacher = v;
      }
    }
    if (e.best) {
      this.bestMarks.push(step);
      s.bestStep = step;
    }
    if (step === 0 && s.state === 'preparing') s.phase = 'training: waiting for the first step…';
  }

  private mergeFinalMetrics(e: Extract<TrainerEvent, { event: 'done' }>): void {
    const dict = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});
    // a resumed run's file may lack the step-0 evaluation (an older run folder): the done line repeats it
    for (const [name, raw] of Object.entries(dict(e.metrics_teacher))) {
      const v = num(raw);
      if (v !== undefined && this.metric(name).teacher === undefined) this.metric(name).teacher = v;
    }
    for (const [name, raw] of Object.entries(dict(e.metrics_before))) {
      const v = num(raw);
      if (v !== undefined && this.metric(name).before === undefined) this.metric(name).before = v;
    }
    for (const [name, raw] of Object.entries(dict(e.metrics_after))) {
      const v = num(raw);
      if (v !== undefined) this.metric(name).after = v;
    }
  }

  private metric(name: string): MetricSeries {
    let m = this.series.metrics.find((x) => x.name === name);
    if (!m) {
      m = { name, points: [], higherIsBetter: metricHigherIsBetter(name) };
      this.series.metrics.push(m);
    }
    return m;
  }

  private lastEvalStep(): number | undefined {
    let last: number | undefined;
    for (const m of this.series.metrics) {
      const p = m.points[m.points.length - 1];
      if (p && (last === undefined || p.step > last)) last = p.step;
    }
    return last;
  }

  /** Drops evaluations at or after `step`; returns how many evaluations (not metric values) went. */
  private truncateEvalsFrom(step: number): number {
    let dropped = 0;
    for (const m of this.series.metrics) {
      dropped = Math.max(dropped, dropAfter(m.points, step - 1));
      if (step <= 0) m.before = undefined;
    }
    this.dropBestAfter(step - 1);
    return dropped;
  }

  private dropBestAfter(step: number): void {
    while (this.bestMarks.length && this.bestMarks[this.bestMarks.length - 1] > step) this.bestMarks.pop();
    this.series.bestStep = this.bestMarks[this.bestMarks.length - 1];
  }

  /** Forgets everything logged after `step`: the run continues from there and logs it again. */
  private truncateAfter(step: number, fromResume: boolean): void {
    const s = this.series;
    // counted once per logged step (the total loss), not once per loss part
    const stepsBefore = s.losses.total.length;
    for (const part of LOSS_PARTS) dropAfter(s.losses[part], step);
    dropAfter(s.lr, step);
    dropAfter(s.samplesPerS, step);
    let dropped = stepsBefore - s.losses.total.length;
    dropped += this.truncateEvalsFrom(step + 1);
    if (s.diverged && s.diverged.step > step) s.diverged = undefined;
    s.step = Math.max(step, 0);
    if (fromResume) {
      s.resumes.push({ step, dropped });
      s.state = 'running';
      s.phase = step > 0 ? `resumed from the checkpoint at step ${step}` : undefined;
      s.message = undefined;
    }
  }
}

/** A run that is still preparing or running by its events: its trainer should be alive. */
export function isLive(s: RunSeries): boolean {
  return s.state === 'preparing' || s.state === 'running';
}

export function reduceEvents(events: Iterable<TrainerEvent>): RunSeries {
  return new RunSeriesReducer().addAll(events).series;
}

function describeDevice(e: Extract<TrainerEvent, { event: 'start' }>): string | undefined {
  const device = typeof e.device === 'string' ? e.device : undefined;
  if (!device) return undefined;
  const parts = [device];
  if (typeof e.device_name === 'string' && e.device_name && e.device_name !== device) parts.push(e.device_name);
  if (typeof e.precision === 'string' && e.precision) parts.push(e.precision);
  const world = num(e.world_size);
  if (world !== undefined && world > 1) parts.push(`${world} processes`);
  return parts.join(' · ');
}

/** One line for the header and the panel title: what the run is doing or how it ended. */
export function statusText(s: RunSeries): string {
  const of = s.totalSteps ? `/${s.totalSteps}` : '';
  switch (s.state) {
    case 'waiting':
      return 'waiting for the trainer to start…';
    case 'preparing':
      return s.phase ?? 'preparing';
    case 'running': {
      const diverged = s.diverged ? ` · loss ${s.diverged.part} is not finite since step ${s.diverged.step}` : '';
      if (s.step === 0) return `training: waiting for the first step…${diverged}`;
      return `running: step ${s.step}${of}${diverged}`;
    }
    case 'cancelled':
      return `cancelled at step ${s.step}${of}${s.message ? ` (${s.message}; resume to continue)` : ''}`;
    case 'done':
      return s.output ? `done: exported ${s.output}` : 'done (not exported)';
    case 'error':
      return `error${s.step > 0 ? ` at step ${s.step}` : ''}: ${s.message ?? 'unknown error'}`;
    case 'lost':
      return `stopped${s.step > 0 ? ` at step ${s.step}${of}` : ''}: ${s.message}; resume continues from the latest checkpoint`;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading events.jsonl

/**
 * Splits appended text into complete lines. The trainer writes a line with one write + flush, but a
 * reader can still see half of it (a large `done` line, or a read racing the write): the rest is kept
 * until its newline arrives.
 */
export class LineSplitter {
  private pending = '';

  push(text: string): string[] {
    if (!text) return [];
    const all = this.pending + text;
    const lines = all.split('\n');
    this.pending = lines.pop() ?? '';
    return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).filter((l) => l.trim() !== '');
  }

  /** The incomplete last line, if any (shown nowhere; tests and diagnostics read it). */
  get partial(): string {
    return this.pending;
  }

  reset(): void {
    this.pending = '';
  }
}

/** Events from complete lines of `text`, counting lines that are not events. */
export function parseEventLines(lines: readonly string[]): { events: TrainerEvent[]; skipped: number } {
  const events: TrainerEvent[] = [];
  let skipped = 0;
  for (const l of lines) {
    const e = parseEvent(l);
    if (e) events.push(e);
    else skipped++;
  }
  return { events, skipped };
}

// ---------------------------------------------------------------------------------------------
// Drawing a long run

/**
 * At most about `buckets` × 4 points that draw the same line as `points` at `buckets` pixels wide: per
 * bucket of steps the first, lowest, highest and last point survive, so spikes (a diverging step, a bad
 * batch) stay visible where plain striding would skip them. Points must be in step order.
 */
export function downsampleMinMax(points: readonly Point[], buckets: number): Point[] {
  const n = points.length;
  if (buckets < 1 || n <= buckets * 4) return points.slice();
  const first = points[0].step;
  const span = points[n - 1].step - first || 1;
  const out: Point[] = [];
  let i = 0;
  while (i < n) {
    const b = Math.min(buckets - 1, Math.floor(((points[i].step - first) / span) * buckets));
    let j = i;
    let lo = i;
    let hi = i;
    while (j + 1 < n && Math.min(buckets - 1, Math.floor(((points[j + 1].step - first) / span) * buckets)) === b) {
      j++;
      if (points[j].value < points[lo].value) lo = j;
      if (points[j].value > points[hi].value) hi = j;
    }
    for (const k of [...new Set([i, lo, hi, j])].sort((a, c) => a - c)) out.push(points[k]);
    i = j + 1;
  }
  return out;
}

/** The point nearest to `step` (by step) in a series in step order, for hover read-outs. */
export function nearestPoint(points: readonly Point[], step: number): Point | undefined {
  if (!points.length) return undefined;
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].step < step) lo = mid + 1;
    else hi = mid;
  }
  const a = points[lo];
  const b = lo > 0 ? points[lo - 1] : undefined;
  return b && Math.abs(b.step - step) <= Math.abs(a.step - step) ? b : a;
}
