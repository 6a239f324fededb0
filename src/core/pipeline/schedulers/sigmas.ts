// The σ-parameterisation Euler and DPM-Solver++ share: σ_t = √((1−ᾱ_t)/ᾱ_t), so x_t = x_0 + σ_t·ε
// for the variance-exploding form (Euler) and α_t = 1/√(σ²+1), σ̃_t = σ·α_t for the variance-preserving
// one (DPM-Solver++). Values are rounded to float32 where diffusers holds them as float32 arrays.
import type { SchedulerConfig } from './config';
import { alphasCumprod, betaSchedule } from './noise-schedule';

/** σ for every training timestep (float32, as torch computes it from the float32 ᾱ). */
export function trainSigmas(cfg: SchedulerConfig): Float32Array {
  const ac = alphasCumprod(betaSchedule(cfg));
  return ac.map((a) => Math.fround(Math.sqrt(Math.fround(Math.fround(1 - a) / a))));
}

/** np.interp(t, arange(n), table) for t inside [0, n−1] (our grids never leave it). */
export function interpSigma(table: Float32Array, t: number): number {
  const lo = Math.min(Math.max(Math.floor(t), 0), table.length - 1);
  const hi = Math.min(lo + 1, table.length - 1);
  return table[lo] + (table[hi] - table[lo]) * (t - lo);
}

/** diffusers' final σ after the last step: 0 ('zero', the default) or σ at t=0 ('sigma_min'). */
export function finalSigma(cfg: SchedulerConfig, table: Float32Array): number {
  return cfg.multistep?.finalSigmasType === 'sigma_min' ? table[0] : 0;
}

/** Index of t in the schedule; a clear error for a timestep the schedule never produced. */
export function stepIndexOf(timesteps: readonly number[], t: number, who: string): number {
  const i = timesteps.indexOf(t);
  if (i < 0) throw new Error(`${who} step: timestep ${t} is not in this schedule`);
  return i;
}

