// Euler (Karras et al. 2022, Algorithm 2 with s_churn = 0) with diffusers' EulerDiscreteScheduler
// semantics: σ at the inference timesteps is linearly interpolated from the training σ table, the
// initial latents are scaled by √(σ_max²+1) ('leading') or σ_max ('linspace'/'trailing'), the U-Net
// sees x/√(σ²+1), and one step is x ← x + (x − x̂_0)/σ · (σ_next − σ).
import type { SchedulerConfig } from './config';
import { trailingTimesteps } from './noise-schedule';
import { finalSigma, interpSigma, stepIndexOf, trainSigmas } from './sigmas';
import type { Scheduler, StepOptions } from './types';
import { UserError } from '../../errors';

/** diffusers' Euler timestep grid (float32; 'linspace' keeps fractional timesteps), descending. */
export function eulerTimesteps(cfg: SchedulerConfig, steps: number): number[] {
  const T = cfg.numTrainTimesteps;
  if (!Number.isInteger(steps) || steps < 1) throw new UserError(`steps must be a positive integer, got ${steps}`);
  if (steps > T) throw new UserError(`steps (${steps}) cannot exceed the scheduler's num_train_timesteps (${T})`);
  if (cfg.timestepSpacing === 'linspace') {
    const d = steps === 1 ? 0 : (T - 1) / (steps - 1);
    // np.linspace(0, T−1, steps, dtype=float32) reversed: its last point is exactly T−1
    return Array.from({ length: steps }, (_, i) => {
      const k = steps - 1 - i;
      return Math.fround(k === steps - 1 && steps > 1 ? T - 1 : k * d);
    });
  }
  if (cfg.timestepSpacing === 'leading') {
    const ratio = Math.floor(T / steps);
    return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio + cfg.stepsOffset);
  }
  return trailingTimesteps(T, steps);
}

export class EulerScheduler implements Scheduler {
  readonly name = 'euler' as const;
  readonly timesteps: readonly number[];
  /** σ at each inference timestep, then the final σ */
  readonly sigmas: Float32Array;
  readonly initNoiseSigma: number;

  constructor(readonly config: SchedulerConfig, opts: { steps: number }) {
    if (config.predictionType === 'sample') throw new UserError('Euler: prediction_type "sample" is not supported (epsilon or v_prediction)');
    const table = trainSigmas(config);
    this.timesteps = eulerTimesteps(config, opts.steps);
    const bad = this.timesteps.find((t) => t < 0 || t > config.numTrainTimesteps - 1);
    if (bad !== undefined) throw new UserError(`scheduler: timestep ${bad} (steps_offset ${config.stepsOffset}) is outside 0..${config.numTrainTimesteps - 1}`);
    this.sigmas = Float32Array.from([...this.timesteps.map((t) => interpSigma(table, t)), finalSigma(config, table)]);
    const max = this.sigmas.reduce((a, b) => Math.max(a, b), 0);
    this.initNoiseSigma = config.timestepSpacing === 'leading' ? Math.fround(Math.sqrt(max * max + 1)) : max;
  }

  needsNoise(): boolean {
    return false;
  }

  inputScale(t: number): number {
    const s = this.sigmas[stepIndexOf(this.timesteps, t, 'Euler')];
    return 1 / Math.sqrt(s * s + 1);
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts: StepOptions = {}): Float32Array {
    const n = sample.length;
    if (modelOutput.length !== n) throw new Error(`Euler step: model output has ${modelOutput.length} elements, sample ${n}`);
    const k = stepIndexOf(this.timesteps, t, 'Euler');
    const sigma = this.sigmas[k];
    const dt = this.sigmas[k + 1] - sigma;
    const out = opts.out ?? new Float32Array(n);
    if (this.config.predictionType === 'epsilon') {
      // x̂_0 = x − σ·ε, so (x − x̂_0)/σ = ε
      for (let i = 0; i < n; i++) out[i] = sample[i] + modelOutput[i] * dt;
    } else {
      // v: x̂_0 = −σ/√(σ²+1)·v + x/(σ²+1)
      const c = -sigma / Math.sqrt(sigma * sigma + 1);
      const d = 1 / (sigma * sigma + 1);
      for (let i = 0; i < n; i++) {
        const x0 = c * modelOutput[i] + d * sample[i];
        out[i] = sample[i] + ((sample[i] - x0) / sigma) * dt;
      }
    }
    return out;
  }
}
