// What a prune is asked to do, what it reports while it runs, and the record it leaves beside its
// output (MODEL.pruned.prune.json). Plain data: the record goes into a JSON file, a worker message
// or the extension's webview as is.
import type { EpReport } from '../scoring/ep';
import type { EpRequest } from '../scoring/settings';
import type { ScoreVariant } from '../scoring/stats';
import type { MetricResult } from '../pipeline/metrics';
import type { PredictedDrop } from './predicted';
import type { CandidateKind, CandidateLevel, ModificationMethod } from '../surgery/types';

export const PRUNE_FORMAT = 'ld-surgeon.prune/1';

export type PruneTargetKind = 'latency' | 'params' | 'flops';

/** Which candidates to prune. */
export type PruneSelection =
  /** exactly these candidate ids (an empty list prunes nothing: a checked copy of the model) */
  | { mode: 'ops'; ids: string[] }
  /** the `count` lowest-scored candidates of the score file */
  | { mode: 'lowest'; count: number }
  /** lowest-scored first until `fraction` (0..1) of the model's latency / params / FLOPs is saved */
  | { mode: 'target'; kind: PruneTargetKind; fraction: number }
  /** the `count` lowest-scored blocks of one depth stack (its id, or the module holding it: see core/graph/stacks.ts) */
  | { mode: 'stack'; stack: string; count: number };

export interface PruneOptions {
  /** a .onnx model or a pipeline folder (or a pipeline's unet/model.onnx) */
  input: string;
  selection: PruneSelection;
  /** score file; default MODEL.ldscores.json beside the model (required by 'lowest' and 'target') */
  scores?: string;
  /** output .onnx (a model) or folder (a pipeline); default MODEL.pruned.onnx / <pipeline>.pruned/ */
  out?: string;
  /** replace an existing output pipeline folder */
  force?: boolean;
  /** execution provider of the onnxruntime checks; default 'auto' */
  ep?: EpRequest;
  /** compare the pipeline's quality metric before and after (default true; pipelines with metrics/ only) */
  metric?: boolean;
  /** concrete input dims of a bare model (default: the score file's, else declared dims with batch 1) */
  inputs?: Record<string, number[]>;
  /** samples of the latent comparison (default: the score file's, else 16) */
  samples?: number;
  /** denoising steps of the latent comparison of a pipeline (default: the score file's, else the pipeline's, else 25) */
  steps?: number;
  /** wall-clock budget of the latency measurement in seconds (default 20; at least `minRuns` each) */
  latencySeconds?: number;
  /** timed runs per model at least (default 5) */
  minRuns?: number;
}

export type PrunePhase = 'read' | 'select' | 'build' | 'write' | 'check' | 'latents' | 'metric' | 'latency' | 'commit';

export interface PruneProgress {
  phase: PrunePhase;
  message: string;
  /** within the phase, when it counts something */
  done?: number;
  total?: number;
}

export interface PruneCallbacks {
  onProgress?: (p: PruneProgress) => void;
  /** aborting leaves nothing behind: the prune throws CancelledError */
  signal?: AbortSignal;
}

/**
 * What a check found: it measured and passed, measured and failed (which fails the prune: the output
 * is deleted), or measured nothing (no metric shipped, --no-metric), which is never shown as passed.
 */
export type CheckStatus = 'passed' | 'failed' | 'skipped';

/** One check of the written model. */
export interface PruneCheckResult {
  name: 'reread' | 'structure' | 'shapes' | 'weights' | 'onnxruntime' | 'latents' | 'metric' | 'latency';
  status: CheckStatus;
  /** what was measured; for a skipped check, why nothing was */
  detail: string;
  /** set on a passed check whose measurement is too small to be more than indicative (an FID on 8 samples) */
  indicative?: string;
}

export interface RemovedCandidate {
  id: string;
  level: CandidateLevel;
  kind: CandidateKind;
  action: 'remove' | 'replace';
  method: ModificationMethod;
  description: string;
  /** its score in the score file; null when it has none (explicit --ops without scores) */
  score: number | null;
  params: number;
  flops: number;
  latencyShare?: number;
}

export interface ModelFigures {
  params: number;
  flops: number;
  /** nodes whose FLOPs are unknown, left out of `flops` */
  uncountedOps: number;
  nodes: number;
  initializers: number;
  /** the .onnx plus its external data files */
  fileBytes: number;
}

export interface LatentComparison {
  kind: 'pipeline' | 'model';
  samples: number;
  /** the settings the latents were generated with (the score file's when there is one) */
  settings: Record<string, unknown>;
  variant: ScoreVariant;
  /** ‖Δmean‖₂ + ‖Δstd‖₂ (or the score file's variant) between original and pruned latents */
  score: number;
  variants: Record<ScoreVariant, number>;
  maxAbsDiff: number;
  identical: boolean;
  finite: boolean;
}

export interface LatencyComparison {
  ep: string;
  /** what one timed call is, e.g. "U-Net, 2 rows (classifier-free guidance) of [4,8,8]" */
  call: string;
  runs: number;
  originalMs: number;
  prunedMs: number;
  /** (pruned − original) / original × 100: −35 = 35% faster */
  changePercent: number;
  originalRunsMs: number[];
  prunedRunsMs: number[];
}

export interface SampleComparison {
  /** the PNG in the output pipeline folder: the original's samples in the top row, the pruned pipeline's below */
  file: string;
  /** samples per row (samples 0..count-1 of the latent comparison: the same seeds and conditions) */
  count: number;
}

export interface PruneRecord {
  format: typeof PRUNE_FORMAT;
  createdBy: string;
  createdAt: string;
  source: {
    kind: 'model' | 'pipeline';
    /** the .onnx that was pruned */
    model: string;
    pipeline?: string;
    sha256: string;
    fileBytes: number;
  };
  output: {
    model: string;
    pipeline?: string;
    sha256: string;
    fileBytes: number;
    externalData?: string;
    record: string;
  };
  selection: {
    mode: PruneSelection['mode'];
    ids?: string[];
    count?: number;
    /** mode 'stack': the stack the blocks were chosen from */
    stack?: string;
    target?: { kind: PruneTargetKind; fraction: number; estimatedFraction: number; achievedFraction?: number };
    scoreFile?: string;
    scoreVariant?: ScoreVariant;
  };
  removed: RemovedCandidate[];
  /** selected candidates inside a removed one: gone with it, not counted twice */
  subsumed: { id: string; by: string }[];
  graph: { removedNodes: number; addedNodes: number; removedInitializers: number; removedInputs: string[]; fixedValueInfo: string[] };
  before: ModelFigures;
  after: ModelFigures;
  executionProvider?: EpReport;
  latents?: LatentComparison;
  /** the quality drop predicted from the scores before the prune (beside `latents` and `metric`, the measured ones) */
  predicted?: PredictedDrop;
  metric?: { before: MetricResult; after: MetricResult };
  latency?: LatencyComparison;
  /** a pipeline prune: the first samples of the original and the pruned pipeline side by side, from the same seeds */
  samples?: SampleComparison;
  checks: PruneCheckResult[];
  /** things the user should know that are not checks (a score file beside the model that was not used) */
  notes?: string[];
  seconds: number;
  /** the record of the prune that produced the source, when it was itself a pruned model */
  parent?: PruneRecord;
}
