// Messages between a host (the CLI, the VS Code extension) and the scoring worker (dist/worker.js,
// started with child_process.fork). Plain JSON over the IPC channel; nothing here imports vscode.
//
//   host → worker: start (once), cancel (any time)
//   worker → host: ready, started, progress…, result… (one per candidate as soon as it is known),
//                  iteration… (--iterative), log…, then exactly one of done | cancelled | error.
// The worker exits 0 after done or cancelled, 1 after error. A worker that dies without one of
// them (crash, out of memory) is a failed job; the score file it wrote so far stays valid.
import type { ScoreRequest, ScoringEvent } from '../core/scoring/events';

export type { CandidateUpdate, ScoreRequest, ScoringEvent, ScoringProgress, ScoringSummary } from '../core/scoring/events';

export const WORKER_PROTOCOL_VERSION = 1;

export type HostToWorker =
  | { type: 'start'; protocolVersion: number; request: ScoreRequest }
  | { type: 'cancel' };

export type WorkerToHost =
  | { type: 'ready'; protocolVersion: number }
  | ScoringEvent
  | { type: 'error'; message: string; userError: boolean; stack?: string };

export function startMessage(request: ScoreRequest): HostToWorker {
  return { type: 'start', protocolVersion: WORKER_PROTOCOL_VERSION, request };
}

export const CANCEL_MESSAGE: HostToWorker = { type: 'cancel' };

/** Type guard for messages arriving from a worker (anything else is ignored by hosts). */
export function isWorkerMessage(m: unknown): m is WorkerToHost {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

export function isHostMessage(m: unknown): m is HostToWorker {
  const t = (m as { type?: unknown } | null)?.type;
  return t === 'cancel' || (t === 'start' && typeof (m as { request?: unknown }).request === 'object');
}
