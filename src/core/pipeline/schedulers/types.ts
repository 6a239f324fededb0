import type { SchedulerConfig } from './config';

export type SchedulerName = 'ddim' | 'ddpm' | 'euler' | 'dpm++';
/** what a user asks for: a sampler by name, or 'pipeline' for the one its scheduler_config.json names */
export type SchedulerSetting = SchedulerName | 'pipeline';
export const SCHEDULER_SETTINGS: readonly SchedulerSetting[] = ['pipeline', 'ddim', 'ddpm', 'euler', 'dpm++'];

export interface StepOptions {
  /** Gaussian noise shaped like `sample`; required when `needsNoise(t)` */
  noise?: Float32Array;
  /** where to write x_{t-1}; may be `sample` itself (in place). A new array when omitted. */
  out?: Float32Array;
  /** samples in the batch; only dynamic thresholding, which works per sample, needs it (default 1) */
  batch?: number;
}

/** A discrete-time sampler over a diffusers noise schedule. Latents are float32, C-ordered. */
export interface Scheduler {
  readonly name: SchedulerName;
  readonly config: SchedulerConfig;
  /** the inference timesteps, in the order the U-Net is called (descending) */
  readonly timesteps: readonly number[];
  /** scale of the initial Gaussian latents (1 for DDIM and DDPM) */
  readonly initNoiseSigma: number;
  /** factor the U-Net input x_t is multiplied by at t (diffusers' scale_model_input; 1 but for Euler) */
  inputScale(t: number): number;
  /** whether step(…, t, …) adds fresh noise and so needs `noise` */
  needsNoise(t: number): boolean;
  /** one reverse step: x_t and the U-Net output at t → x_{t-1} */
  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts?: StepOptions): Float32Array;
}
