// The lazy ONNX reader: indexes a ModelProto at the protobuf wire level without reading weights.
//
// Why not onnx-proto's ModelProto.decode: it materialises every raw_data payload (the whole file in
// memory, twice for a moment) and its schema (ONNX 1.10) drops newer fields. Here every message is
// walked field by field over a WindowFile; a tensor's payload is recorded as a byte range (or as
// location/offset/length in its external file) and read later, on demand (tensor-data.ts).
// Fields this IR does not model are kept as OpaqueField so a read → write round trip is lossless.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../errors';
import { ExternalResolver } from './external-path';
import type {
  Attribute, Dim, FunctionDef, Graph, KeyValue, Model, Node, OpaqueField, OpsetImport, SparseTensorData,
  TensorData, TensorDataField, TensorLocation, TypeInfo, ValueInfo,
} from './types';
import { AttrType, ElemType, elemBits, numElements } from './types';
import { WindowFile, WireError } from './window-file';
import { WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, encodeStrings } from './wire';

export interface ReadOptions {
  /** skip the size check of external data files (default: check, it only costs a stat per file) */
  skipExternalSizeCheck?: boolean;
  /** filled in with how many bytes of the .onnx file indexing read (the benchmark and tests check it) */
  stats?: { bytesRead: number; fileBytes: number };
}

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'group start', 'group end', 'fixed32', '6', '7'];
/** Subgraphs nest through attributes, types through sequence/optional/map; a hostile file must not overflow the stack. */
const MAX_DEPTH = 64;

interface Ctx {
  f: WindowFile;
  modelPath: string;
  externals: ExternalResolver;
  checkSizes: boolean;
  depth: number;
}

/**
 * Iterates the fields of one message in [start, end) of the file.
 *
 * Nested messages are read depth first and each to its end before the parent reads on, so a cursor
 * keeps one child cursor and re-aims it at each nested message (child()): a graph has tens of
 * thousands of messages, and a cursor object each was a fifth of the garbage indexing made.
 */
class Fields {
  field = 0;
  wire = 0;
  /** position of the current field's value */
  p = 0;
  /** position after the current field, once its value has been read */
  private after = 0;
  private consumed = true;
  private end = 0;
  private msg = '';
  private kid: Fields | undefined;
  /**
   * Scratch lists for the message this cursor reads (readNode's inputs and outputs), copied out at
   * its end: an array grown by push keeps room for 16 entries, and a graph's node lists held that
   * slack, a quarter of the index's memory, through every garbage collection while indexing.
   */
  readonly scratchA: string[] = [];
  readonly scratchB: string[] = [];

  constructor(private readonly f: WindowFile, start: number, end: number, msg: string) {
    this.aim(start, end, msg);
  }

  private aim(start: number, end: number, msg: string): this {
    this.p = start;
    this.after = start;
    this.end = end;
    this.msg = msg;
    this.consumed = true;
    this.field = 0;
    this.wire = 0;
    return this;
  }

  next(): boolean {
    // A field the decoder did not read (one it ignores) is skipped here.
    if (!this.consumed) this.after = this.f.skip(this.wire, this.p, this.end, this.field);
    if (this.after >= this.end) {
      if (this.after > this.end) throw new WireError(`${this.msg} runs past its end`, this.end);
      return false;
    }
    const tagPos = this.after;
    const f = this.f;
    let tag = tagPos >= f.base && tagPos < f.limit ? f.buf[tagPos - f.base] : 0x80;
    if (tag < 0x80) {
      // Fast path: a one-byte tag (fields 1-15) already in the window; the cold first pass over a
      // graph runs mostly interpreted, where each call saved counts.
      this.p = tagPos + 1;
    } else {
      this.p = f.varint(tagPos, this.end);
      // Field numbers are below 2^29, so a valid tag fits 32 bits (and bit operations).
      if (f.hi !== 0) throw new WireError(`${this.msg} has a field number over 2^29`, tagPos);
      tag = f.lo;
    }
    this.field = tag >>> 3;
    this.wire = tag & 7;
    if (this.field === 0) throw new WireError(`${this.msg} has a field number 0`, tagPos);
    this.consumed = false;
    return true;
  }

