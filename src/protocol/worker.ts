// Messages between a host (the CLI, the VS Code extension) and the scoring worker (dist/worker.js,
// started with child_process.fork). Plain JSON over the IPC channel; nothing here imports vscode.
//
//   host → worker: start (once), cancel (any time)
//   worker → host: ready, started, progress…, result… (one per candidate as soon as it is known),
//                  iteration… (--iterative), log…, then exactly one of done | cancelled | error.
// The worker exits 0 after done or cancelled, 1 after error. A worker that dies without one of
// them (crash, out of memory) is a failed job; the score file it wrote so far stays valid.
import type { EpReport } from '../core/scoring/ep';
import type { CandidateStatus, IterativeStep } from '../core/scoring/score-file';
import type { ScoreSettings } from '../core/scoring/settings';
import type { CandidateKind, CandidateLevel } from '../core/surgery/types';
import type { CandidateResult } from './webview';

export const WORKER_PROTOCOL_VERSION = 1;

export interface ScoreRequest {
  /** a pipeline folder, or an .onnx model */
  target: string;
  /** anything not given takes its default (16 samples, 25 DDIM steps, both granularities, avg+std, auto EP…) */
  settings: Partial<ScoreSettings>;
  /** the score file (default: MODEL.ldscores.json beside the model) */
  out?: string;
  /** where the gated evaluation model is written (default: a fresh folder in the OS temp dir) */
  workDir?: string;
}

export type HostToWorker =
  | { type: 'start'; protocolVersion: number; request: ScoreRequest }
  | { type: 'cancel' };

/** A candidate's result as the views show it, plus where it sits in the module tree. */
export interface CandidateUpdate extends CandidateResult {
  level: CandidateLevel;
  kind: CandidateKind;
  status: CandidateStatus;
}

export interface ScoringProgress {
  phase: 'reference' | 'candidates' | 'iterative';
  /** evaluations done / needed (one evaluation = one full sampling run of N samples) */
  done: number;
  total: number;
  evalsPerSec: number;
  /** seconds left at the current rate; null before the first evaluation */
  etaS: number | null;
}

export interface ScoringSummary {
  candidates: number;
  scored: number;
  unmodifiable: number;
  evaluations: number;
  seconds: number;
  /** the five lowest-scored (least important) candidate ids */
  lowest: string[];
}

/** What a scoring job reports, in process (runScoreJob's onEvent) or from the worker. */
export type ScoringEvent =
  | { type: 'started'; scoreFile: string; executionProvider: EpReport; candidates: number; toScore: number; resumed: number; sessionsCreated: number }
  | ({ type: 'progress' } & ScoringProgress)
  | { type: 'result'; candidate: CandidateUpdate }
  | { type: 'iteration'; step: IterativeStep }
  | { type: 'log'; text: string }
  | { type: 'done'; scoreFile: string; summary: ScoringSummary }
  | { type: 'cancelled'; scoreFile: string };

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
