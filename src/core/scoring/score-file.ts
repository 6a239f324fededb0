// The score file, MODEL.ldscores.json: versioned, self-describing, rewritten atomically after every
// candidate so a cancelled or killed job resumes where it stopped (same model + settings → the
// candidates already scored are kept).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../errors';
import { writeFileAtomic } from '../pipeline/output-files';
import type { Candidate, CandidateKind, CandidateLevel, ModificationKind, ModificationMethod } from '../surgery/types';
import type { EpReport } from './ep';
import type { ScoreSettings } from './settings';
import type { ScoreVariant } from './stats';
import type { ModelIdentity } from './target';

export const SCORE_FORMAT = 'ld-surgeon.scores/1';

/** other-shard: another shard of the job scores it; skipped: not among the ids the job was limited to */
export type CandidateStatus = 'scored' | 'pending' | 'unmodifiable' | 'other-shard' | 'skipped';

export interface ScoredCandidate {
  id: string;
  level: CandidateLevel;
  kind: CandidateKind;
  status: CandidateStatus;
  /** the chosen variant's score; null until scored (and for unmodifiable candidates) */
  score: number | null;
  variants?: Record<ScoreVariant, number>;
  /** the modified model's latents had NaN or ±Inf: the score is +∞ (stored as null) */
  nonFinite?: boolean;
  params: number;
  macs: number;
  flops: number;
  replacementFlops: number;
  uncountedOps: number;
  latencyShare?: number;
  modification: ModificationKind;
  method?: ModificationMethod;
  description?: string;
  reason?: string;
  aliases?: string[];
  entry?: string;
  exit?: string;
}

export interface IterativeStep {
  step: number;
  picked: string;
  /** its score given the earlier picks (the distance of the whole pruned set from L_orig) */
  score: number;
  oneShotScore: number;
  oneShotRank: number;
  /** Spearman correlation between one-shot scores and this step's re-scores of the remaining candidates */
  rankCorrelation: number | null;
  remaining: number;
}

export interface IterativeReport {
  budget: number;
  steps: IterativeStep[];
  /** rank correlation between the iterative pick order and the picks' one-shot ranks */
  orderCorrelation?: number | null;
  /** picks outside the one-shot top-k, and one-shot top-k candidates not picked */
  entered?: string[];
  left?: string[];
  /** picks whose iterative position differs from their one-shot position among the picks */
  moved?: { id: string; oneShotRank: number; iterativeRank: number }[];
  complete: boolean;
}

export interface ScoreFile {
  format: typeof SCORE_FORMAT;
  createdBy: string;
  updatedAt: string;
  complete: boolean;
  model: ModelIdentity;
  target: { kind: 'pipeline' | 'model'; pipeline?: string };
  settings: ScoreSettings;
  /** hash of everything a score depends on; a resumed job keeps results only when it matches */
  compatibilityKey: string;
  executionProvider: EpReport;
  latents: {
    shape: number[];
    /** sha256 of L_orig as float32 bytes: a resumed job checks it reproduces them exactly */
    sha256: string;
    orig: Record<string, number>;
    source: Record<string, unknown>;
    /** gates-off eval model vs the original model, when checked (verifyExact) */
    exactCheck?: { equal: boolean; maxAbsDiff: number };
  };
  latency?: { profiledRuns: number; kernelMs: number; unattributedShare: number };
  shard?: { index: number; count: number };
  timing: {
    evaluations: number;
    seconds: number;
    evalsPerSec: number;
    sessionsCreated: number;
    /** where the time went: reading/analysing the model and writing the gated one, creating sessions, the profiled reference evaluation, all other evaluations */
    phasesMs?: { prepare: number; open: number; reference: number; evaluations: number };
  };
  candidates: ScoredCandidate[];
  iterative?: IterativeReport;
}

export function toScored(c: Candidate, status: CandidateStatus): ScoredCandidate {
  const m = c.modification;
  const out: ScoredCandidate = {
    id: c.id, level: c.level, kind: c.kind, status, score: null,
    params: c.params, macs: c.macs, flops: c.flops, replacementFlops: c.replacementFlops, uncountedOps: c.uncountedOps,
    modification: m ? m.action : 'none',
  };
  if (m) {
    out.method = m.method;
    out.description = m.description;
  } else out.reason = c.reason;
  if (c.aliases) out.aliases = c.aliases;
  if (c.entry) out.entry = c.entry;
  if (c.exit) out.exit = c.exit;
  if (c.latencyShare !== undefined) out.latencyShare = c.latencyShare;
  return out;
}

/** The key a resumed job must match: the model, and every setting latents depend on. */
export function compatibilityKey(model: ModelIdentity, settings: ScoreSettings, resolved: { guidance?: number; batchSize: number; ep: string }): string {
  const relevant = {
    model: { sha256: model.sha256, externalData: model.externalData },
    samples: settings.samples, steps: settings.steps, scheduler: settings.scheduler, eta: settings.eta, seed: settings.seed,
    granularity: settings.granularity, conditions: settings.conditions, inputs: settings.inputs ?? null,
    guidance: resolved.guidance ?? null, batchSize: resolved.batchSize, ep: resolved.ep, optLevel: settings.optLevel,
  };
  return createHash('sha256').update(JSON.stringify(relevant)).digest('hex');
}

export function writeScoreFile(path: string, f: ScoreFile): void {
  f.updatedAt = new Date().toISOString();
  writeFileAtomic(path, JSON.stringify(f, null, 1) + '\n');
}

/** Reads and checks a score file; a file that is not one (or a newer format) is a user error. */
export function readScoreFile(path: string): ScoreFile {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UserError(`${path}: not a readable score file: ${(e as Error).message}`, path);
  }
  const f = j as Partial<ScoreFile>;
  if (!f || typeof f !== 'object' || typeof f.format !== 'string') throw new UserError(`${path}: not an ld-surgeon score file (no "format")`, path);
  if (f.format !== SCORE_FORMAT) throw new UserError(`${path}: score format '${f.format}' is not supported (this version reads ${SCORE_FORMAT})`, path);
  if (!Array.isArray(f.candidates) || !f.model || !f.settings) throw new UserError(`${path}: the score file is incomplete (candidates, model or settings missing)`, path);
  for (const c of f.candidates) {
    if (typeof c?.id !== 'string' || !(c.score === null || typeof c.score === 'number')) throw new UserError(`${path}: a candidate entry is malformed`, path);
  }
  return f as ScoreFile;
}

export function readScoreFileIfPresent(path: string): ScoreFile | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readScoreFile(path);
  } catch {
    return undefined;
  }
}

/** Candidates ranked for pruning: scored ones, lowest score first (non-finite last). */
export function ranked(f: Pick<ScoreFile, 'candidates'>): ScoredCandidate[] {
  const key = (c: ScoredCandidate) => (c.nonFinite ? Infinity : c.score!);
  return f.candidates.filter((c) => c.status === 'scored' && (c.score !== null || c.nonFinite)).sort((a, b) => key(a) - key(b) || (a.id < b.id ? -1 : 1));
}
