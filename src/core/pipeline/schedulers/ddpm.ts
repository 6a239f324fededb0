// DDPM ancestral sampling (Ho et al. 2020) with diffusers' DDPMScheduler semantics, including
// its reduced-step mode: the previous timestep is the next entry of the inference grid (−1 after
// the last), the step's β is 1 − ᾱ_t/ᾱ_prev, and noise is added whenever t > 0.
import type { SchedulerConfig } from './config';
import { alphasCumprod, betaSchedule, inferenceTimesteps } from './noise-schedule';
import { clipOriginal, predictOriginal, Scratch } from './prediction';
import type { Scheduler, StepOptions } from './types';
import { UserError } from '../../errors';

export interface DdpmOptions {
  steps: number;
}

export class DdpmScheduler implements Scheduler {
  readonly name = 'ddpm' as const;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  readonly alphasCumprod: Float32Array;
  private readonly prevOf = new Map<number, number>();
  private readonly scratch = new Scratch();

  constructor(readonly config: SchedulerConfig, opts: DdpmOptions) {
    this.alphasCumprod = alphasCumprod(betaSchedule(config));
    this.timesteps = inferenceTimesteps(config, opts.steps);
    const bad = this.timesteps.find((t) => t < 0 || t >= config.numTrainTimesteps);
    if (bad !== undefined) {
      throw new UserError(`scheduler: timestep ${bad} (steps_offset ${config.stepsOffset}) is outside 0..${config.numTrainTimesteps - 1}`);
    }
    // diffusers looks up the first occurrence of t in the grid; a Map keeps the first too.
    this.timesteps.forEach((t, i) => {
      if (!this.prevOf.has(t)) this.prevOf.set(t, i + 1 < this.timesteps.length ? this.timesteps[i + 1] : -1);
    });
  }

  previousTimestep(t: number): number {
    const prev = this.prevOf.get(t);
    if (prev === undefined) throw new Error(`DDPM: timestep ${t} is not in this scheduler's grid`);
    return prev;
  }

  inputScale(): number {
    return 1;
  }

  needsNoise(t: number): boolean {
    return t > 0;
  }

  /** the coefficients of x_{t-1} = c0·x̂_0 + ct·x_t + σ·z */
  coefficients(t: number): { c0: number; ct: number; std: number } {
    const prev = this.previousTimestep(t);
    const alphaProd = this.alphasCumprod[t];
    const alphaProdPrev = prev >= 0 ? this.alphasCumprod[prev] : 1;
    const betaProd = 1 - alphaProd;
    const betaProdPrev = 1 - alphaProdPrev;
    const currentAlpha = alphaProd / alphaProdPrev;
    const currentBeta = 1 - currentAlpha;
    const c0 = (Math.sqrt(alphaProdPrev) * currentBeta) / betaProd;
    const ct = (Math.sqrt(currentAlpha) * betaProdPrev) / betaProd;
    let std = 0;
    if (t > 0) {
      const posterior = Math.max((betaProdPrev / betaProd) * currentBeta, 1e-20);
      switch (this.config.varianceType) {
        case 'fixed_small': std = Math.sqrt(posterior); break;
        // diffusers' fixed_small_log: exp(0.5·log(variance)) is the same standard deviation
        case 'fixed_small_log': std = Math.exp(0.5 * Math.log(posterior)); break;
        case 'fixed_large': std = Math.sqrt(currentBeta); break;
        // diffusers takes (log β)^0.5 here, which is NaN for β < 1: refuse instead of emitting NaNs
        case 'fixed_large_log': throw new UserError("scheduler_config.json: variance_type 'fixed_large_log' yields NaN noise in diffusers' DDPM; use fixed_small or fixed_large");
      }
    }
    return { c0, ct, std };
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts: StepOptions = {}): Float32Array {
    const n = sample.length;
    if (modelOutput.length !== n) throw new Error(`DDPM step: model output has ${modelOutput.length} elements, sample ${n}`);
    const { c0, ct, std } = this.coefficients(t);
    const x0 = this.scratch.get('x0', n);
    predictOriginal(this.config, this.alphasCumprod[t], modelOutput, sample, x0);
    clipOriginal(this.config, x0, opts.batch ?? 1);
    const out = opts.out ?? new Float32Array(n);
    if (std > 0) {
      const z = opts.noise;
      if (!z || z.length !== n) throw new Error('DDPM step at t > 0 needs noise shaped like the sample');
      for (let i = 0; i < n; i++) out[i] = c0 * x0[i] + ct * sample[i] + std * z[i];
    } else {
      for (let i = 0; i < n; i++) out[i] = c0 * x0[i] + ct * sample[i];
    }
    return out;
  }
}