  private expect(wire: number): void {
    if (this.wire !== wire) {
      throw new WireError(
        `${this.msg} field ${this.field} has wire type ${WIRE_NAMES[this.wire]}, expected ${WIRE_NAMES[wire]}`, this.p);
    }
  }

  /** end of the value read by the last lenStart() */
  valueEnd = 0;

  /** Start of a length-delimited value (its end goes to valueEnd), without allocating. */
  lenStart(): number {
    if (this.wire !== WIRE_LEN) this.expect(WIRE_LEN);
    const f = this.f;
    const p = this.p;
    let len = p >= f.base && p < f.limit ? f.buf[p - f.base] : 0x80;
    let s: number;
    if (len < 0x80 && len < this.end - p) {
      s = p + 1; // fast path: a length under 128 in the window, within the message
    } else {
      len = f.lengthPrefixed(p, this.end);
      s = f.pos;
    }
    this.valueEnd = s + len;
    this.after = s + len;
    this.consumed = true;
    return s;
  }

  /** [start, end) of a length-delimited value */
  range(): [number, number] {
    const s = this.lenStart();
    return [s, this.valueEnd];
  }

  /**
   * A cursor over the current length-delimited field's value, a nested message. It is this cursor's
   * only child cursor: read the nested message to its end before calling next() or child() again.
   */
  child(msg: string): Fields {
    const s = this.lenStart();
    if (!this.kid) return (this.kid = new Fields(this.f, s, this.valueEnd, msg));
    return this.kid.aim(s, this.valueEnd, msg);
  }

  string(): string {
    const s = this.lenStart();
    return this.f.string(s, this.valueEnd - s);
  }

  bytes(): Uint8Array {
    const s = this.lenStart();
    return this.f.bytes(s, this.valueEnd - s);
  }

  private varint(): void {
    this.expect(WIRE_VARINT);
    this.done(this.f.varint(this.p, this.end));
  }

  int32(): number { this.varint(); return this.f.int32(); }
  int64(): number | bigint { this.varint(); return this.f.int64(); }
  int64Number(what: string): number { this.varint(); return this.f.int64Number(what); }

  float32(): number {
    this.expect(WIRE_FIXED32);
    const v = this.f.float32(this.p, this.end);
    this.done(this.p + 4);
    return v;
  }

  /** repeated int64, packed or not */
  int64s(out: (number | bigint)[], asNumber?: string): void {
    if (this.wire !== WIRE_LEN) {
      out.push(asNumber ? this.int64Number(asNumber) : this.int64());
      return;
    }
    const [s, e] = this.range();
    for (let q = s; q < e;) {
      q = this.f.varint(q, e);
      out.push(asNumber ? this.f.int64Number(asNumber) : this.f.int64());
    }
  }

  /** repeated float, packed or not */
  float32s(out: number[]): void {
    if (this.wire !== WIRE_LEN) {
      out.push(this.float32());
      return;
    }
    const [s, e] = this.range();
    if ((e - s) % 4) throw new WireError(`${this.msg} field ${this.field}: packed floats length ${e - s} is not a multiple of 4`, s);
    for (let q = s; q < e; q += 4) out.push(this.f.float32(q, e));
  }

  /** The current field, byte for byte, for fields this IR does not model. */
  opaque(): OpaqueField {
    const fieldNumber = this.field;
    const wireType = this.wire;
    if (wireType === WIRE_LEN) return { fieldNumber, wireType, bytes: this.bytes() };
    const e = this.f.skip(wireType, this.p, this.end, fieldNumber);
    const bytes = this.f.bytes(this.p, e - this.p);
    this.done(e);
    return { fieldNumber, wireType, bytes };
  }

  /** The value's encoding range [p, after) for a scalar (varint or fixed) field. */
  scalarRange(): [number, number] {
    const e = this.f.skip(this.wire, this.p, this.end, this.field);
    const s = this.p;
    this.done(e);
    return [s, e];
  }

  private done(after: number): void {
    this.after = after;
    this.consumed = true;
  }
}

function pushOpaque(list: OpaqueField[] | undefined, fl: Fields): OpaqueField[] {
  const out = list ?? [];
  out.push(fl.opaque());
  return out;
}

