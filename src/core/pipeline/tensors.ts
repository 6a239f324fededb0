// Moving float32 host arrays in and out of ort tensors of whatever element type a model
// declares (float32, or float16 in half-precision exports), and reading model I/O metadata.
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors';

export interface IoInfo {
  name: string;
  type: string;
  /** numbers for static dims, null for symbolic/unknown ones; undefined when the rank is unknown */
  shape: (number | null)[] | undefined;
}

export function inputInfo(session: ort.InferenceSession): IoInfo[] {
  return session.inputMetadata.map(toInfo);
}

export function outputInfo(session: ort.InferenceSession): IoInfo[] {
  return session.outputMetadata.map(toInfo);
}

function toInfo(m: ort.InferenceSession.ValueMetadata): IoInfo {
  if (!m.isTensor) return { name: m.name, type: 'non-tensor', shape: undefined };
  // ort reports an empty shape both for scalars and for unknown ranks; the callers that care
  // (timestep) treat [] as "scalar or unknown", which feeds a scalar — valid for both.
  return { name: m.name, type: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null)) };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half bits, round to nearest even (overflow → ±inf). */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return half;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** A float tensor of the model's declared element type holding `data`. */
export function floatTensor(type: string, data: Float32Array, dims: readonly number[], what: string): ort.Tensor {
  if (type === 'float32') return new ort.Tensor('float32', data, dims);
  if (type === 'float16') {
    const h = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) h[i] = toHalf(data[i]);
    return new ort.Tensor('float16', h, dims);
  }
  if (type === 'float64') return new ort.Tensor('float64', Float64Array.from(data), dims);
  throw new UserError(`${what} has element type ${type}; expected float32, float16 or float64`);
}

/** A model output as float32 (copied only when it is not float32 already). */
export function readFloat(t: ort.Tensor, what: string): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') {
    const src = t.data as Uint16Array;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = fromHalf(src[i]);
    return out;
  }
  if (t.type === 'float64') return Float32Array.from(t.data as Float64Array);
  throw new UserError(`${what} has element type ${t.type}; expected a float tensor`);
}

/** An integer or float tensor filled with one value (timesteps). */
export function filledTensor(type: string, value: number, dims: readonly number[], what: string): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  switch (type) {
    case 'int64': return new ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(value)), dims);
    case 'int32': return new ort.Tensor('int32', new Int32Array(n).fill(value), dims);
    case 'float32': case 'float16': case 'float64':
      return floatTensor(type, new Float32Array(n).fill(value), dims, what);
    default: throw new UserError(`${what} has element type ${type}; expected int64, int32 or a float type`);
  }
}

/** Token ids as the int32/int64 tensor the text encoder declares. */
export function idsTensor(type: string, ids: readonly number[], dims: readonly number[], what: string): ort.Tensor {
  if (type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), dims);
  if (type === 'int32') return new ort.Tensor('int32', Int32Array.from(ids), dims);
  throw new UserError(`${what} has element type ${type}; expected int32 or int64 token ids`);
}
