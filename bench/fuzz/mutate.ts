// Mutations of ONNX files for the hostile-input fuzzer: byte-level damage aimed at protobuf field
// boundaries (found by a generic wire-format walk, so every message type gets hit, not just the ones
// the reader models), and structural injections (external data pointing out of the folder, huge dims,
// deep nesting) spliced into a real model's graph so analysis and the writer get to see them.
//
// Hand-written because the point is to produce *invalid* protobuf: protobuf libraries only encode
// valid messages, and the walker must tolerate anything.

/** Deterministic PRNG (mulberry32): a seed reproduces a run case for case. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rand, n: number): number => Math.floor(r() * n);

// ---- wire encoding (valid pieces to build injections with) ------------------------------------------

export function varint(v: number | bigint): number[] {
  let b = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (b >= 0x80n) { out.push(Number(b & 0x7fn) | 0x80); b >>= 7n; }
  out.push(Number(b));
  return out;
}
export const cat = (...parts: (number[] | Uint8Array)[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
export const tag = (field: number, wire: number): number[] => varint((field << 3) | wire);
export const lenField = (field: number, body: Uint8Array | number[]): Uint8Array => cat(tag(field, 2), varint(body.length), body);
export const str = (field: number, s: string): Uint8Array => lenField(field, new TextEncoder().encode(s));
export const vint = (field: number, v: number | bigint): Uint8Array => cat(tag(field, 0), varint(v));

const kv = (k: string, v: string): Uint8Array => cat(str(1, k), str(2, v));
export function tensorProto(o: { name: string; dims: (number | bigint)[]; type?: number; raw?: Uint8Array; external?: [string, string][] }): Uint8Array {
  const parts: Uint8Array[] = o.dims.map((d) => vint(1, d));
  parts.push(vint(2, o.type ?? 1), str(8, o.name));
  if (o.raw) parts.push(lenField(9, o.raw));
  if (o.external) {
    for (const [k, v] of o.external) parts.push(lenField(13, kv(k, v)));
    parts.push(vint(14, 1));
  }
  return cat(...parts);
}
export function nodeProto(op: string, inputs: string[], outputs: string[], attrs: Uint8Array[] = [], name = ''): Uint8Array {
  return cat(...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, name || `fz_${op}`), str(4, op),
    ...attrs.map((a) => lenField(5, a)));
}
/** AttributeProto: name, type and the value field. */
export const attrTensor = (name: string, t: Uint8Array) => cat(str(1, name), vint(20, 4), lenField(5, t));
export const attrGraph = (name: string, g: Uint8Array) => cat(str(1, name), vint(20, 5), lenField(6, g));
export const attrString = (name: string, s: string) => cat(str(1, name), vint(20, 3), str(4, s));
export function valueInfo(name: string, type: Uint8Array): Uint8Array { return cat(str(1, name), lenField(2, type)); }
export function tensorType(elem: number, dims: (number | bigint | string)[]): Uint8Array {
  const shape = cat(...dims.map((d) => lenField(1, typeof d === 'string' ? str(2, d) : vint(1, d))));
  return lenField(1, cat(vint(1, elem), lenField(2, shape)));
}

// ---- a generic walk of the wire format --------------------------------------------------------------

export interface WireField {
  tagPos: number;
  /** position of the length varint (LEN) or the value */
  valPos: number;
  /** payload start (LEN) = valPos for scalars */
  start: number;
  end: number;
  field: number;
  wire: number;
  depth: number;
}

function readVarint(b: Uint8Array, p: number, end: number): [bigint, number] | undefined {
  let v = 0n;
  for (let i = 0; i < 10; i++) {
    if (p + i >= end) return undefined;
    const byte = b[p + i];
    v |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if (byte < 0x80) return [v, p + i + 1];
  }
  return undefined;
}