function readKV(c: Ctx, fl: Fields): KeyValue {
  const kv: KeyValue = { key: '', value: '' };
  while (fl.next()) {
    if (fl.field === 1) kv.key = fl.string();
    else if (fl.field === 2) kv.value = fl.string();
  }
  return kv;
}

function readOpset(c: Ctx, fl: Fields): OpsetImport {
  const o: OpsetImport = { domain: '', version: 0 };
  while (fl.next()) {
    if (fl.field === 1) o.domain = fl.string();
    else if (fl.field === 2) o.version = fl.int64Number('opset version');
  }
  return o;
}

// ---- tensors ---------------------------------------------------------------------------------------

const TYPED_FIELDS: Record<number, TensorDataField> = { 4: 'float', 5: 'int32', 7: 'int64', 10: 'double', 11: 'uint64' };

/** The location of a tensor with no payload at all (zero elements). */
function noPayload(): TensorLocation {
  return { kind: 'inline', bytes: new Uint8Array(0), field: 'raw' };
}

/** A tensor with no payload at all (zero elements, or not yet filled in). */
function emptyTensor(location: TensorLocation = noPayload()): TensorData {
  return { name: '', elemType: 0, dims: [], byteLength: 0, location };
}

/** Stands in while a tensor is read: most tensors get a payload location, so none is made up front. */
const PENDING: TensorLocation = Object.freeze({ kind: 'inline', bytes: new Uint8Array(0), field: 'raw' });

function readTensor(c: Ctx, fl: Fields): TensorData {
  const t = emptyTensor(PENDING);
  /** raw_data's value range, when present */
  let rawStart = -1;
  let rawEnd = -1;
  let typed: TensorDataField | undefined;
  let chunks: [number, number][] | undefined;
  let strings: Uint8Array[] | undefined;
  let external = false;
  let opaque: OpaqueField[] | undefined;
  while (fl.next()) {
    switch (fl.field) {
      case 1: fl.int64s(t.dims, 'dimension'); break;
      case 2: t.elemType = fl.int32(); break;
      case 3: t.segment = readSegment(c, fl.child('TensorProto.Segment')); break;
      case 6: (strings ??= []).push(fl.bytes()); typed = 'string'; break;
      case 8: t.name = fl.string(); break;
      case 9: rawStart = fl.lenStart(); rawEnd = fl.valueEnd; break;
      case 12: t.docString = fl.string(); break;
      case 13: (t.externalData ??= []).push(readKV(c, fl.child('StringStringEntryProto'))); break;
      case 14: external = fl.int32() === 1; break;
      case 16: (t.metadataProps ??= []).push(readKV(c, fl.child('StringStringEntryProto'))); break;
      case 4: case 5: case 7: case 10: case 11: {
        const field = TYPED_FIELDS[fl.field];
        if (typed && typed !== field) throw new WireError(`TensorProto '${t.name}' has both ${typed}_data and ${field}_data`, fl.p);
        typed = field;
        const wantWire = field === 'float' ? WIRE_FIXED32 : field === 'double' ? WIRE_FIXED64 : WIRE_VARINT;
        if (fl.wire !== WIRE_LEN && fl.wire !== wantWire) {
          throw new WireError(`TensorProto field ${fl.field} has wire type ${WIRE_NAMES[fl.wire]}`, fl.p);
        }
        (chunks ??= []).push(fl.wire === WIRE_LEN ? fl.range() : fl.scalarRange());
        break;
      }
      default: opaque = pushOpaque(opaque, fl);
    }
  }
  if (opaque) t.opaqueFields = opaque;
  // A negative dimension would make the payload size negative, which no later range check expects.
  for (const d of t.dims) if (d < 0) throw new WireError(`TensorProto '${t.name}' has a negative dimension ${d}`, fl.p);
  const file = c.f.path;
  // A string tensor with no strings on the wire (an empty one) still stores strings, not raw bytes.
  if (!typed && rawStart < 0 && t.elemType === ElemType.STRING) typed = 'string';
  if (external) {
    const loc = externalLocation(c, t);
    t.location = loc;
    t.byteLength = loc.length;
  } else if (rawStart >= 0) {
    t.location = { kind: 'embedded', file, offset: rawStart, length: rawEnd - rawStart, field: 'raw' };
    t.byteLength = rawEnd - rawStart;
  } else if (typed === 'string') {
    t.location = { kind: 'inline', bytes: encodeStrings(strings ?? []), field: 'string' };
    t.byteLength = t.location.bytes.length;
  } else if (typed && chunks) {
    // One packed run is referenced in place; several runs (an unpacked or split field, old
    // writers) are joined into one packed payload, which is what the typed field means.
    if (chunks.length === 1) {
      const [a, b] = chunks[0];
      t.location = { kind: 'embedded', file, offset: a, length: b - a, field: typed };
    } else {
      const bytes = new Uint8Array(chunks.reduce((n, [a, b]) => n + b - a, 0));
      let o = 0;
      for (const [a, b] of chunks) { bytes.set(c.f.bytes(a, b - a), o); o += b - a; }
      t.location = { kind: 'inline', bytes, field: typed };
    }
    t.byteLength = chunks.reduce((n, [a, b]) => n + b - a, 0);
  } else {
    t.location = noPayload();
  }
  return t;
}

