// DPM-Solver++ multistep (Lu et al. 2022), data-prediction form, orders 1–2 with the midpoint
// second-order update, as diffusers' DPMSolverMultistepScheduler computes it: in log-SNR
// λ = log(α/σ̃), h = λ_next − λ_cur,
//   order 1: x ← (σ̃_next/σ̃_cur)·x − α_next·(e^{−h} − 1)·D0
//   order 2: … − ½·α_next·(e^{−h} − 1)·D1,  D1 = (D0 − D_prev)·h/h_prev
// where D are x̂_0 predictions. Order 1 on the first step, and on the last one when
// final_sigmas_type is 'zero', lower_order_final with < 15 steps, or euler_at_final.
import type { SchedulerConfig } from './config';
import { roundHalfEven, trailingTimesteps } from './noise-schedule';
import { clipOriginal, Scratch } from './prediction';
import { finalSigma, interpSigma, stepIndexOf, trainSigmas } from './sigmas';
import type { Scheduler, StepOptions } from './types';
import { UserError } from '../../errors';

/** diffusers' DPM-Solver grid (integers), descending: steps+1 points with the smallest dropped. */
export function dpmTimesteps(cfg: SchedulerConfig, steps: number): number[] {
  const T = cfg.numTrainTimesteps;
  if (!Number.isInteger(steps) || steps < 1) throw new UserError(`steps must be a positive integer, got ${steps}`);
  if (steps > T) throw new UserError(`steps (${steps}) cannot exceed the scheduler's num_train_timesteps (${T})`);
  if (cfg.timestepSpacing === 'linspace') {
    const d = (T - 1) / steps;
    return Array.from({ length: steps }, (_, i) => roundHalfEven(i === 0 ? T - 1 : (steps - i) * d));
  }
  if (cfg.timestepSpacing === 'leading') {
    const ratio = Math.floor(T / (steps + 1));
    return Array.from({ length: steps }, (_, i) => (steps - i) * ratio + cfg.stepsOffset);
  }
  return trailingTimesteps(T, steps);
}

export class DpmSolverScheduler implements Scheduler {
  readonly name = 'dpm++' as const;
  readonly timesteps: readonly number[];
  readonly sigmas: Float32Array;
  readonly initNoiseSigma = 1;
  readonly order: number;
  private readonly scratch = new Scratch();
  /** x̂_0 of the previous step and whether it belongs to this trajectory */
  private prevX0: Float32Array | undefined;
  private lowerOrderNums = 0;

  constructor(readonly config: SchedulerConfig, opts: { steps: number }) {
    this.order = config.multistep?.solverOrder ?? 2;
    if (this.order !== 1 && this.order !== 2) throw new UserError(`DPM-Solver++: solver_order ${this.order} is not supported (1 or 2)`);
    const table = trainSigmas(config);
    this.timesteps = dpmTimesteps(config, opts.steps);
    const bad = this.timesteps.find((t) => t < 0 || t >= config.numTrainTimesteps);
    if (bad !== undefined) throw new UserError(`scheduler: timestep ${bad} (steps_offset ${config.stepsOffset}) is outside 0..${config.numTrainTimesteps - 1}`);
    this.sigmas = Float32Array.from([...this.timesteps.map((t) => interpSigma(table, t)), finalSigma(config, table)]);
  }

  needsNoise(): boolean {
    return false;
  }

  inputScale(): number {
    return 1;
  }

  /** α_t and σ̃_t of the variance-preserving form, and λ = log α − log σ̃ (∞ at σ = 0). */
  private vp(sigma: number): { alpha: number; s: number; lambda: number } {
    const alpha = 1 / Math.sqrt(sigma * sigma + 1);
    const s = sigma * alpha;
    return { alpha, s, lambda: Math.log(alpha) - Math.log(s) };
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts: StepOptions = {}): Float32Array {
    const n = sample.length;
    if (modelOutput.length !== n) throw new Error(`DPM-Solver++ step: model output has ${modelOutput.length} elements, sample ${n}`);
    const k = stepIndexOf(this.timesteps, t, 'DPM-Solver++');
    // the runner reuses one scheduler for every batch: the first timestep starts a new trajectory
    if (k === 0) this.lowerOrderNums = 0;
    const ms = this.config.multistep;
    const last = k === this.timesteps.length - 1;
    const lowerFinal = last && ((ms?.eulerAtFinal ?? false) || ((ms?.lowerOrderFinal ?? true) && this.timesteps.length < 15) || (ms?.finalSigmasType ?? 'zero') === 'zero');

    const cur = this.vp(this.sigmas[k]);
    const next = this.vp(this.sigmas[k + 1]);
    const x0 = this.scratch.get(k % 2 === 0 ? 'a' : 'b', n);
    if (this.config.predictionType === 'epsilon') for (let i = 0; i < n; i++) x0[i] = (sample[i] - cur.s * modelOutput[i]) / cur.alpha;
    else if (this.config.predictionType === 'sample') x0.set(modelOutput);
    else for (let i = 0; i < n; i++) x0[i] = cur.alpha * sample[i] - cur.s * modelOutput[i];
    if (this.config.thresholding) clipOriginal(this.config, x0, opts.batch ?? 1);

    const h = next.lambda - cur.lambda;
    const ratio = next.s / cur.s;
    const c = next.alpha * (Math.exp(-h) - 1);
    const out = opts.out ?? new Float32Array(n);
    if (this.order === 1 || this.lowerOrderNums < 1 || lowerFinal || !this.prevX0) {
      for (let i = 0; i < n; i++) out[i] = ratio * sample[i] - c * x0[i];
    } else {
      const hPrev = cur.lambda - this.vp(this.sigmas[k - 1]).lambda;
      const r = h / hPrev; // 1/r0 in diffusers' notation
      const prev = this.prevX0;
      for (let i = 0; i < n; i++) out[i] = ratio * sample[i] - c * x0[i] - 0.5 * c * r * (x0[i] - prev[i]);
    }
    this.prevX0 = x0;
    if (this.lowerOrderNums < this.order) this.lowerOrderNums++;
    return out;
  }
}
