// A diffusers `scheduler_config.json`, read with diffusers' defaults for every field it omits.
// The same file serves DDIM and DDPM (diffusers' `from_config` does the same): a pipeline
// exported with PNDMScheduler still says how its betas were trained.
import { readFileSync } from 'node:fs';
import { UserError } from '../../errors';

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';
export type VarianceType = 'fixed_small' | 'fixed_small_log' | 'fixed_large' | 'fixed_large_log';

export interface SchedulerConfig {
  /** diffusers' `_class_name`, e.g. 'DDIMScheduler', 'PNDMScheduler' ('' when absent) */
  className: string;
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  trainedBetas?: number[];
  predictionType: PredictionType;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  clipSample: boolean;
  clipSampleRange: number;
  setAlphaToOne: boolean;
  thresholding: boolean;
  dynamicThresholdingRatio: number;
  sampleMaxValue: number;
  rescaleBetasZeroSnr: boolean;
  varianceType: VarianceType;
  /**
   * Fields only Euler / DPM-Solver++ read (absent: diffusers' defaults). Kept as the file wrote
   * them, unvalidated: a value we do not run makes sampling fall back to DDIM with a warning
   * (see schedulerChoice) instead of refusing the pipeline.
   */
  multistep?: {
    algorithmType: string;
    solverOrder: number;
    solverType: string;
    lowerOrderFinal: boolean;
    eulerAtFinal: boolean;
    finalSigmasType: string;
    interpolationType: string;
    useKarrasSigmas: boolean;
    /** any of use_exponential_sigmas / use_beta_sigmas / use_lu_lambdas / use_flow_sigmas / s_churn>0 set */
    otherSigmas: string[];
  };
}

/** diffusers' constructor defaults (DDIMScheduler / DDPMScheduler agree on all shared fields). */
export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  className: '',
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  predictionType: 'epsilon',
  timestepSpacing: 'leading',
  stepsOffset: 0,
  clipSample: true,
  clipSampleRange: 1.0,
  setAlphaToOne: true,
  thresholding: false,
  dynamicThresholdingRatio: 0.995,
  sampleMaxValue: 1.0,
  rescaleBetasZeroSnr: false,
  varianceType: 'fixed_small',
};

function oneOf<T extends string>(file: string, key: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new UserError(`${file}: ${key} ${JSON.stringify(value)} is not supported (expected one of ${allowed.join(', ')})`, file);
}

function num(file: string, key: string, value: unknown, fallback: number, integer = false): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new UserError(`${file}: ${key} must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`, file);
  }
  return value;
}

function bool(file: string, key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new UserError(`${file}: ${key} must be true or false, got ${JSON.stringify(value)}`, file);
  return value;
}

/** Validates a parsed scheduler_config.json object; `file` names it in errors. */
export function parseSchedulerConfig(json: unknown, file = 'scheduler_config.json'): SchedulerConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UserError(`${file}: expected a JSON object`, file);
  }
  const j = json as Record<string, unknown>;
  const d = DEFAULT_SCHEDULER_CONFIG;
  const cfg: SchedulerConfig = {
    className: typeof j._class_name === 'string' ? j._class_name : '',
    numTrainTimesteps: num(file, 'num_train_timesteps', j.num_train_timesteps, d.numTrainTimesteps, true),
    betaStart: num(file, 'beta_start', j.beta_start, d.betaStart),
    betaEnd: num(file, 'beta_end', j.beta_end, d.betaEnd),
    betaSchedule: oneOf(file, 'beta_schedule', j.beta_schedule, ['linear', 'scaled_linear', 'squaredcos_cap_v2'], d.betaSchedule),
    predictionType: oneOf(file, 'prediction_type', j.prediction_type, ['epsilon', 'v_prediction', 'sample'], d.predictionType),
    timestepSpacing: oneOf(file, 'timestep_spacing', j.timestep_spacing, ['leading', 'trailing', 'linspace'], d.timestepSpacing),
    stepsOffset: num(file, 'steps_offset', j.steps_offset, d.stepsOffset, true),
    clipSample: bool(file, 'clip_sample', j.clip_sample, d.clipSample),
    clipSampleRange: num(file, 'clip_sample_range', j.clip_sample_range, d.clipSampleRange),
    setAlphaToOne: bool(file, 'set_alpha_to_one', j.set_alpha_to_one, d.setAlphaToOne),
    thresholding: bool(file, 'thresholding', j.thresholding, d.thresholding),
    dynamicThresholdingRatio: num(file, 'dynamic_thresholding_ratio', j.dynamic_thresholding_ratio, d.dynamicThresholdingRatio),
    sampleMaxValue: num(file, 'sample_max_value', j.sample_max_value, d.sampleMaxValue),
    rescaleBetasZeroSnr: bool(file, 'rescale_betas_zero_snr', j.rescale_betas_zero_snr, d.rescaleBetasZeroSnr),
    varianceType: oneOf(file, 'variance_type', j.variance_type, ['fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log'], d.varianceType),
  };
  const flags = ['use_exponential_sigmas', 'use_beta_sigmas', 'use_lu_lambdas', 'use_flow_sigmas', 'use_dynamic_shifting'].filter((k) => j[k] === true);
  if (j.timestep_type === 'continuous') flags.push('timestep_type continuous');
  cfg.multistep = {
    algorithmType: typeof j.algorithm_type === 'string' ? j.algorithm_type : 'dpmsolver++',
    solverOrder: num(file, 'solver_order', j.solver_order, 2, true),
    solverType: typeof j.solver_type === 'string' ? j.solver_type : 'midpoint',
    lowerOrderFinal: bool(file, 'lower_order_final', j.lower_order_final, true),
    eulerAtFinal: bool(file, 'euler_at_final', j.euler_at_final, false),
    finalSigmasType: typeof j.final_sigmas_type === 'string' ? j.final_sigmas_type : 'zero',
    interpolationType: typeof j.interpolation_type === 'string' ? j.interpolation_type : 'linear',
    useKarrasSigmas: bool(file, 'use_karras_sigmas', j.use_karras_sigmas, false),
    otherSigmas: flags,
  };
  if (cfg.numTrainTimesteps < 1) throw new UserError(`${file}: num_train_timesteps must be at least 1`, file);
  if (j.trained_betas !== undefined && j.trained_betas !== null) {
    const tb = j.trained_betas;
    if (!Array.isArray(tb) || tb.length !== cfg.numTrainTimesteps || tb.some((b) => typeof b !== 'number' || !(b > 0 && b < 1))) {
      throw new UserError(`${file}: trained_betas must be ${cfg.numTrainTimesteps} numbers in (0, 1)`, file);
    }
    cfg.trainedBetas = tb as number[];
  }
  return cfg;
}

export function readSchedulerConfig(file: string): SchedulerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`${file}: missing (a pipeline needs scheduler/scheduler_config.json)`, file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: invalid JSON: ${(e as Error).message}`, file);
  }
  return parseSchedulerConfig(json, file);
}
