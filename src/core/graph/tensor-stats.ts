// Weight statistics for the graph view's tensor panel (min/max/mean/std, zeros, non-finite, histogram),
// computed from the tensor's bytes read on demand. Only numbers cross to the webview, never the bytes.
import { decodeTensorBytes, forEachTensorChunk, readTensorValues, type TensorValues } from '../onnx/tensor-data';
import { ElemType, elemBits, elemTypeName, numElements, type TensorData } from '../onnx/types';
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

export interface StatsOptions {
  /** bytes read at a time (default 4 MB); tests split small tensors over several chunks with it */
  chunkBytes?: number;
}

export async function tensorStats(t: TensorData, file: string, options: StatsOptions = {}): Promise<WeightStats> {
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  const count = numElements(t.dims);
  if (count > MAX_STATS_ELEMENTS) {
    throw new Error(`${file}: tensor '${t.name}' has ${count.toLocaleString('en-US')} elements; statistics stop at ${MAX_STATS_ELEMENTS.toLocaleString('en-US')}`);
  }
  // two passes (the mean and range first, then the deviations and the histogram), as before, but a
  // chunk at a time: an SD-scale weight (118 MB as float32) never sits in memory whole
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let zeros = 0;
  let nonFinite = 0;
  let n = 0;
  await forEachChunk(t, file, chunkBytes, (v) => {
    const len = v.length;
    n += len;
    for (let i = 0; i < len; i++) {
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
  });
  const finite = n - nonFinite;
  const mean = finite ? sum / finite : 0;
  const lo = finite ? min : 0;
  const hi = finite ? max : 0;
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  const width = (hi - lo) / HISTOGRAM_BINS;
  let sq = 0;
  await forEachChunk(t, file, chunkBytes, (v) => {
    const len = v.length;
    for (let i = 0; i < len; i++) {
      const x = v[i];
      if (x - x !== 0) continue;
      sq += (x - mean) * (x - mean);
      counts[width > 0 ? Math.min(HISTOGRAM_BINS - 1, Math.floor((x - lo) / width)) : 0]++;
    }
  });
  return {
    dtype: elemTypeName(t.elemType),
    shape: [...t.dims],
    count: n,
    min: lo,
    max: hi,
    mean,
    std: finite ? Math.sqrt(sq / finite) : 0,
    zeros,
    nonFinite,
    histogram: { lo, hi, counts },
  };
}

const CHUNK_BYTES = 4 << 20;

/**
 * The tensor's values as numbers, a chunk of whole elements at a time when they are stored raw with
 * whole-byte elements (every large weight: external data, raw_data), otherwise all at once (typed
 * fields, 4-bit and complex types, and payloads whose length is wrong: the decoder names the problem).
 */
async function forEachChunk(t: TensorData, file: string, chunkBytes: number, fn: (v: ArrayLike<number>) => void): Promise<void> {
  const bits = elemBits(t.elemType);
  const n = numElements(t.dims);
  const raw = t.location.kind === 'external' || t.location.field === 'raw';
  const complex = t.elemType === ElemType.COMPLEX64 || t.elemType === ElemType.COMPLEX128;
  if (raw && bits !== undefined && bits % 8 === 0 && !complex && t.elemType !== ElemType.STRING && t.byteLength === (n * bits) / 8) {
    const size = bits / 8;
    await forEachTensorChunk(t, Math.max(1, Math.floor(chunkBytes / size)) * size, (bytes) => {
      const chunk: TensorData = { ...t, dims: [bytes.length / size], byteLength: bytes.length, location: { kind: 'inline', bytes, field: 'raw' } };
      fn(numbers(decodeTensorBytes(chunk, bytes), t, file));
    });
    return;
  }
  fn(numbers(await readTensorValues(t), t, file));
}

function numbers(v: TensorValues, t: TensorData, file: string): ArrayLike<number> {
  if (Array.isArray(v)) throw new Error(`${file}: tensor '${t.name}' holds strings; it has no numeric statistics`);
  // 64-bit integers as numbers (rare, small tensors); everything else is read in place
  return v instanceof BigInt64Array || v instanceof BigUint64Array ? Float64Array.from(v, Number) : v;
}