function readSegment(c: Ctx, fl: Fields): { begin: number; end: number } {
  const seg = { begin: 0, end: 0 };
  while (fl.next()) {
    if (fl.field === 1) seg.begin = fl.int64Number('segment begin');
    else if (fl.field === 2) seg.end = fl.int64Number('segment end');
  }
  return seg;
}

function externalLocation(c: Ctx, t: TensorData): Extract<TensorLocation, { kind: 'external' }> {
  const m = c.modelPath;
  const entries = t.externalData ?? [];
  const get = (k: string) => entries.find((kv) => kv.key === k)?.value;
  const location = get('location');
  if (location === undefined) throw new UserError(`${m}: tensor '${t.name}' has external data but no 'location' entry`, m);
  const num = (k: string): number | undefined => {
    const v = get(k);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v.trim())) throw new UserError(`${m}: tensor '${t.name}' has an invalid external data ${k} '${v}'`, m);
    return Number(v);
  };
  const ext = c.externals.resolve(location, t.name);
  const offset = num('offset') ?? 0;
  const bits = elemBits(t.elemType);
  const expected = bits === undefined ? undefined : Math.ceil((numElements(t.dims) * bits) / 8);
  const length = num('length') ?? expected ?? ext.size - offset;
  if (c.checkSizes && offset + length > ext.size) {
    throw new UserError(
      `${m}: external data file '${ext.path}' is too short for tensor '${t.name}': it needs bytes ${offset}..${offset + length}, the file has ${ext.size}`, m);
  }
  return { kind: 'external', file: ext.path, location, offset, length };
}

function readSparse(c: Ctx, fl: Fields): SparseTensorData {
  let values: TensorData | undefined;
  let indices: TensorData | undefined;
  const dims: number[] = [];
  let opaque: OpaqueField[] | undefined;
  while (fl.next()) {
    switch (fl.field) {
      case 1: values = readTensor(c, fl.child('TensorProto')); break;
      case 2: indices = readTensor(c, fl.child('TensorProto')); break;
      case 3: fl.int64s(dims, 'dimension'); break;
      default: opaque = pushOpaque(opaque, fl);
    }
  }
  const sp: SparseTensorData = { values: values ?? emptyTensor(), indices: indices ?? emptyTensor(), dims };
  if (opaque) sp.opaqueFields = opaque;
  return sp;
}

// ---- types -----------------------------------------------------------------------------------------

function readType(c: Ctx, fl: Fields): TypeInfo {
  // sequence/optional/map types nest too: the same bound as subgraphs, against stack overflow
  if (++c.depth > MAX_DEPTH) throw new WireError(`types or subgraphs nested more than ${MAX_DEPTH} deep`, fl.p);
  let t: TypeInfo = { kind: 'unknown' };
  let denotation: string | undefined;
  let opaque: OpaqueField[] | undefined;
  while (fl.next()) {
    switch (fl.field) {
      case 1: t = readTensorType(c, fl.child('TypeProto.Tensor'), 'tensor'); break;
      case 8: t = readTensorType(c, fl.child('TypeProto.Tensor'), 'sparse_tensor'); break;
      case 4: case 9: {
        const kind = fl.field === 4 ? 'sequence' : 'optional';
        const elem = readInnerType(c, fl.child(fl.field === 4 ? 'TypeProto.Sequence' : 'TypeProto.Optional'));
        t = elem ? { kind, elem } : { kind };
        break;
      }
      case 5: t = readMapType(c, fl.child('TypeProto.Map')); break;
      case 6: denotation = fl.string(); break;
      default: opaque = pushOpaque(opaque, fl);
    }
  }
  if (denotation !== undefined) t.denotation = denotation;
  if (opaque) t.opaqueFields = opaque;
  c.depth--;
  return t;
}

