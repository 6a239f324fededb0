// The messages between the extension host and the distillation chart webview (webview-ui/distill/),
// both ways. The host streams the run's raw trainer events (each once, in file order); the webview
// reduces them itself with src/core/distill/runSeries, so a 10k-step run costs one replay message and
// then a few small messages per second, never the whole series again.
import type { TrainerEvent } from '../core/distill/events';
import type { RunState } from '../core/distill/runSeries';

export const DISTILL_CHART_PROTOCOL_VERSION = 1;

/** At most this many events per `events` message, so a long run's replay goes in slices. */
export const EVENTS_PER_MESSAGE = 5000;

// ---------------------------------------------------------------------------------------------
// Host → webview

export type ToChart =
  | {
      type: 'init';
      title: string;
      eventsFile: string;
      /** only for harnesses; in VS Code the body classes (vscode-light/-dark/-high-contrast) decide */
      theme?: 'light' | 'dark' | 'high-contrast';
    }
  /** events in file order; `reset` drops everything received before (the file was replaced) */
  | { type: 'events'; events: TrainerEvent[]; reset: boolean; skippedLines?: number }
  /** the events file's state: a run that has not started has none yet; a stale mtime hints at a dead trainer */
  | {
      type: 'file';
      exists: boolean;
      mtimeMs?: number;
      /** the host's clock when it sent this: with a remote extension host, file times are the remote's */
      hostNowMs?: number;
      error?: string;
      /** the host found the trainer's process gone while the events still say it runs: killed or crashed */
      trainerGone?: boolean;
    };

// ---------------------------------------------------------------------------------------------
// Webview → host

/** What the webview last drew: tests read it through DistillChartPanels.snapshot(). */
export interface ChartSnapshot {
  /** logged points per series: `loss.total`, `loss.task`, `loss.out`, `loss.feat`, `lr`, `samples_per_s`, `metric.<name>` */
  points: Record<string, number>;
  /** points actually drawn per series (fewer than `points` when a long run is downsampled) */
  drawn: Record<string, number>;
  status: string;
  state: RunState;
  step: number;
  totalSteps?: number;
  bestStep?: number;
  /** the "waiting for the first step…" placeholder is shown instead of the loss chart */
  empty: boolean;
  /** the teacher's reference value per metric chart, where known */
  teacher: Record<string, number>;
  /** resume points marked on the charts */
  resumes: number[];
}

export type FromChart =
  | { type: 'ready'; protocolVersion: number }
  | { type: 'rendered'; snapshot: ChartSnapshot }
  /** open the run's exported model (only the output path the events named is honoured) */
  | { type: 'openOutput'; path: string }
  | { type: 'reportError'; message: string; stack?: string };

// ---------------------------------------------------------------------------------------------
// Validation at the boundary: a malformed message fails loudly here, not deep in a chart.

export class ChartProtocolError extends Error {
  override name = 'ChartProtocolError';
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function problemToChart(m: Record<string, unknown>): string | undefined {
  switch (m.type) {
    case 'init':
      return isStr(m.title) && isStr(m.eventsFile) ? undefined : 'init needs title and eventsFile';
    case 'events':
      if (!Array.isArray(m.events)) return 'events.events must be an array';
      if (!m.events.every((e) => isObj(e) && isStr(e.event))) return 'events.events must be trainer events ({"event": ...})';
      return typeof m.reset === 'boolean' ? undefined : 'events.reset must be a boolean';
    case 'file':
      return typeof m.exists === 'boolean' ? undefined : 'file.exists must be a boolean';
    default:
      return `unknown message type ${JSON.stringify(m.type)}`;
  }
}

function problemFromChart(m: Record<string, unknown>): string | undefined {
  switch (m.type) {
    case 'ready':
      return isNum(m.protocolVersion) ? undefined : 'ready.protocolVersion must be a number';
    case 'rendered': {
      const s = m.snapshot;
      if (!isObj(s) || !isObj(s.points) || !isObj(s.drawn) || !isStr(s.status) || !isNum(s.step)) return 'rendered.snapshot is malformed';
      return undefined;
    }
    case 'openOutput':
      return isStr(m.path) && m.path !== '' ? undefined : 'openOutput.path must be a non-empty string';
    case 'reportError':
      return isStr(m.message) ? undefined : 'reportError.message must be a string';
    default:
      return `unknown message type ${JSON.stringify(m.type)}`;
  }
}

export function parseToChart(raw: unknown): ToChart {
  if (!isObj(raw)) throw new ChartProtocolError('message to chart: not an object');
  const p = problemToChart(raw);
  if (p) throw new ChartProtocolError(`message to chart: ${p}`);
  return raw as ToChart;
}

export function parseFromChart(raw: unknown): FromChart {
  if (!isObj(raw)) throw new ChartProtocolError('message from chart: not an object');
  const p = problemFromChart(raw);
  if (p) throw new ChartProtocolError(`message from chart: ${p}`);
  return raw as FromChart;
}

/** Splits events into `events` messages of at most EVENTS_PER_MESSAGE each; the first carries `reset`. */
export function eventMessages(events: readonly TrainerEvent[], reset: boolean, skippedLines = 0): ToChart[] {
  const out: ToChart[] = [];
  for (let i = 0; i < events.length || (i === 0 && (reset || skippedLines)); i += EVENTS_PER_MESSAGE) {
    out.push({ type: 'events', events: events.slice(i, i + EVENTS_PER_MESSAGE), reset: reset && i === 0, skippedLines: i === 0 ? skippedLines : 0 });
  }
  return out;
}
