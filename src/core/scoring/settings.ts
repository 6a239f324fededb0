// Scoring settings: what the user asks for, validated, with defaults filled in.
import { UserError } from '../errors';
import type { ConditionInput } from '../pipeline/conditions';
import { SCHEDULER_SETTINGS, type SchedulerSetting } from '../pipeline/schedulers';
import type { Granularity } from '../surgery/types';
import { VARIANTS, type ScoreVariant } from './stats';

export type EpRequest = 'auto' | 'cpu' | 'cuda' | 'dml' | 'webgpu' | 'coreml';
export const EP_CHOICES: readonly EpRequest[] = ['auto', 'cpu', 'cuda', 'dml', 'webgpu', 'coreml'];

export interface IterativeBudget {
  /** number of candidates to pick, or a fraction (0 < f < 1) of the modifiable ones */
  count?: number;
  fraction?: number;
}

export interface ScoreSettings {
  /** samples per latent set (N) */
  samples: number;
  /** denoising steps (T) */
  steps: number;
  scheduler: SchedulerSetting;
  /** DDIM eta (0: deterministic) */
  eta: number;
  granularity: Granularity;
  variant: ScoreVariant;
  ep: EpRequest;
  seed: number;
  /** classifier-free guidance; undefined: the pipeline's default */
  guidance?: number;
  conditions: ConditionInput;
  /** samples per U-Net call; default: all N at once */
  batchSize?: number;
  /** concrete input dims for a bare model (not a pipeline): name → dims */
  inputs?: Record<string, number[]>;
  /** score only these candidate ids (default: all) */
  only?: string[];
  shard?: { index: number; count: number };
  iterative?: IterativeBudget;
  /** also run the original model once and check the gated model reproduces its latents exactly */
  verifyExact?: boolean;
  /** profile one evaluation to attribute latency to candidates (default true) */
  profile?: boolean;
  /**
   * onnxruntime graph optimisation level of the evaluation session. 'extended' (default) keeps the
   * gated model exact: with every gate off it reproduces the original model bit for bit. 'all' adds
   * CPU layout transforms (NCHWc), faster, but the gates change which convolutions get fused, so
   * latents can differ from the original model's in the last bits.
   */
  optLevel: OptLevel;
}

export type OptLevel = 'extended' | 'all';

/**
 * How much work a scoring run does. 'quick' (the default) scores blocks on 8 samples × 10 steps: a
 * first run on the shipped examples takes about a minute on 2 CPU cores. 'thorough' scores blocks and
 * layers on 16 samples × 25 steps (the settings before presets existed): 20–30 minutes there.
 */
export type ScorePreset = 'quick' | 'thorough';
export const SCORE_PRESETS: Record<ScorePreset, Pick<ScoreSettings, 'samples' | 'steps' | 'granularity'>> = {
  quick: { samples: 8, steps: 10, granularity: 'block' },
  thorough: { samples: 16, steps: 25, granularity: 'both' },
};
export const PRESET_CHOICES = Object.keys(SCORE_PRESETS) as ScorePreset[];

export function parsePreset(text: string, what = '--preset'): ScorePreset {
  if (!(PRESET_CHOICES as string[]).includes(text)) throw new UserError(`${what} '${text}': expected ${PRESET_CHOICES.join(' or ')}`);
  return text as ScorePreset;
}

/** The preset's samples, steps and granularity, with whatever `partial` sets explicitly on top. */
export function applyPreset(preset: ScorePreset, partial: Partial<ScoreSettings>): Partial<ScoreSettings> {
  return { ...SCORE_PRESETS[preset], ...stripUndefined(partial) };
}

/** The CLI's and the extension's preset when the user names none. */
export const DEFAULT_PRESET: ScorePreset = 'quick';

/**
 * What an API caller (runScoreJob) gets for what it leaves out: the thorough preset's samples, steps
 * and granularity, as before presets existed; the CLI and the extension apply DEFAULT_PRESET first.
 */
export const DEFAULT_SETTINGS: ScoreSettings = {
  ...SCORE_PRESETS.thorough,
  scheduler: 'pipeline',
  eta: 0,
  variant: 'avg+std',
  ep: 'auto',
  seed: 0,
  conditions: { kind: 'default' },
  profile: true,
  optLevel: 'extended',
};

function positiveInt(what: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new UserError(`${what} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/** Defaults filled in and every field checked; throws UserError naming the bad setting. */
export function resolveSettings(partial: Partial<ScoreSettings>): ScoreSettings {
  const s: ScoreSettings = { ...DEFAULT_SETTINGS, ...stripUndefined(partial) };
  positiveInt('samples', s.samples, 2);
  positiveInt('steps', s.steps, 1);
  if (!SCHEDULER_SETTINGS.includes(s.scheduler)) throw new UserError(`scheduler must be one of ${SCHEDULER_SETTINGS.join(', ')}, got '${s.scheduler}'`);
  if (!(typeof s.eta === 'number' && s.eta >= 0)) throw new UserError(`eta must be ≥ 0, got ${s.eta}`);
  if (!['block', 'layer', 'both'].includes(s.granularity)) throw new UserError(`granularity must be block, layer or both, got '${s.granularity}'`);
  if (!VARIANTS.includes(s.variant)) throw new UserError(`variant must be one of ${VARIANTS.join(', ')}, got '${s.variant}'`);
  if (!EP_CHOICES.includes(s.ep)) throw new UserError(`execution provider must be one of ${EP_CHOICES.join(', ')}, got '${s.ep}'`);
  if (!Number.isInteger(s.seed)) throw new UserError(`seed must be an integer, got ${s.seed}`);
  if (s.guidance !== undefined && !Number.isFinite(s.guidance)) throw new UserError(`guidance must be a number, got ${s.guidance}`);
  if (s.batchSize !== undefined) positiveInt('batch size', s.batchSize);
  if (s.optLevel !== 'extended' && s.optLevel !== 'all') throw new UserError(`optimisation level must be extended or all, got '${s.optLevel}'`);
  if (s.shard) {
    const { index, count } = s.shard;
    positiveInt('shard count', count);
    if (!Number.isInteger(index) || index < 0 || index >= count) throw new UserError(`shard index must be 0..${count - 1}, got ${index}`);
    if (s.iterative) throw new UserError('--iterative and --shard cannot be combined: iterative scoring needs every candidate in one job');
  }
  if (s.iterative) {
    const { count, fraction } = s.iterative;
    if ((count === undefined) === (fraction === undefined)) throw new UserError('an iterative budget is either a count or a fraction');
    if (count !== undefined) positiveInt('iterative budget', count);
    if (fraction !== undefined && !(fraction > 0 && fraction < 1)) throw new UserError(`an iterative fraction must be between 0 and 1, got ${fraction}`);
  }
  return s;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Parses 'i/n' (1-based on the command line: 1/4 .. 4/4). */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UserError(`--shard '${text}': expected i/n, e.g. 1/4`);
  const i = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || i < 1 || i > n) throw new UserError(`--shard '${text}': i must be between 1 and n`);
  return { index: i - 1, count: n };
}

/** Parses an iterative budget: '8' (candidates) or '0.25' / '25%' (a fraction of them). */
export function parseBudget(text: string): IterativeBudget {
  const t = text.trim();
  if (/^\d+$/.test(t) && Number(t) >= 1) return { count: Number(t) };
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(t);
  const f = pct ? Number(pct[1]) / 100 : Number(t);
  if (Number.isFinite(f) && f > 0 && f < 1) return { fraction: f };
  throw new UserError(`--iterative '${text}': expected a count (8) or a fraction (0.25 or 25%)`);
}
