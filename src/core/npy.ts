// NumPy .npy reading and writing (format versions 1.0-3.0).
//
// Written here rather than taken from npm: the maintained reader (npyjs) drops the byte-order
// mark, so a big-endian array reads as garbage without an error, ignores Fortran order, and
// loads paths through fetch (pulling in node-fetch). The format is a short header plus raw
// little-endian elements, so a strict reader that refuses what it cannot represent is smaller
// than working around those gaps.
import { readFileSync } from 'node:fs';
import { UserError } from './errors';

export type NpyDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** int64 arrays come back as BigInt64Array; bool as Uint8Array of 0/1 */
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
}

const DESCR: Record<string, { dtype: NpyDtype; size: number }> = {
  '<f4': { dtype: 'float32', size: 4 },
  '<f8': { dtype: 'float64', size: 8 },
  '<i4': { dtype: 'int32', size: 4 },
  '<i8': { dtype: 'int64', size: 8 },
  '|u1': { dtype: 'uint8', size: 1 },
  '<u1': { dtype: 'uint8', size: 1 },
  '|b1': { dtype: 'bool', size: 1 },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Parses .npy bytes; `file` only names the source in error messages. */
export function parseNpy(bytes: Uint8Array, file = '<buffer>'): NpyArray {
  const bad = (why: string) => new UserError(`${file}: not a readable .npy array: ${why}`, file);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad('missing the \\x93NUMPY magic');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad('truncated header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw bad(`unsupported format version ${major}.${bytes[7]}`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) throw bad('truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad('malformed header dict');
  const kind = DESCR[descr];
  if (!kind) {
    throw bad(`dtype '${descr}' is not supported (use little-endian float32/float64/int32/int64/uint8/bool)`);
  }
  if (fortran === 'True') throw bad("Fortran-ordered arrays are not supported (save with np.ascontiguousarray)");
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const byteLength = count * kind.size;
  if (bytes.length - dataStart < byteLength) {
    throw bad(`expected ${byteLength} data bytes for shape [${shape.join(', ')}], found ${bytes.length - dataStart}`);
  }
  // Copy into a fresh, aligned buffer: the data offset need not be a multiple of the element size.
  // (new Uint8Array(view) copies; Buffer#slice would not)
  const raw = new Uint8Array(bytes.subarray(dataStart, dataStart + byteLength)).buffer;
  const data =
    kind.dtype === 'float32' ? new Float32Array(raw)
    : kind.dtype === 'float64' ? new Float64Array(raw)
    : kind.dtype === 'int32' ? new Int32Array(raw)
    : kind.dtype === 'int64' ? new BigInt64Array(raw)
    : new Uint8Array(raw);
  return { dtype: kind.dtype, shape, data };
}

export function readNpy(file: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read: ${(e as Error).message}`, file);
  }
  return parseNpy(bytes, file);
}

/** Reads a .npy of any real dtype as float32 (conditions, noise, feature statistics). */
export function readNpyFloat32(file: string): { shape: number[]; data: Float32Array } {
  const a = readNpy(file);
  if (a.data instanceof Float32Array) return { shape: a.shape, data: a.data };
  if (a.data instanceof BigInt64Array) return { shape: a.shape, data: Float32Array.from(a.data, (v) => Number(v)) };
  return { shape: a.shape, data: Float32Array.from(a.data) };
}

/** Reads a .npy as float64 (statistics where precision matters, e.g. covariance matrices). */
export function readNpyFloat64(file: string): { shape: number[]; data: Float64Array } {
  const a = readNpy(file);
  if (a.data instanceof Float64Array) return { shape: a.shape, data: a.data };
  if (a.data instanceof BigInt64Array) return { shape: a.shape, data: Float64Array.from(a.data, (v) => Number(v)) };
  return { shape: a.shape, data: Float64Array.from(a.data) };
}

/** Encodes a C-ordered little-endian array as .npy version 1.0 bytes. */
export function encodeNpy(data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: shape [${shape.join(', ')}] holds ${count} elements, data has ${data.length}`);
  const descr =
    data instanceof Float32Array ? '<f4'
    : data instanceof Float64Array ? '<f8'
    : data instanceof Int32Array ? '<i4'
    : data instanceof BigInt64Array ? '<i8'
    : '|u1';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // numpy pads the header with spaces so the data starts on a 64-byte boundary, ending in '\n'.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  // Typed arrays are in platform order; every platform Node supports is little-endian.
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
