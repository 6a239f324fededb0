// DDIM (Song et al. 2020), with diffusers' DDIMScheduler semantics: the previous timestep is
// t − T/steps (integer division) whatever the spacing, ᾱ_prev at the end is 1 when
// set_alpha_to_one else ᾱ_0, and σ_t = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1−ᾱ_t/ᾱ_prev)).
import type { SchedulerConfig } from './config';
import { alphasCumprod, betaSchedule, inferenceTimesteps } from './noise-schedule';
import { clipOriginal, predictOriginal, Scratch } from './prediction';
import type { Scheduler, StepOptions } from './types';
import { UserError } from '../../errors';

export interface DdimOptions {
  steps: number;
  /** η: 0 is deterministic DDIM, 1 matches DDPM's posterior variance */
  eta?: number;
}

export class DdimScheduler implements Scheduler {
  readonly name = 'ddim' as const;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  readonly alphasCumprod: Float32Array;
  readonly finalAlphaCumprod: number;
  readonly eta: number;
  private readonly stepRatio: number;
  private readonly scratch = new Scratch();

  constructor(readonly config: SchedulerConfig, opts: DdimOptions) {
    this.eta = opts.eta ?? 0;
    if (!(this.eta >= 0)) throw new UserError(`eta must be ≥ 0, got ${opts.eta}`);
    this.alphasCumprod = alphasCumprod(betaSchedule(config));
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphasCumprod[0];
    this.timesteps = inferenceTimesteps(config, opts.steps);
    this.stepRatio = Math.floor(config.numTrainTimesteps / opts.steps);
    const bad = this.timesteps.find((t) => t < 0 || t >= config.numTrainTimesteps);
    if (bad !== undefined) {
      throw new UserError(`scheduler: timestep ${bad} (steps_offset ${config.stepsOffset}) is outside 0..${config.numTrainTimesteps - 1}`);
    }
  }

  inputScale(): number {
    return 1;
  }

  needsNoise(): boolean {
    return this.eta > 0;
  }

  /** ᾱ at t and at the previous timestep, and σ_t. */
  coefficients(t: number): { alphaProd: number; alphaProdPrev: number; std: number } {
    const prev = t - this.stepRatio;
    const alphaProd = this.alphasCumprod[t];
    const alphaProdPrev = prev >= 0 ? this.alphasCumprod[prev] : this.finalAlphaCumprod;
    const variance = ((1 - alphaProdPrev) / (1 - alphaProd)) * (1 - alphaProd / alphaProdPrev);
    return { alphaProd, alphaProdPrev, std: this.eta * Math.sqrt(variance) };
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts: StepOptions = {}): Float32Array {
    const n = sample.length;
    if (modelOutput.length !== n) throw new Error(`DDIM step: model output has ${modelOutput.length} elements, sample ${n}`);
    const { alphaProd, alphaProdPrev, std } = this.coefficients(t);
    const x0 = this.scratch.get('x0', n);
    const eps = this.scratch.get('eps', n);
    predictOriginal(this.config, alphaProd, modelOutput, sample, x0, eps);
    clipOriginal(this.config, x0, opts.batch ?? 1);
    // x_{t-1} = √ᾱ_prev·x̂_0 + √(1−ᾱ_prev−σ²)·ε̂ + σ·z (ε̂ stays unclipped, as diffusers' default)
    const a = Math.sqrt(alphaProdPrev);
    const d = Math.sqrt(Math.max(1 - alphaProdPrev - std * std, 0));
    const out = opts.out ?? new Float32Array(n);
    if (std > 0) {
      const z = opts.noise;
      if (!z || z.length !== n) throw new Error('DDIM step with eta > 0 needs noise shaped like the sample');
      for (let i = 0; i < n; i++) out[i] = a * x0[i] + d * eps[i] + std * z[i];
    } else {
      for (let i = 0; i < n; i++) out[i] = a * x0[i] + d * eps[i];
    }
    return out;
  }
}
