// The training noise schedule (betas → alphas_cumprod) and the inference timestep grids,
// following diffusers' definitions. Betas and alphas_cumprod are rounded to float32 at the
// points where diffusers holds them as float32 tensors, so values match to the last bit
// or two; per-step coefficients are then computed in float64.
import type { SchedulerConfig } from './config';
import { UserError } from '../../errors';

/** torch.linspace(start, end, n) (float64 here; rounded by the caller). */
function linspace(start: number, end: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (end - start) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? end : start + i * step));
}

/** GLIDE's cosine schedule: beta_i = min(1 - ᾱ((i+1)/T) / ᾱ(i/T), 0.999), ᾱ(t) = cos²((t+0.008)/1.008·π/2). */
function cosineBetas(n: number, maxBeta = 0.999): number[] {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  return Array.from({ length: n }, (_, i) => Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta));
}

/**
 * Rescales betas so the final timestep has zero SNR ("Common Diffusion Noise Schedules and
 * Sample Steps are Flawed", Algorithm 1), as diffusers' rescale_betas_zero_snr does.
 */
function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const n = betas.length;
  const sqrtBar = new Float64Array(n);
  let prod = 1;
  for (let i = 0; i < n; i++) {
    prod = Math.fround(prod * Math.fround(1 - betas[i]));
    sqrtBar[i] = Math.sqrt(prod);
  }
  const first = sqrtBar[0];
  const last = sqrtBar[n - 1];
  const bar = sqrtBar.map((s) => ((s - last) * first / (first - last)) ** 2);
  const out = new Float32Array(n);
  out[0] = 1 - bar[0];
  for (let i = 1; i < n; i++) out[i] = 1 - bar[i] / bar[i - 1];
  return out;
}

export function betaSchedule(cfg: SchedulerConfig): Float32Array {
  const n = cfg.numTrainTimesteps;
  let betas: Float32Array;
  if (cfg.trainedBetas) betas = Float32Array.from(cfg.trainedBetas);
  else if (cfg.betaSchedule === 'linear') betas = Float32Array.from(linspace(cfg.betaStart, cfg.betaEnd, n));
  else if (cfg.betaSchedule === 'scaled_linear') {
    // linspace in sqrt space (rounded to float32 as torch holds it), then squared in float32
    betas = Float32Array.from(linspace(Math.sqrt(cfg.betaStart), Math.sqrt(cfg.betaEnd), n), (v) => Math.fround(v) * Math.fround(v));
  } else betas = Float32Array.from(cosineBetas(n));
  return cfg.rescaleBetasZeroSnr ? rescaleZeroTerminalSnr(betas) : betas;
}

/** ᾱ_t = Π_{s≤t} (1 − β_s), accumulated in float32 like torch.cumprod on a float32 tensor. */
export function alphasCumprod(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let prod = 1;
  for (let i = 0; i < betas.length; i++) {
    prod = Math.fround(prod * Math.fround(1 - betas[i]));
    out[i] = prod;
  }
  return out;
}

/** numpy's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** diffusers' set_timesteps grid (DDIM and DDPM share it), descending. */
export function inferenceTimesteps(cfg: SchedulerConfig, steps: number): number[] {
  const T = cfg.numTrainTimesteps;
  if (!Number.isInteger(steps) || steps < 1) throw new UserError(`steps must be a positive integer, got ${steps}`);
  if (steps > T) throw new UserError(`steps (${steps}) cannot exceed the scheduler's num_train_timesteps (${T})`);
  if (cfg.timestepSpacing === 'linspace') {
    return linspace(0, T - 1, steps).map(roundHalfEven).reverse();
  }
  if (cfg.timestepSpacing === 'leading') {
    const ratio = Math.floor(T / steps);
    return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio + cfg.stepsOffset);
  }
  return trailingTimesteps(T, steps);
}

/** 'trailing' spacing, shared by every scheduler: np.arange(T, 0, −T/steps), rounded half to even, minus one. */
export function trailingTimesteps(T: number, steps: number): number[] {
  const ratio = T / steps;
  return Array.from({ length: Math.ceil(T / ratio) }, (_, i) => roundHalfEven(T - i * ratio) - 1);
}
