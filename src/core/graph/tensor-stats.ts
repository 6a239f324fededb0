// Weight statistics for the graph view's tensor panel (min/max/mean/std, zeros, non-finite, histogram),
// computed from the tensor's bytes read on demand. Only numbers cross to the webview, never the bytes.
import { readTensorValues } from '../onnx/tensor-data';
import { elemTypeName, numElements, type TensorData } from '../onnx/types';
import type { ModelAnalysis } from './analyze';
import { attr } from './attrs';

/** A tensor's statistics: numbers only, whatever the tensor's size. */
export interface WeightStats {
  dtype: string;
  shape: number[];
  count: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  zeros?: number;
  /** NaN and ±Inf elements, excluded from the other statistics */
  nonFinite?: number;
  /** equal-width bins over [lo, hi] */
  histogram: { lo: number; hi: number; counts: number[] };
}

export const HISTOGRAM_BINS = 64;
/** Larger tensors are refused: reading them would hold hundreds of MB in the extension host. */
export const MAX_STATS_ELEMENTS = 64 * 1024 * 1024;

/** The initializer (or Constant node tensor) named `name` in the analyzed model. */
export function findTensor(a: ModelAnalysis, name: string): TensorData | undefined {
  const init = a.view.initializer(name);
  if (init) return init;
  const producer = a.view.producer(name);
  return producer?.opType === 'Constant' ? attr(producer, 'value')?.t : undefined;
}

export async function tensorStats(t: TensorData, file: string): Promise<WeightStats> {
  const count = numElements(t.dims);
  if (count > MAX_STATS_ELEMENTS) {
    throw new Error(`${file}: tensor '${t.name}' has ${count.toLocaleString('en-US')} elements; statistics stop at ${MAX_STATS_ELEMENTS.toLocaleString('en-US')}`);
  }
  const values = await readTensorValues(t);
  if (Array.isArray(values)) throw new Error(`${file}: tensor '${t.name}' holds strings; it has no numeric statistics`);
  // 64-bit integers as numbers, once (rare, small tensors); everything else is read in place
  const nums: ArrayLike<number> = values instanceof BigInt64Array || values instanceof BigUint64Array ? Float64Array.from(values, Number) : values;
  const s = moments(nums);
  const finite = nums.length - s.nonFinite;
  const lo = finite ? s.min : 0;
  const hi = finite ? s.max : 0;
  return {
    dtype: elemTypeName(t.elemType),
    shape: [...t.dims],
    count: nums.length,
    min: lo,
    max: hi,
    mean: s.mean,
    std: finite ? Math.sqrt(s.sq / finite) : 0,
    zeros: s.zeros,
    nonFinite: s.nonFinite,
    histogram: { lo, hi, counts: histogram(nums, lo, hi) },
  };
}

// The passes below index the typed array directly, with no per-element closure or Number() call:
// the SD-1.5 U-Net's largest weight (29.5M elements) takes 1.1-1.5 s of CPU for read + statistics,
// against 1.3-2.2 s before (same results, tensor for tensor, on digits-cond's 496 initializers).

/** min, max, zeros and non-finite count in one pass; then the mean and the sum of squared deviations (two-pass, stable). */
function moments(v: ArrayLike<number>): { min: number; max: number; mean: number; sq: number; zeros: number; nonFinite: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let zeros = 0;
  let nonFinite = 0;
  const n = v.length;
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (x - x !== 0) {
      nonFinite++; // NaN and ±Inf: x - x is NaN
      continue;
    }
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    if (x === 0) zeros++;
  }
  const finite = n - nonFinite;
  const mean = finite ? sum / finite : 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = v[i] - mean;
    if (d - d === 0) sq += d * d;
  }
  return { min, max, mean, sq, zeros, nonFinite };
}

/** HISTOGRAM_BINS equal-width bins over [lo, hi] of the finite values. */
function histogram(v: ArrayLike<number>, lo: number, hi: number): number[] {
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  const width = (hi - lo) / HISTOGRAM_BINS;
  const n = v.length;
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (x - x !== 0) continue;
    const b = width > 0 ? Math.min(HISTOGRAM_BINS - 1, Math.floor((x - lo) / width)) : 0;
    counts[b]++;
  }
  return counts;
}