/** Parses [start, end) as a message; undefined when it is not one. Children are walked when they parse. */
function walk(b: Uint8Array, start: number, end: number, depth: number, out: WireField[], budget: { n: number }): boolean {
  const mine: WireField[] = [];
  let p = start;
  while (p < end) {
    const t = readVarint(b, p, end);
    if (!t || t[0] === 0n || t[0] >= 1n << 32n) return false;
    const field = Number(t[0] >> 3n);
    const wire = Number(t[0] & 7n);
    const valPos = t[1];
    let s = valPos;
    let e: number;
    if (wire === 0) { const v = readVarint(b, valPos, end); if (!v) return false; e = v[1]; }
    else if (wire === 1) e = valPos + 8;
    else if (wire === 5) e = valPos + 4;
    else if (wire === 2) {
      const v = readVarint(b, valPos, end);
      if (!v || v[0] > BigInt(end - v[1])) return false;
      s = v[1];
      e = s + Number(v[0]);
    } else return false;
    if (e > end) return false;
    mine.push({ tagPos: p, valPos, start: s, end: e, field, wire, depth });
    p = e;
  }
  for (const f of mine) {
    out.push(f);
    // Large payloads are tensor bytes, not messages; walking them only finds noise.
    if (f.wire === 2 && f.end - f.start > 1 && f.end - f.start < 1 << 20 && depth < 16 && budget.n-- > 0) {
      const kids: WireField[] = [];
      if (walk(b, f.start, f.end, depth + 1, kids, budget)) out.push(...kids);
    }
  }
  return true;
}

export function wireFields(b: Uint8Array): WireField[] {
  const out: WireField[] = [];
  walk(b, 0, b.length, 0, out, { n: 20000 });
  return out;
}

// ---- mutations ---------------------------------------------------------------------------------------

/** The folder layout every case gets (see fuzz engine): names the external-data locations aim at. */
export interface CaseLayout {
  /** absolute path of the sentinel file outside the case folder */
  sentinel: string;
}

export interface Mutation { kind: string; bytes: Uint8Array }

const HUGE = [0, 1, 0x7f, 0x80, 0xffff, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32 + 7, 2 ** 40, 2 ** 53 - 1, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n - 1n, -1, -(2 ** 31), -(2n ** 63n)];

function replace(b: Uint8Array, s: number, e: number, repl: Uint8Array | number[]): Uint8Array {
  return cat(b.subarray(0, s), repl, b.subarray(e));
}

function byteMutation(r: Rand, b: Uint8Array, fields: WireField[]): Mutation {
  const f = fields.length ? pick(r, fields) : undefined;
  const kind = pick(r, ['truncate', 'truncate', 'bitflip', 'bitflip', 'varint', 'length', 'length', 'wiretype', 'duplicate', 'drop'] as const);
  if (!f || kind === 'bitflip') {
    const out = b.slice();
    const n = 1 + int(r, 8);
    for (let i = 0; i < n; i++) {
      // half the flips land on a field's tag or length, where they change structure
      const p = f && r() < 0.5 ? pick(r, [f.tagPos, f.valPos, Math.max(f.valPos, f.start - 1)]) : int(r, b.length);
      if (p < out.length) out[p] ^= 1 << int(r, 8);
    }
    return { kind: 'bitflip', bytes: out };
  }
  switch (kind) {
    case 'truncate': {
      const at = pick(r, [f.tagPos, f.valPos, f.start, f.end, f.start + int(r, Math.max(1, f.end - f.start))]);
      return { kind, bytes: b.slice(0, Math.min(at, b.length - 1)) };
    }
    case 'varint': {
      const at = r() < 0.5 ? f.tagPos : f.valPos;
      const bad = pick(r, [
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 11 bytes
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // > 64 bits
        [0x80], // unterminated at the cut
        [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80],
      ]);
      const end = readVarint(b, at, b.length)?.[1] ?? at + 1;
      const out = replace(b, at, end, bad);
      return { kind, bytes: bad.length === 1 && r() < 0.5 ? out.slice(0, at + 1) : out };
    }
    case 'length': {
      const lens = fields.filter((x) => x.wire === 2);
      if (!lens.length) return byteMutation(r, b, []);
      const l = pick(r, lens);
      const n = l.end - l.start;
      const v = pick(r, [0, n - 1, n + 1, n + 1000, ...HUGE]);
      return { kind, bytes: replace(b, l.valPos, l.start, varint(v)) };
    }
    case 'wiretype': {
      const t = readVarint(b, f.tagPos, b.length)!;
      const w = (Number(t[0] & 7n) + 1 + int(r, 7)) & 7;
      return { kind, bytes: replace(b, f.tagPos, t[1], varint((t[0] & ~7n) | BigInt(w))) };
    }
    case 'duplicate': return { kind, bytes: cat(b.subarray(0, f.end), b.subarray(f.tagPos, f.end), b.subarray(f.end)) };
    case 'drop': return { kind, bytes: replace(b, f.tagPos, f.end, []) };
  }
}

