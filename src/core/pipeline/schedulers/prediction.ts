// What DDIM and DDPM share: turning the model output into (x̂_0, ε̂) for the three diffusers
// prediction types, and clipping / dynamic thresholding of x̂_0.
import type { SchedulerConfig } from './config';

/**
 * Writes x̂_0 into `x0` and, when `eps` is given, ε̂ into `eps`, for one element range.
 * alphaProd = ᾱ_t. Formulas: epsilon: x̂_0 = (x − √(1−ᾱ)·ε)/√ᾱ; sample: x̂_0 = out,
 * ε̂ = (x − √ᾱ·x̂_0)/√(1−ᾱ); v: x̂_0 = √ᾱ·x − √(1−ᾱ)·v, ε̂ = √ᾱ·v + √(1−ᾱ)·x.
 */
export function predictOriginal(
  cfg: SchedulerConfig,
  alphaProd: number,
  modelOutput: Float32Array,
  sample: Float32Array,
  x0: Float32Array,
  eps?: Float32Array,
): void {
  const sa = Math.sqrt(alphaProd);
  const sb = Math.sqrt(1 - alphaProd);
  const n = sample.length;
  if (cfg.predictionType === 'epsilon') {
    for (let i = 0; i < n; i++) {
      x0[i] = (sample[i] - sb * modelOutput[i]) / sa;
      if (eps) eps[i] = modelOutput[i];
    }
  } else if (cfg.predictionType === 'sample') {
    for (let i = 0; i < n; i++) {
      x0[i] = modelOutput[i];
      if (eps) eps[i] = (sample[i] - sa * modelOutput[i]) / sb;
    }
  } else {
    for (let i = 0; i < n; i++) {
      x0[i] = sa * sample[i] - sb * modelOutput[i];
      if (eps) eps[i] = sa * modelOutput[i] + sb * sample[i];
    }
  }
}

/** torch.quantile's default ('linear') interpolation over a sorted copy. */
function quantile(values: Float32Array, q: number): number {
  const sorted = Float32Array.from(values).sort();
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Clips x̂_0 in place: dynamic thresholding (Imagen) when configured, per sample: s = clamp(
 * quantile(|x̂_0|, ratio), 1, sample_max_value), x̂_0 = clamp(x̂_0, −s, s)/s; else plain clipping
 * to ±clip_sample_range when clip_sample is set.
 */
export function clipOriginal(cfg: SchedulerConfig, x0: Float32Array, batch: number): void {
  if (cfg.thresholding) {
    const per = x0.length / batch;
    for (let b = 0; b < batch; b++) {
      const part = x0.subarray(b * per, (b + 1) * per);
      const abs = Float32Array.from(part, Math.abs);
      const s = Math.min(Math.max(quantile(abs, cfg.dynamicThresholdingRatio), 1), cfg.sampleMaxValue);
      for (let i = 0; i < per; i++) part[i] = Math.min(Math.max(part[i], -s), s) / s;
    }
  } else if (cfg.clipSample) {
    const r = cfg.clipSampleRange;
    for (let i = 0; i < x0.length; i++) x0[i] = Math.min(Math.max(x0[i], -r), r);
  }
}

/** Scratch arrays reused across steps, so a sampling loop allocates once per shape. */
export class Scratch {
  private arrays = new Map<string, Float32Array>();
  get(key: string, length: number): Float32Array {
    let a = this.arrays.get(key);
    if (!a || a.length !== length) {
      a = new Float32Array(length);
      this.arrays.set(key, a);
    }
    return a;
  }
}
