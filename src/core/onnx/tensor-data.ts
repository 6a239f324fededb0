// Reading a tensor's bytes on demand (by range, from the .onnx file or its external data file) and
// decoding them to typed arrays. Low-precision floats (float16, bfloat16, float8, float4) decode to
// float32, 4-bit integers to one byte per element, so weight statistics and surgery see plain numbers.
import { open } from 'node:fs/promises';
import { UserError } from '../errors';
import type { TensorData } from './types';
import { ElemType, elemBits, elemTypeName, numElements } from './types';
import { decodeStrings, forEachVarint, int64FromParts, uint64FromParts } from './wire';

export type TensorValues =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | string[];

function describe(t: TensorData): string {
  const loc = t.location;
  return `tensor '${t.name}'${loc.kind === 'inline' ? '' : ` in '${loc.file}'`}`;
}

type FileHandle = Awaited<ReturnType<typeof open>>;

async function openTensorFile(file: string, t: TensorData): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (e) {
    throw new UserError(`${file}: cannot read ${describe(t)}: ${(e as Error).message}`, file);
  }
}

/**
 * Fills `into[0, length)` from `file` at `position`: the one loop every external-data read goes through (a read
 * may return fewer bytes than asked; none at all means the file is shorter than the model said).
 */
async function readInto(fh: FileHandle, file: string, into: Uint8Array, length: number, position: number, t: TensorData): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(into, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new UserError(`${file}: ends before the data of ${describe(t)} (needs bytes ${position}..${position + length}); it changed since the model was read`, file);
    }
    done += bytesRead;
  }
}

async function readFileRange(file: string, offset: number, length: number, t: TensorData): Promise<Uint8Array> {
  // A fresh Uint8Array (not a pooled Buffer) so typed-array views over it are aligned.
  const out = new Uint8Array(length);
  if (length === 0) return out;
  const fh = await openTensorFile(file, t);
  try {
    await readInto(fh, file, out, length, offset, t);
  } finally {
    await fh.close();
  }
  return out;
}

/** Bytes [start, end) of the tensor's payload as stored (raw little-endian, or the typed field's wire form). */
export async function readTensorRange(t: TensorData, start: number, end: number): Promise<Uint8Array> {
  if (!(start >= 0 && start <= end && end <= t.byteLength)) {
    throw new RangeError(`range ${start}..${end} is outside ${describe(t)} (${t.byteLength} bytes)`);
  }
  const loc = t.location;
  if (loc.kind === 'inline') return loc.bytes.slice(start, end);
  return readFileRange(loc.file, loc.offset + start, end - start, t);
}

/**
 * Calls `fn` with the payload's bytes in consecutive chunks of `chunkBytes` (the last may be shorter),
 * read into one buffer that is reused: a large tensor is never in memory whole and no buffer is made
 * per chunk (in a worker thread, a fresh multi-MB buffer per chunk cost the process's other threads,
 * the extension host's among them, page-fault and unmap stalls). `bytes` is valid only during the call.
 */
export async function forEachTensorChunk(t: TensorData, chunkBytes: number, fn: (bytes: Uint8Array, offset: number) => void): Promise<void> {
  const loc = t.location;
  if (loc.kind === 'inline') {
    for (let at = 0; at < t.byteLength; at += chunkBytes) fn(loc.bytes.subarray(at, Math.min(t.byteLength, at + chunkBytes)), at);
    return;
  }
  const buf = new Uint8Array(Math.min(chunkBytes, t.byteLength));
  const fh = await openTensorFile(loc.file, t);
  try {
    for (let at = 0; at < t.byteLength; at += chunkBytes) {
      const length = Math.min(chunkBytes, t.byteLength - at);
      await readInto(fh, loc.file, buf, length, loc.offset + at, t);
      fn(buf.subarray(0, length), at);
    }
  } finally {
    await fh.close();
  }
}

/** The whole payload as stored. */
export function readTensorBytes(t: TensorData): Promise<Uint8Array> {
  return readTensorRange(t, 0, t.byteLength);
}

// ---- decoding --------------------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float16ToFloat32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function bfloat16ToFloat32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/**
 * A 256-entry table for an 8-bit (or 4-bit) float format. `nan`: how the format spells NaN —
 * 'ieee' (max exponent: inf/NaN), 'fn' (only all-ones is NaN, no inf), 'fnuz' (only 0x80 is NaN),
 * 'none' (float4e2m1 has no NaN or inf).
 */