function readInnerType(c: Ctx, fl: Fields): TypeInfo | undefined {
  let elem: TypeInfo | undefined;
  while (fl.next()) if (fl.field === 1) elem = readType(c, fl.child('TypeProto'));
  return elem;
}

function readMapType(c: Ctx, fl: Fields): TypeInfo {
  const t: TypeInfo = { kind: 'map', keyType: 0 };
  while (fl.next()) {
    if (fl.field === 1) t.keyType = fl.int32();
    else if (fl.field === 2) t.value = readType(c, fl.child('TypeProto'));
  }
  return t;
}

function readTensorType(c: Ctx, fl: Fields, kind: 'tensor' | 'sparse_tensor'): TypeInfo {
  const t: { kind: 'tensor' | 'sparse_tensor'; elemType: number; shape?: Dim[] } = { kind, elemType: 0 };
  while (fl.next()) {
    if (fl.field === 1) t.elemType = fl.int32();
    else if (fl.field === 2) t.shape = readShape(c, fl.child('TensorShapeProto'));
  }
  return t;
}

function readShape(c: Ctx, fl: Fields): Dim[] {
  const dims: Dim[] = [];
  while (fl.next()) {
    if (fl.field !== 1) continue;
    const dl = fl.child('TensorShapeProto.Dimension');
    const d: Dim = {};
    while (dl.next()) {
      if (dl.field === 1) d.value = dl.int64Number('dim_value');
      else if (dl.field === 2) d.param = dl.string();
      else if (dl.field === 3) d.denotation = dl.string();
    }
    dims.push(d);
  }
  return dims;
}

function readValueInfo(c: Ctx, fl: Fields): ValueInfo {
  const v: ValueInfo = { name: '' };
  let opaque: OpaqueField[] | undefined;
  while (fl.next()) {
    switch (fl.field) {
      case 1: v.name = fl.string(); break;
      case 2: v.type = readType(c, fl.child('TypeProto')); break;
      case 3: v.docString = fl.string(); break;
      case 4: (v.metadataProps ??= []).push(readKV(c, fl.child('StringStringEntryProto'))); break;
      default: opaque = pushOpaque(opaque, fl);
    }
  }
  if (opaque) v.opaqueFields = opaque;
  return v;
}

// ---- nodes, attributes, graphs, functions ---------------------------------------------------------

function readAttribute(c: Ctx, fl: Fields): Attribute {
  const a: Attribute = { name: '', type: AttrType.UNDEFINED };
  let opaque: OpaqueField[] | undefined;
  while (fl.next()) {
    switch (fl.field) {
      case 1: a.name = fl.string(); break;
      case 21: a.refAttrName = fl.string(); break;
      case 13: a.docString = fl.string(); break;
      case 20: a.type = fl.int32(); break;
      case 2: a.f = fl.float32(); break;
      case 3: a.i = fl.int64(); break;
      case 4: a.s = fl.bytes(); break;
      case 5: a.t = readTensor(c, fl.child('TensorProto')); break;
      case 6: a.g = readGraph(c, fl.child('GraphProto')); break;
      case 22: a.sparseTensor = readSparse(c, fl.child('SparseTensorProto')); break;
      case 14: a.tp = readType(c, fl.child('TypeProto')); break;
      case 7: fl.float32s(a.floats ??= []); break;
      case 8: fl.int64s(a.ints ??= []); break;
      case 9: (a.strings ??= []).push(fl.bytes()); break;
      case 10: (a.tensors ??= []).push(readTensor(c, fl.child('TensorProto'))); break;
      case 11: (a.graphs ??= []).push(readGraph(c, fl.child('GraphProto'))); break;
      case 23: (a.sparseTensors ??= []).push(readSparse(c, fl.child('SparseTensorProto'))); break;
      case 15: (a.typeProtos ??= []).push(readType(c, fl.child('TypeProto'))); break;
      default: opaque = pushOpaque(opaque, fl);
    }
  }
  // An empty list attribute has no list entries on the wire; its type says which list it is.
  switch (a.type) {
    case AttrType.FLOATS: a.floats ??= []; break;
    case AttrType.INTS: a.ints ??= []; break;
    case AttrType.STRINGS: a.strings ??= []; break;
    case AttrType.TENSORS: a.tensors ??= []; break;
    case AttrType.GRAPHS: a.graphs ??= []; break;
    case AttrType.SPARSE_TENSORS: a.sparseTensors ??= []; break;
    case AttrType.TYPE_PROTOS: a.typeProtos ??= []; break;
  }
  if (opaque) a.opaqueFields = opaque;
  return a;
}

