// Synchronous, windowed access to a file by absolute byte offset, with the protobuf wire primitives
// (varints, fixed-width numbers, byte ranges) the ONNX scanner needs.
//
// Why a window instead of one buffer: a 1.7 GB single-file model is mostly raw_data the indexer skips;
// reading it whole would cost its full size in memory and I/O. Small files are read whole (one read);
// large files are read in windows that start small after a jump (the scanner just skipped a weight
// payload, so the next thing is a few header fields) and double while reading continues sequentially
// (a node list), up to MAX_WINDOW.
//
// Why synchronous reads: indexing touches a few MB in at most a few thousand small reads; an async
// round trip per read costs more than the read itself, and keeping the scanner synchronous keeps one
// simple decoder. Tensor payloads (the big reads) are read asynchronously elsewhere (tensor-data.ts).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from './wire';

/** A malformed protobuf: the reader turns it into a UserError naming the file. */
export class WireError extends Error {
  constructor(message: string, readonly pos: number) {
    super(message);
    this.name = 'WireError';
  }
}


const WHOLE_FILE_LIMIT = 64 * 1024 * 1024;
const MIN_WINDOW = 16 * 1024;
const MAX_WINDOW = 32 * 1024 * 1024;
const TWO32 = 4294967296;


export class WindowFile {
  readonly size: number;
  private fd: number;
  // buf, base and limit are read (never written) by the reader's inlined fast paths.
  /** the window: bytes [base, limit) of the file */
  buf: Buffer = Buffer.alloc(0);
  /** absolute offset of buf[0] */
  base = 0;
  /** absolute end of the valid bytes in buf */
  limit = 0;
  private nextWindow = MIN_WINDOW;
  /** bytes read from disk so far (for the benchmark) */
  bytesRead = 0;

  // Results of the last varint read, so hot loops allocate nothing.
  lo = 0;
  hi = 0;
  /** position just after the last value read */
  pos = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    try {
      this.size = fstatSync(this.fd).size;
      if (this.size <= WHOLE_FILE_LIMIT) this.load(0, this.size, this.size);
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.buf = Buffer.alloc(0);
  }

  /** Makes [pos, pos+n) resident and returns the index of pos in this.buf. */
  private at(pos: number, n: number): number {
    if (pos >= this.base && pos + n <= this.limit) return pos - this.base;
    if (pos + n > this.size) throw new WireError('unexpected end of file', pos);
    // Reading on from the current window grows the next one; a jump (past a skipped payload) starts small.
    const sequential = pos >= this.base && pos <= this.limit;
    this.nextWindow = sequential ? Math.min(this.nextWindow * 2, MAX_WINDOW) : MIN_WINDOW;
    this.load(pos, n, this.nextWindow);
    return 0;
  }