function miniFloatTable(expBits: number, manBits: number, bias: number, nan: 'ieee' | 'fn' | 'fnuz' | 'none'): Float32Array {
  const total = 1 + expBits + manBits;
  const table = new Float32Array(1 << total);
  const expMax = (1 << expBits) - 1;
  const manMax = (1 << manBits) - 1;
  for (let b = 0; b < table.length; b++) {
    const sign = b >> (expBits + manBits) ? -1 : 1;
    const e = (b >> manBits) & expMax;
    const m = b & manMax;
    let v: number;
    if (nan === 'fnuz' && b === 1 << (total - 1)) v = NaN;
    else if (nan === 'fn' && e === expMax && m === manMax) v = NaN;
    else if (nan === 'ieee' && e === expMax) v = m ? NaN : sign * Infinity;
    else if (e === 0) v = sign * m * 2 ** (1 - bias - manBits);
    else v = sign * (1 + m / (1 << manBits)) * 2 ** (e - bias);
    table[b] = v;
  }
  return table;
}

const tables = new Map<number, Float32Array>();
function floatTable(t: number): Float32Array | undefined {
  let tab = tables.get(t);
  if (tab) return tab;
  switch (t) {
    case ElemType.FLOAT8E4M3FN: tab = miniFloatTable(4, 3, 7, 'fn'); break;
    case ElemType.FLOAT8E4M3FNUZ: tab = miniFloatTable(4, 3, 8, 'fnuz'); break;
    case ElemType.FLOAT8E5M2: tab = miniFloatTable(5, 2, 15, 'ieee'); break;
    case ElemType.FLOAT8E5M2FNUZ: tab = miniFloatTable(5, 2, 16, 'fnuz'); break;
    case ElemType.FLOAT4E2M1: tab = miniFloatTable(2, 1, 1, 'none'); break;
    case ElemType.FLOAT8E8M0: // exponent only: 2^(b-127), 0xff is NaN
      tab = Float32Array.from({ length: 256 }, (_, b) => (b === 255 ? NaN : 2 ** (b - 127)));
      break;
    default: return undefined;
  }
  tables.set(t, tab);
  return tab;
}

/** Values of the int32_data field, one per entry (ONNX stores every narrow type there, widened). */
function int32Entries(bytes: Uint8Array): number[] {
  const out: number[] = [];
  forEachVarint(bytes, (lo) => out.push(lo | 0));
  return out;
}

/** float16/bfloat16/float8 element bit patterns → float32 */
function fromBits(t: TensorData, count: number, bits: (i: number) => number): Float32Array {
  const e = t.elemType;
  const table = floatTable(e);
  const conv = e === ElemType.FLOAT16 ? float16ToFloat32 : e === ElemType.BFLOAT16 ? bfloat16ToFloat32 : (b: number) => table![b & 0xff];
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = conv(bits(i));
  return out;
}

/** Sub-byte types (4 or 2 bits): several elements per byte, lowest bits first. */
function unpackSubByte(bytes: Uint8Array, count: number, elemType: number): TensorValues {
  const bits = elemBits(elemType)!;
  const per = 8 / bits;
  const mask = (1 << bits) - 1;
  const at = (i: number) => (bytes[Math.floor(i / per)] >> ((i % per) * bits)) & mask;
  if (elemType === ElemType.FLOAT4E2M1) {
    const tab = floatTable(elemType)!;
    return Float32Array.from({ length: count }, (_, i) => tab[at(i)]);
  }
  const signed = elemType === ElemType.INT4 || elemType === ElemType.INT2;
  const out = signed ? new Int8Array(count) : new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const v = at(i);
    out[i] = signed && v > mask >> 1 ? v - (mask + 1) : v;
  }
  return out;
}

const SUB_BYTE = new Set<number>([ElemType.INT4, ElemType.UINT4, ElemType.FLOAT4E2M1, ElemType.INT2, ElemType.UINT2]);

function rawView(bytes: Uint8Array, t: TensorData): TensorValues {
  // Copy into a fresh buffer when unaligned, so the typed views below are legal.
  const b = bytes.byteOffset % 8 ? bytes.slice() : bytes;
  const buf = b.buffer;
  const off = b.byteOffset;
  const n = numElements(t.dims);
  switch (t.elemType) {
    case ElemType.FLOAT: return new Float32Array(buf, off, n);
    case ElemType.DOUBLE: return new Float64Array(buf, off, n);
    case ElemType.COMPLEX64: return new Float32Array(buf, off, 2 * n);
    case ElemType.COMPLEX128: return new Float64Array(buf, off, 2 * n);
    case ElemType.INT8: return new Int8Array(buf, off, n);
    case ElemType.UINT8: case ElemType.BOOL: return new Uint8Array(buf, off, n);
    case ElemType.INT16: return new Int16Array(buf, off, n);
    case ElemType.UINT16: return new Uint16Array(buf, off, n);
    case ElemType.INT32: return new Int32Array(buf, off, n);
    case ElemType.UINT32: return new Uint32Array(buf, off, n);
    case ElemType.INT64: return new BigInt64Array(buf, off, n);
    case ElemType.UINT64: return new BigUint64Array(buf, off, n);
    case ElemType.FLOAT16: case ElemType.BFLOAT16: {
      const h = new Uint16Array(buf, off, n);
      return fromBits(t, n, (i) => h[i]);
    }
    case ElemType.FLOAT8E4M3FN: case ElemType.FLOAT8E4M3FNUZ: case ElemType.FLOAT8E5M2: case ElemType.FLOAT8E5M2FNUZ:
    case ElemType.FLOAT8E8M0:
      return fromBits(t, n, (i) => b[i]);
    case ElemType.INT4: case ElemType.UINT4: case ElemType.FLOAT4E2M1: case ElemType.INT2: case ElemType.UINT2:
      return unpackSubByte(b, n, t.elemType);
  }
  throw new UserError(`cannot decode ${describe(t)}: element type ${elemTypeName(t.elemType)} is not supported`);
}

