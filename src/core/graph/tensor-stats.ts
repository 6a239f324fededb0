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
  const at = (i: number) => Number(values[i]);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let zeros = 0;
  let nonFinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = at(i);
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    if (v === 0) zeros++;
  }
  const finite = values.length - nonFinite;
  const mean = finite ? sum / finite : 0;
  let sq = 0;
  for (let i = 0; i < values.length; i++) {
    const v = at(i);
    if (Number.isFinite(v)) sq += (v - mean) * (v - mean);
  }
  const lo = finite ? min : 0;
  const hi = finite ? max : 0;
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  const width = (hi - lo) / HISTOGRAM_BINS;
  for (let i = 0; i < values.length; i++) {
    const v = at(i);
    if (!Number.isFinite(v)) continue;
    const b = width > 0 ? Math.min(HISTOGRAM_BINS - 1, Math.floor((v - lo) / width)) : 0;
    counts[b]++;
  }
  return {
    dtype: elemTypeName(t.elemType),
    shape: [...t.dims],
    count: values.length,
    min: lo,
    max: hi,
    mean,
    std: finite ? Math.sqrt(sq / finite) : 0,
    zeros,
    nonFinite,
    histogram: { lo, hi, counts },
  };
}