function readNode(c: Ctx, fl: Fields): Node {
  const n: Node = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  let opaque: OpaqueField[] | undefined;
  const ins = fl.scratchA;
  const outs = fl.scratchB;
  let ni = 0;
  let no = 0;
  while (fl.next()) {
    switch (fl.field) {
      case 1: ins[ni++] = fl.string(); break;
      case 2: outs[no++] = fl.string(); break;
      case 3: n.name = fl.string(); break;
      case 4: n.opType = fl.string(); break;
      case 7: n.domain = fl.string(); break;
      case 8: n.overload = fl.string(); break;
      case 5: n.attributes.push(readAttribute(c, fl.child('AttributeProto'))); break;
      case 6: n.docString = fl.string(); break;
      case 9: (n.metadataProps ??= []).push(readKV(c, fl.child('StringStringEntryProto'))); break;
      default: opaque = pushOpaque(opaque, fl);
    }
  }
  if (ni) n.inputs = ins.slice(0, ni);
  if (no) n.outputs = outs.slice(0, no);
  if (opaque) n.opaqueFields = opaque;
  return n;
}

function readGraph(c: Ctx, fl: Fields): Graph {
  if (++c.depth > MAX_DEPTH) throw new WireError(`subgraphs nested more than ${MAX_DEPTH} deep`, fl.p);
  const g: Graph = { name: '', nodes: [], inputs: [], outputs: [], valueInfo: [], initializers: [], sparseInitializers: [] };
  let opaque: OpaqueField[] | undefined;
  while (fl.next()) {
    switch (fl.field) {
      case 1: g.nodes.push(readNode(c, fl.child('NodeProto'))); break;
      case 2: g.name = fl.string(); break;
      case 5: g.initializers.push(readTensor(c, fl.child('TensorProto'))); break;
      case 15: g.sparseInitializers.push(readSparse(c, fl.child('SparseTensorProto'))); break;
      case 10: g.docString = fl.string(); break;
      case 11: g.inputs.push(readValueInfo(c, fl.child('ValueInfoProto'))); break;
      case 12: g.outputs.push(readValueInfo(c, fl.child('ValueInfoProto'))); break;
      case 13: g.valueInfo.push(readValueInfo(c, fl.child('ValueInfoProto'))); break;
      case 16: (g.metadataProps ??= []).push(readKV(c, fl.child('StringStringEntryProto'))); break;
      default: opaque = pushOpaque(opaque, fl); // quantization_annotation (14) and anything newer
    }
  }
  if (opaque) g.opaqueFields = opaque;
  c.depth--;
  return g;
}

function readFunction(c: Ctx, fl: Fields): FunctionDef {
  const fn: FunctionDef = {
    name: '', domain: '', inputs: [], outputs: [], attributes: [], attributeProtos: [], nodes: [], opsetImports: [], valueInfo: [],
  };
  let opaque: OpaqueField[] | undefined;
  while (fl.next()) {
    switch (fl.field) {
      case 1: fn.name = fl.string(); break;
      case 4: fn.inputs.push(fl.string()); break;
      case 5: fn.outputs.push(fl.string()); break;
      case 6: fn.attributes.push(fl.string()); break;
      case 11: fn.attributeProtos.push(readAttribute(c, fl.child('AttributeProto'))); break;
      case 7: fn.nodes.push(readNode(c, fl.child('NodeProto'))); break;
      case 8: fn.docString = fl.string(); break;
      case 9: fn.opsetImports.push(readOpset(c, fl.child('OperatorSetIdProto'))); break;
      case 10: fn.domain = fl.string(); break;
      case 13: fn.overload = fl.string(); break;
      case 12: fn.valueInfo.push(readValueInfo(c, fl.child('ValueInfoProto'))); break;
      case 14: (fn.metadataProps ??= []).push(readKV(c, fl.child('StringStringEntryProto'))); break;
      default: opaque = pushOpaque(opaque, fl);
    }
  }
  if (opaque) fn.opaqueFields = opaque;
  return fn;
}