/** Locations an external tensor may name, resolved against the case folder the engine builds. */
function hostileLocations(layout: CaseLayout): string[] {
  return [
    layout.sentinel, '../sentinel.bin', 'link.bin', 'linkdir/sentinel.bin', 'subdir/../../sentinel.bin', '/dev/zero', 'dev-zero',
    '/proc/self/mem', 'subdir', 'subdir/', 'fifo', 'ok.bin', './ok.bin', 'ok.bin\0x', '', 'missing.bin', 'C:\\Windows\\win.ini',
    '\\\\server\\share\\x', '..\\sentinel.bin', 'a'.repeat(5000),
  ];
}
const OFFSETS = ['0', '16', '4096', '4097', '-5', '99999999999999999999', '9007199254740993', '1e3', ' 12', '0x10', ''];

/** Structures spliced into the graph: each targets one class of hostile input. */
function injection(r: Rand, layout: CaseLayout): { kind: string; graphFields: Uint8Array } {
  const kind = pick(r, ['external', 'external', 'external', 'hugeDims', 'hugeDims', 'deepGraph', 'deepType', 'shapeOps', 'htmlNames'] as const);
  const F = (field: number, body: Uint8Array) => lenField(field, body);
  switch (kind) {
    case 'external': {
      const ext: [string, string][] = [['location', pick(r, hostileLocations(layout))]];
      if (r() < 0.6) ext.push(['offset', pick(r, OFFSETS)]);
      if (r() < 0.6) ext.push(['length', pick(r, OFFSETS)]);
      const dims = pick(r, [[4], [16, 16], [1024], [2 ** 20], [2 ** 40], [-1], []]);
      const t = tensorProto({ name: 'fz_ext', dims, type: pick(r, [1, 7, 10, 8, 2]), external: ext });
      // the same tensor as an initializer and as a Constant's value, so folding reads its bytes
      return {
        kind: `external:${ext.map(([k, v]) => `${k}=${JSON.stringify(v.slice(0, 40))}`).join(',')}`,
        graphFields: cat(F(5, t), F(1, nodeProto('Constant', [], ['fz_c'], [attrTensor('value', t)])),
          F(1, nodeProto('Identity', ['fz_ext'], ['fz_id']))),
      };
    }
    case 'hugeDims': {
      const d = pick(r, HUGE);
      const raw = new Uint8Array(int(r, 3) * 8);
      const t = tensorProto({ name: 'fz_big', dims: [d, pick(r, HUGE)], type: pick(r, [1, 7, 8, 16, 17]), raw });
      return {
        kind: `hugeDims:${d}`,
        graphFields: cat(F(5, t), F(1, nodeProto('Constant', [], ['fz_c'], [attrTensor('value', t)])),
          F(11, valueInfo('fz_in', tensorType(1, [d, 3, pick(r, HUGE), 'N']))),
          F(1, nodeProto('Conv', ['fz_in', 'fz_big'], ['fz_conv'])), F(1, nodeProto('MatMul', ['fz_conv', 'fz_big'], ['fz_mm']))),
      };
    }
    case 'deepGraph': {
      const depth = pick(r, [10, 63, 64, 65, 200, 3000]);
      let g: Uint8Array = cat(str(2, 'leaf'), F(1, nodeProto('Identity', ['x'], ['y'])));
      for (let i = 0; i < depth; i++) g = cat(str(2, `g${i}`), F(1, nodeProto('If', ['fz_cond'], ['fz_o'], [attrGraph('then_branch', g), attrGraph('else_branch', g.subarray(0, 0))])));
      return { kind: `deepGraph:${depth}`, graphFields: F(1, nodeProto('If', ['fz_cond'], ['fz_if'], [attrGraph('then_branch', g)])) };
    }
    case 'deepType': {
      const depth = pick(r, [50, 1000, 20000, 100000]);
      const field = pick(r, [4, 9, 5]); // sequence, optional, map
      const t = nestedType(field, depth);
      return { kind: `deepType:${field}:${depth}`, graphFields: F(13, valueInfo('fz_deep', t)) };
    }
    case 'shapeOps': {
      const shape = tensorProto({ name: 'fz_shape', dims: [2], type: 7, raw: new Uint8Array(new BigInt64Array([BigInt.asIntN(64, BigInt(pick(r, HUGE))), BigInt.asIntN(64, BigInt(pick(r, HUGE)))]).buffer) });
      const op = pick(r, ['Reshape', 'Expand', 'ConstantOfShape', 'Tile', 'Range', 'Slice', 'Resize', 'Pad']);
      const inputs = op === 'ConstantOfShape' ? ['fz_shape'] : op === 'Range' ? ['fz_shape', 'fz_shape', 'fz_shape'] : ['fz_x', 'fz_shape'];
      return {
        kind: `shapeOps:${op}`,
        graphFields: cat(F(5, shape), F(11, valueInfo('fz_x', tensorType(1, [pick(r, HUGE), 4]))), F(1, nodeProto(op, inputs, ['fz_out'])),
          F(1, nodeProto('MatMul', ['fz_out', 'fz_out'], ['fz_mm']))),
      };
    }
    case 'htmlNames': {
      const evil = pick(r, ['<img src=x onerror=alert(1)>', '"><script>alert(1)</script>', '\u0000\uffff\ud800', '../../etc/passwd', '/'.repeat(3000)]);
      return {
        kind: 'htmlNames',
        graphFields: cat(F(1, nodeProto('Relu', [evil], [evil + '_o'], [attrString('mode', evil)], evil)), F(11, valueInfo(evil, tensorType(1, [1, evil])))),
      };
    }
  }
}

