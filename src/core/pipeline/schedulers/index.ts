export * from './config';
export * from './types';
export { DdimScheduler } from './ddim';
export { DdpmScheduler } from './ddpm';
export { alphasCumprod, betaSchedule, inferenceTimesteps } from './noise-schedule';

import type { SchedulerConfig } from './config';
import type { Scheduler, SchedulerName } from './types';
import { DdimScheduler } from './ddim';
import { DdpmScheduler } from './ddpm';

/** The scheduler a pipeline was exported with, when it is one we run; DDIM otherwise. */
export function defaultSchedulerName(cfg: SchedulerConfig): SchedulerName {
  return cfg.className === 'DDPMScheduler' ? 'ddpm' : 'ddim';
}

export function createScheduler(name: SchedulerName, cfg: SchedulerConfig, opts: { steps: number; eta?: number }): Scheduler {
  return name === 'ddpm' ? new DdpmScheduler(cfg, opts) : new DdimScheduler(cfg, opts);
}