function readModelProto(c: Ctx): Model {
  const fl = new Fields(c.f, 0, c.f.size, 'ModelProto');
  const m: Model = {
    path: c.modelPath, irVersion: 0, opsetImports: [], metadataProps: [], functions: [],
    graph: undefined as unknown as Graph,
  };
  let opaque: OpaqueField[] | undefined;
  let sawIr = false;
  while (fl.next()) {
    switch (fl.field) {
      case 1: m.irVersion = fl.int64Number('ir_version'); sawIr = true; break;
      case 8: m.opsetImports.push(readOpset(c, fl.child('OperatorSetIdProto'))); break;
      case 2: m.producerName = fl.string(); break;
      case 3: m.producerVersion = fl.string(); break;
      case 4: m.domain = fl.string(); break;
      case 5: m.modelVersion = fl.int64Number('model_version'); break;
      case 6: m.docString = fl.string(); break;
      case 7: m.graph = readGraph(c, fl.child('GraphProto')); break;
      case 14: m.metadataProps.push(readKV(c, fl.child('StringStringEntryProto'))); break;
      case 25: m.functions.push(readFunction(c, fl.child('FunctionProto'))); break;
      default: opaque = pushOpaque(opaque, fl); // training_info (20), configuration (26), newer fields
    }
  }
  if (!m.graph) throw new WireError(sawIr ? 'the model has no graph' : 'no ONNX ModelProto fields (ir_version, graph) found', 0);
  if (opaque) m.opaqueFields = opaque;
  return m;
}

function openChecked(path: string): WindowFile {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UserError(`${path}: no such file`, path);
  }
  if (st.isDirectory()) throw new UserError(`${path}: is a directory, expected an .onnx file`, path);
  if (!st.isFile()) throw new UserError(`${path}: is not a regular file`, path);
  if (st.size === 0) throw new UserError(`${path}: the file is empty, not an ONNX model`, path);
  try {
    return new WindowFile(path);
  } catch (e) {
    throw new UserError(`${path}: cannot open: ${(e as Error).message}`, path);
  }
}

function wrapWireError(path: string, e: unknown, what: string): never {
  if (e instanceof WireError) {
    throw new UserError(`${path}: not a valid ${what}: ${e.message} (at byte ${e.pos}); the file is corrupt, truncated or not ONNX`, path);
  }
  throw e;
}

/**
 * Indexes an ONNX model without reading its weights: every TensorData is a stub that knows where its
 * bytes are. Throws UserError naming the file for anything that is not a readable ONNX model.
 */
export async function readModel(path: string, opts: ReadOptions = {}): Promise<Model> {
  const abs = resolve(path);
  const f = openChecked(abs);
  try {
    const c: Ctx = { f, modelPath: abs, externals: new ExternalResolver(abs), checkSizes: !opts.skipExternalSizeCheck, depth: 0 };
    return readModelProto(c);
  } catch (e) {
    return wrapWireError(abs, e, 'ONNX model');
  } finally {
    if (opts.stats) Object.assign(opts.stats, { bytesRead: f.bytesRead, fileBytes: f.size });
    f.close();
  }
}

/** Reads a standalone serialized TensorProto (the test_data_set_N/input_M.pb files), lazily too. */
export async function readTensorProtoFile(path: string): Promise<TensorData> {
  const abs = resolve(path);
  const f = openChecked(abs);
  try {
    const c: Ctx = { f, modelPath: abs, externals: new ExternalResolver(abs), checkSizes: true, depth: 0 };
    return readTensor(c, new Fields(f, 0, f.size, 'TensorProto'));
  } catch (e) {
    return wrapWireError(abs, e, 'TensorProto');
  } finally {
    f.close();
  }
}

