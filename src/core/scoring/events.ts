// What a scoring job reports as it runs (runScoreJob's onEvent in process; the worker relays the same
// events to its host), and a scored candidate as the views show it. Core types: the worker and webview
// protocols carry them, and import them from here.
import type { EpReport } from './ep';
import type { CandidateStatus, IterativeStep, ScoredCandidate } from './score-file';
import type { ScoreSettings } from './settings';
import type { CandidateKind, CandidateLevel, ModificationKind } from '../surgery/types';

/** What to score and where the results go. */
export interface ScoreRequest {
  /** a pipeline folder, or an .onnx model */
  target: string;
  /** anything not given takes its default (16 samples, 25 DDIM steps, both granularities, avg+std, auto EP…) */
  settings: Partial<ScoreSettings>;
  /** the score file (default: MODEL.ldscores.json beside the model) */
  out?: string;
  /** where the gated evaluation model is written (default: a fresh folder in the OS temp dir) */
  workDir?: string;
  /** another job is writing the same score file: wait for it (default: refuse with a message naming it) */
  wait?: boolean;
}

/** The LD-Pruner result for one candidate (a module path like `up_blocks.2.resnets.0.conv1`), as the views show it. */
export interface CandidateResult {
  id: string;
  /** score with the configured variant (avg+std by default); null when not computed */
  score: number | null;
  /** the score under each variant formula that was computed, e.g. { avg: 0.8, std: 0.3 } */
  variants?: Record<string, number>;
  params: number;
  flops: number;
  /** fraction (0..1) of the full model's measured latency spent in this candidate */
  latencyShare?: number;
  modification: ModificationKind;
  /** why it is replaced rather than removed, why it cannot be modified, or why scoring failed */
  reason?: string;
}

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

/** A score file entry as the views show it (the one conversion: the worker's results and a re-read file agree). */
export function candidateResult(c: ScoredCandidate): CandidateResult {
  return {
    id: c.id,
    score: c.nonFinite ? null : c.score,
    variants: c.variants,
    params: c.params,
    flops: c.flops,
    latencyShare: c.latencyShare,
    modification: c.modification,
    reason: c.nonFinite ? 'the modified model produces non-finite latents (score +∞)' : c.reason ?? c.description,
  };
}

/** A score file entry as a `result` event carries it. */
export function candidateUpdate(c: ScoredCandidate): CandidateUpdate {
  return { ...candidateResult(c), level: c.level, kind: c.kind, status: c.status };
}