/** Decodes a payload (as returned by readTensorBytes) to values; the length is checked against dims. */
export function decodeTensorBytes(t: TensorData, bytes: Uint8Array): TensorValues {
  const field = t.location.kind === 'external' ? 'raw' : t.location.field;
  const n = numElements(t.dims);
  const bad = (got: number, want: number, unit: string) =>
    new UserError(`${describe(t)} has ${got} ${unit} of data, but its shape [${t.dims.join(', ')}] of ${elemTypeName(t.elemType)} needs ${want}`);
  const complexFactor = t.elemType === ElemType.COMPLEX64 || t.elemType === ElemType.COMPLEX128 ? 2 : 1;
  switch (field) {
    case 'raw': {
      if (t.elemType === ElemType.STRING) throw new UserError(`${describe(t)}: a string tensor cannot use raw_data`);
      const bits = elemBits(t.elemType);
      if (bits === undefined) throw new UserError(`cannot decode ${describe(t)}: element type ${elemTypeName(t.elemType)} is not supported`);
      const want = Math.ceil((n * bits) / 8);
      if (bytes.length !== want) throw bad(bytes.length, want, 'bytes');
      return rawView(bytes, t);
    }
    case 'float': case 'double': {
      const size = field === 'float' ? 4 : 8;
      if (bytes.length !== n * complexFactor * size) throw bad(bytes.length / size, n * complexFactor, 'values');
      const b = bytes.byteOffset % 8 ? bytes.slice() : bytes;
      return size === 4 ? new Float32Array(b.buffer, b.byteOffset, n * complexFactor) : new Float64Array(b.buffer, b.byteOffset, n * complexFactor);
    }
    case 'string': {
      const list = decodeStrings(bytes);
      if (list.length !== n) throw bad(list.length, n, 'strings');
      const dec = new TextDecoder();
      return list.map((s) => dec.decode(s));
    }
    case 'int64': case 'uint64': {
      const big: bigint[] = [];
      forEachVarint(bytes, (lo, hi) => big.push(field === 'int64' ? int64FromParts(lo, hi) : uint64FromParts(lo, hi)));
      if (big.length !== n) throw bad(big.length, n, 'values');
      if (t.elemType === ElemType.UINT32) return Uint32Array.from(big, Number);
      return field === 'int64' ? BigInt64Array.from(big) : BigUint64Array.from(big);
    }
    case 'int32': {
      const v = int32Entries(bytes);
      const e = t.elemType;
      if (SUB_BYTE.has(e)) {
        // one packed byte (2 or 4 elements) per int32_data entry
        const entries = Math.ceil((n * elemBits(e)!) / 8);
        if (v.length !== entries) throw bad(v.length, entries, 'values');
        return unpackSubByte(Uint8Array.from(v, (x) => x & 0xff), n, e);
      }
      if (v.length !== n) throw bad(v.length, n, 'values');
      switch (e) {
        case ElemType.INT32: return Int32Array.from(v);
        case ElemType.INT16: return Int16Array.from(v);
        case ElemType.INT8: return Int8Array.from(v);
        case ElemType.UINT16: return Uint16Array.from(v);
        case ElemType.UINT8: case ElemType.BOOL: return Uint8Array.from(v);
        case ElemType.FLOAT16: case ElemType.BFLOAT16:
        case ElemType.FLOAT8E4M3FN: case ElemType.FLOAT8E4M3FNUZ: case ElemType.FLOAT8E5M2: case ElemType.FLOAT8E5M2FNUZ:
        case ElemType.FLOAT8E8M0:
          return fromBits(t, n, (i) => v[i] & 0xffff);
      }
    }
  }
  throw new UserError(`cannot decode ${describe(t)}: ${elemTypeName(t.elemType)} stored in ${field}_data is not supported`);
}

/** Reads and decodes a tensor's values. */
export async function readTensorValues(t: TensorData): Promise<TensorValues> {
  return decodeTensorBytes(t, await readTensorBytes(t));
}