  private load(pos: number, n: number, want: number): void {
    const len = Math.min(Math.max(n, want), this.size - pos);
    if (this.buf.length < len || this.buf.length > 2 * Math.max(len, MIN_WINDOW)) this.buf = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const r = readSync(this.fd, this.buf, done, len - done, pos + done);
      if (r === 0) throw new WireError('file shrank while reading', pos + done);
      done += r;
    }
    this.bytesRead += len;
    this.base = pos;
    this.limit = pos + len;
  }

  /** Reads a varint at pos (bounded by end) into lo/hi; returns the position after it. */
  varint(pos: number, end: number): number {
    // Most varints (tags, lengths, small ints) are one byte already in the window.
    if (pos < end && pos >= this.base && pos < this.limit) {
      const byte = this.buf[pos - this.base];
      if (byte < 0x80) {
        this.lo = byte;
        this.hi = 0;
        this.pos = pos + 1;
        return this.pos;
      }
    }
    const avail = Math.min(10, end - pos);
    if (avail <= 0) throw new WireError('unexpected end of message (varint)', pos);
    const i0 = this.at(pos, avail);
    const b = this.buf;
    let lo = 0;
    let hi = 0;
    let i = 0;
    for (; i < avail; i++) {
      const byte = b[i0 + i];
      if (i < 4) lo |= (byte & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (byte & 0x0f) << 28;
        hi = (byte & 0x7f) >> 4;
      } else hi |= (byte & 0x7f) << (7 * i - 32);
      if (byte < 0x80) {
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        this.pos = pos + i + 1;
        return this.pos;
      }
    }
    throw new WireError(avail === 10 ? 'varint longer than 10 bytes' : 'unexpected end of message (varint)', pos);
  }

  /** The last varint as an unsigned number; throws when it exceeds 2^53 (used for lengths, tags). */
  uint(): number {
    // Most values fit the low word; returning it as is keeps them small integers (no float maths).
    if (this.hi === 0) return this.lo;
    if (this.hi >= 0x200000) throw new WireError('value too large', this.pos);
    return this.hi * TWO32 + this.lo;
  }

  /** The last varint as a signed int64: a number when exactly representable, else a bigint. */
  int64(): number | bigint {
    if (this.hi === 0) return this.lo;
    const hi = this.hi | 0;
    if (hi >= -0x200000 && hi < 0x200000) return hi * TWO32 + this.lo;
    return BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
  }

  /** The last varint as a signed int64 that must fit a JS number (dims, versions). */
  int64Number(what: string): number {
    const v = this.int64();
    if (typeof v === 'bigint') throw new WireError(`${what} ${v} is out of range`, this.pos);
    return v;
  }

  /** int32 / enum fields: protobuf sign-extends negatives to 64 bits, the low word is the value. */
  int32(): number {
    return this.lo | 0;
  }

  /** Reads a length prefix at pos and checks that the payload fits in end. Sets this.pos to the payload start. */
  lengthPrefixed(pos: number, end: number): number {
    this.varint(pos, end);
    const len = this.uint();
    if (len > end - this.pos) throw new WireError(`length ${len} runs past the end of its message`, pos);
    return len;
  }

  float32(pos: number, end: number): number {
    if (end - pos < 4) throw new WireError('unexpected end of message (fixed32)', pos);
    const v = this.buf.readFloatLE(this.at(pos, 4));
    this.pos = pos + 4;
    return v;
  }

  float64(pos: number, end: number): number {
    if (end - pos < 8) throw new WireError('unexpected end of message (fixed64)', pos);
    const v = this.buf.readDoubleLE(this.at(pos, 8));
    this.pos = pos + 8;
    return v;
  }

  /** A copy of [pos, pos+len): never a view into the window, which is reused. */
  bytes(pos: number, len: number): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    const i = this.at(pos, len);
    return new Uint8Array(this.buf.subarray(i, i + len));
  }

  string(pos: number, len: number): string {
    if (len === 0) return '';
    const i = this.at(pos, len);
    // Buffer's own UTF-8 decoder minus toString's argument handling, a measurable share of indexing
    // with tens of thousands of names; protobufjs reads strings the same way, with the same fallback.
    const b = this.buf as Buffer & { utf8Slice?: (start: number, end: number) => string };
    return b.utf8Slice ? b.utf8Slice(i, i + len) : b.toString('utf8', i, i + len);
  }

  /** Position after the value of a field of the given wire type starting at pos. */
  skip(wire: number, pos: number, end: number, field: number): number {
    switch (wire) {
      case WIRE_VARINT: return this.varint(pos, end);
      case WIRE_FIXED64: if (end - pos < 8) break; return pos + 8;
      case WIRE_FIXED32: if (end - pos < 4) break; return pos + 4;
      case WIRE_LEN: { const len = this.lengthPrefixed(pos, end); return this.pos + len; }
      default: throw new WireError(`field ${field} has invalid wire type ${wire}`, pos);
    }
    throw new WireError(`field ${field} runs past the end of its message`, pos);
  }
}
