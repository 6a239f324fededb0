export * from './config';
export * from './types';
export { DdimScheduler } from './ddim';
export { DdpmScheduler } from './ddpm';
export { EulerScheduler, eulerTimesteps } from './euler';
export { DpmSolverScheduler, dpmTimesteps } from './dpm-solver';
export { alphasCumprod, betaSchedule, inferenceTimesteps } from './noise-schedule';

import type { SchedulerConfig } from './config';
import type { Scheduler, SchedulerName, SchedulerSetting } from './types';
import { DdimScheduler } from './ddim';
import { DdpmScheduler } from './ddpm';
import { DpmSolverScheduler } from './dpm-solver';
import { EulerScheduler } from './euler';

export interface SchedulerChoice {
  name: SchedulerName;
  /** set when the pipeline names a scheduler (or options) we do not run, so DDIM on its betas stands in */
  fallback?: { from: string; reason: string };
}

/** Why a config of this class cannot be run as written ('' when it can). */
function unsupported(cfg: SchedulerConfig): string {
  const ms = cfg.multistep;
  if (!ms) return '';
  if (ms.useKarrasSigmas) return 'use_karras_sigmas';
  if (ms.otherSigmas.length) return ms.otherSigmas.join(', ');
  if (cfg.className === 'EulerDiscreteScheduler') {
    if (ms.interpolationType !== 'linear') return `interpolation_type ${ms.interpolationType}`;
    if (cfg.predictionType === 'sample') return 'prediction_type sample';
  }
  if (cfg.className === 'DPMSolverMultistepScheduler') {
    if (ms.algorithmType !== 'dpmsolver++') return `algorithm_type ${ms.algorithmType}`;
    if (ms.solverOrder !== 1 && ms.solverOrder !== 2) return `solver_order ${ms.solverOrder}`;
    if (ms.solverType !== 'midpoint') return `solver_type ${ms.solverType}`;
  }
  return '';
}

/**
 * The scheduler a pipeline was exported with, when it is one we run (DDIM, DDPM, Euler,
 * DPM-Solver++ 2M); DDIM on the same betas otherwise, with the reason, so callers can say so.
 */
export function schedulerChoice(cfg: SchedulerConfig): SchedulerChoice {
  const byClass: Record<string, SchedulerName> = {
    DDIMScheduler: 'ddim',
    DDPMScheduler: 'ddpm',
    EulerDiscreteScheduler: 'euler',
    DPMSolverMultistepScheduler: 'dpm++',
  };
  if (!cfg.className) return { name: 'ddim' };
  const name = byClass[cfg.className];
  if (!name) return { name: 'ddim', fallback: { from: cfg.className, reason: `${cfg.className} is not implemented` } };
  const why = unsupported(cfg);
  return why ? { name: 'ddim', fallback: { from: cfg.className, reason: `${cfg.className} with ${why} is not implemented` } } : { name };
}

/** The warning line sample and score print when a fallback happened. */
export function fallbackWarning(choice: SchedulerChoice, file: string): string | undefined {
  return choice.fallback && `warning: ${file}: ${choice.fallback.reason}; sampling with DDIM on the same betas instead`;
}

export function defaultSchedulerName(cfg: SchedulerConfig): SchedulerName {
  return schedulerChoice(cfg).name;
}

/** The sampler a setting means for this config ('pipeline': its class, or DDIM with the fallback reason). */
export function resolveScheduler(setting: SchedulerSetting | undefined, cfg: SchedulerConfig): SchedulerChoice {
  return setting === undefined || setting === 'pipeline' ? schedulerChoice(cfg) : { name: setting };
}

export function createScheduler(setting: SchedulerSetting, cfg: SchedulerConfig, opts: { steps: number; eta?: number }): Scheduler {
  const name = resolveScheduler(setting, cfg).name;
  if (name === 'ddpm') return new DdpmScheduler(cfg, opts);
  if (name === 'euler') return new EulerScheduler(cfg, opts);
  if (name === 'dpm++') return new DpmSolverScheduler(cfg, opts);
  return new DdimScheduler(cfg, opts);
}