/**
 * A TypeProto nested `depth` levels through sequence (4), optional (9) or map (5) types. Built from
 * prefixes computed inside out, in one allocation: re-wrapping a buffer per level is quadratic.
 */
export function nestedType(field: number, depth: number): Uint8Array {
  const inner = tensorType(1, [2]);
  const prefixes: number[][] = [];
  let len = inner.length;
  for (let i = 0; i < depth; i++) {
    // sequence/optional: {field: {elem_type(1): T}}; map: {5: {key_type(1)=7, value_type(2): T}}
    const mid = field === 5 ? [8, 7, ...tag(2, 2), ...varint(len)] : [...tag(1, 2), ...varint(len)];
    const p = [...tag(field, 2), ...varint(len + mid.length), ...mid];
    prefixes.push(p);
    len += p.length;
  }
  const out = new Uint8Array(len);
  let o = 0;
  for (let i = prefixes.length - 1; i >= 0; i--) { out.set(prefixes[i], o); o += prefixes[i].length; }
  out.set(inner, o);
  return out;
}

/** Splices extra fields into the model's graph (ModelProto field 7), fixing its length prefix. */
export function spliceIntoGraph(b: Uint8Array, extra: Uint8Array): Uint8Array | undefined {
  const top: WireField[] = [];
  if (!walk(b, 0, b.length, 0, top, { n: 0 })) return undefined;
  const g = top.find((f) => f.depth === 0 && f.field === 7 && f.wire === 2);
  if (!g) return undefined;
  return cat(b.subarray(0, g.tagPos), lenField(7, cat(b.subarray(g.start, g.end), extra)), b.subarray(g.end));
}

/** One mutated file from a seed model: an injection, byte damage, or both. */
export function mutate(r: Rand, seed: Uint8Array, fields: WireField[], layout: CaseLayout): Mutation {
  const roll = r();
  let bytes = seed;
  const kinds: string[] = [];
  if (roll < 0.35) {
    const inj = injection(r, layout);
    const spliced = spliceIntoGraph(seed, inj.graphFields);
    if (spliced) { bytes = spliced; kinds.push(inj.kind); }
  }
  if (!kinds.length || roll < 0.1) {
    // byte damage (on an injected file too, one in ten times): positions come from the seed's walk
    // when the bytes are the seed's, else from a fresh walk
    const m = byteMutation(r, bytes, bytes === seed ? fields : wireFields(bytes));
    bytes = m.bytes;
    kinds.push(m.kind);
    if (r() < 0.2) { const m2 = byteMutation(r, bytes, wireFields(bytes)); bytes = m2.bytes; kinds.push(m2.kind); }
  }
  return { kind: kinds.join('+'), bytes };
}
