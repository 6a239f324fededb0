// Protobuf wire-format helpers over in-memory bytes (the file-backed scanner is window-file.ts).
// Hand-written because the writer streams messages whose payloads are never in memory, which no
// protobuf library supports; the format itself is small (varints, fixed32/64, length prefixes).

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

const TWO32 = 4294967296;

/** Encoded size of an unsigned varint (or of a negative int64, always 10 bytes). */
export function varintSize(v: number | bigint): number {
  if (typeof v === 'bigint') {
    if (v < 0n) return 10;
    let n = 1;
    while (v >= 0x80n) { v >>= 7n; n++; }
    return n;
  }
  if (v < 0) return 10;
  let n = 1;
  while (v >= 0x80) { v = Math.floor(v / 128); n++; }
  return n;
}

/** Writes v as a varint (negative numbers as 64-bit two's complement, like protobuf's int64/int32). */
export function writeVarint(out: Uint8Array, o: number, v: number | bigint): number {
  if (typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
    while (v >= 0x80) { out[o++] = (v % 128) | 0x80; v = Math.floor(v / 128); }
    out[o++] = v;
    return o;
  }
  let b = BigInt.asUintN(64, BigInt(v));
  while (b >= 0x80n) { out[o++] = Number(b & 0x7fn) | 0x80; b >>= 7n; }
  out[o++] = Number(b);
  return o;
}

/** Calls fn(lo, hi) for every varint in a packed payload; throws on a truncated one. */
export function forEachVarint(bytes: Uint8Array, fn: (lo: number, hi: number) => void): void {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    let lo = 0;
    let hi = 0;
    let k = 0;
    for (;; k++) {
      if (i >= n || k >= 10) throw new Error('malformed packed varint data');
      const byte = bytes[i++];
      if (k < 4) lo |= (byte & 0x7f) << (7 * k);
      else if (k === 4) { lo |= (byte & 0x0f) << 28; hi = (byte & 0x7f) >> 4; }
      else hi |= (byte & 0x7f) << (7 * k - 32);
      if (byte < 0x80) break;
    }
    fn(lo >>> 0, hi >>> 0);
  }
}

export function int64FromParts(lo: number, hi: number): bigint {
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

export function uint64FromParts(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** A number when exact, else a bigint. */
export function int64Value(lo: number, hi: number): number | bigint {
  const s = hi | 0;
  if (s >= -0x200000 && s < 0x200000) return s * TWO32 + lo;
  return int64FromParts(lo, hi);
}

/** string_data as one payload: each string as varint length + bytes (its packed wire form, minus tags). */
export function encodeStrings(list: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.reduce((n, b) => n + varintSize(b.length) + b.length, 0));
  let o = 0;
  for (const b of list) {
    o = writeVarint(out, o, b.length);
    out.set(b, o);
    o += b.length;
  }
  return out;
}

/** The inverse of encodeStrings. */
export function decodeStrings(payload: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < payload.length) {
    let len = 0;
    let mul = 1;
    for (;;) {
      if (i >= payload.length) throw new Error('malformed string_data payload');
      const byte = payload[i++];
      len += (byte & 0x7f) * mul;
      mul *= 128;
      if (byte < 0x80) break;
    }
    if (i + len > payload.length) throw new Error('malformed string_data payload');
    out.push(payload.slice(i, i + len));
    i += len;
  }
  return out;
}
