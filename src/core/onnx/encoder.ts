// Encodes the model IR to ONNX protobuf as a list of parts: small encoded bytes, and references to
// tensor payloads that are copied later, by range, straight from where they live. Nested messages are
// encoded child first, so every length prefix is known before anything is written and the writer can
// stream the result without ever holding the weights.
import type {
  Attribute, Dim, FunctionDef, Graph, KeyValue, Model, Node, OpaqueField, OpsetImport, SparseTensorData,
  TensorData, TypeInfo, ValueInfo,
} from './types';
import { WIRE_FIXED32, WIRE_LEN, WIRE_VARINT, varintSize, writeVarint } from './wire';


/** A tensor payload (as stored at its location) to be copied into the output. */
export interface PayloadPart { kind: 'payload'; tensor: TensorData; length: number }
export type Part = Uint8Array | PayloadPart;

/** How the writer places each tensor: where its bytes go in the external data file, if anywhere. */
export interface TensorPlacement {
  external?: { location: string; offset: number; length: number };
  /** the payload of a string tensor whose bytes were not in memory yet (read before encoding) */
  strings?: Uint8Array[];
}

const INLINE_COPY_LIMIT = 64 * 1024;
const textEncoder = new TextEncoder();

export class Msg {
  private buf = new Uint8Array(128);
  private len = 0;
  private readonly parts: Part[] = [];
  private partsSize = 0;

  get size(): number {
    return this.partsSize + this.len;
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private flush(): void {
    if (!this.len) return;
    this.parts.push(this.buf.slice(0, this.len));
    this.partsSize += this.len;
    this.len = 0;
  }

  /** All parts; the message is finished. */
  finish(): Part[] {
    this.flush();
    return this.parts;
  }

  private varint(v: number | bigint): void {
    this.room(10);
    this.len = writeVarint(this.buf, this.len, v);
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  private raw(bytes: Uint8Array): void {
    if (bytes.length > INLINE_COPY_LIMIT) {
      this.flush();
      this.parts.push(bytes);
      this.partsSize += bytes.length;
      return;
    }
    this.room(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  int(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_FIXED32);
    this.room(4);
    new DataView(this.buf.buffer, this.buf.byteOffset).setFloat32(this.len, v, true);
    this.len += 4;
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    this.raw(b);
    return this;
  }

  string(field: number, s: string): this {
    // Names are almost always ASCII: their bytes go straight into the buffer. An SD-sized graph has
    // tens of thousands of names, and one TextEncoder array per name was a third of its encoding time.
    const n = s.length;
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return this.bytes(field, textEncoder.encode(s));
    this.tag(field, WIRE_LEN);
    this.varint(n);
    this.room(n);
    for (let i = 0; i < n; i++) this.buf[this.len + i] = s.charCodeAt(i);
    this.len += n;
    return this;
  }

  /** Optional string: written only when present, so absent stays absent. */
  optString(field: number, s: string | undefined): this {
    return s === undefined ? this : this.string(field, s);
  }

  /** Strings the IR keeps as '' when absent (names, domains): an empty one is left out. */
  nonEmpty(field: number, s: string): this {
    return s === '' ? this : this.string(field, s);
  }

  packedInts(field: number, vs: readonly (number | bigint)[]): this {
    if (!vs.length) return this;
    this.tag(field, WIRE_LEN);
    this.varint(vs.reduce<number>((n, v) => n + varintSize(v), 0));
    for (const v of vs) this.varint(v);
    return this;
  }

  packedFloats(field: number, vs: readonly number[]): this {
    if (!vs.length) return this;
    this.tag(field, WIRE_LEN);
    this.varint(vs.length * 4);
    this.room(vs.length * 4);
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset);
    for (const v of vs) { dv.setFloat32(this.len, v, true); this.len += 4; }
    return this;
  }

  message(field: number, child: Msg): this {
    this.tag(field, WIRE_LEN);
    this.varint(child.size);
    if (!child.parts.length) {
      this.room(child.len);
      this.buf.set(child.buf.subarray(0, child.len), this.len);
      this.len += child.len;
    } else {
      this.flush();
      for (const p of child.finish()) this.parts.push(p);
      this.partsSize += child.size;
    }
    return this;
  }

  payload(field: number, tensor: TensorData, length: number): this {
    this.tag(field, WIRE_LEN);
    this.varint(length);
    const loc = tensor.location;
    if (loc.kind === 'inline') this.raw(loc.bytes);
    else {
      this.flush();
      this.parts.push({ kind: 'payload', tensor, length });
      this.partsSize += length;
    }
    return this;
  }

  opaque(fields: readonly OpaqueField[] | undefined): this {
    for (const f of fields ?? []) {
      this.tag(f.fieldNumber, f.wireType);
      if (f.wireType === WIRE_LEN) this.varint(f.bytes.length);
      this.raw(f.bytes);
    }
    return this;
  }
}

const TYPED_FIELD_NUMBER = { float: 4, int32: 5, string: 6, int64: 7, double: 10, uint64: 11 } as const;

export class ModelEncoder {
  constructor(private readonly placement: (t: TensorData) => TensorPlacement | undefined) {}

  model(m: Model): Msg {
    const w = new Msg().int(1, m.irVersion);
    w.optString(2, m.producerName).optString(3, m.producerVersion).optString(4, m.domain);
    if (m.modelVersion !== undefined) w.int(5, m.modelVersion);
    w.optString(6, m.docString);
    w.message(7, this.graph(m.graph));
    for (const o of m.opsetImports) w.message(8, opset(o));
    for (const kv of m.metadataProps) w.message(14, keyValue(kv));
    for (const f of m.functions) w.message(25, this.function(f));
    return w.opaque(m.opaqueFields);
  }

  graph(g: Graph): Msg {
    const w = new Msg();
    for (const n of g.nodes) w.message(1, this.node(n));
    w.nonEmpty(2, g.name);
    for (const t of g.initializers) w.message(5, this.tensor(t));
    w.optString(10, g.docString);
    for (const v of g.inputs) w.message(11, valueInfo(v));
    for (const v of g.outputs) w.message(12, valueInfo(v));
    for (const v of g.valueInfo) w.message(13, valueInfo(v));
    for (const s of g.sparseInitializers) w.message(15, this.sparse(s));
    for (const kv of g.metadataProps ?? []) w.message(16, keyValue(kv));
    return w.opaque(g.opaqueFields);
  }

  node(n: Node): Msg {
    const w = new Msg();
    for (const s of n.inputs) w.string(1, s);
    for (const s of n.outputs) w.string(2, s);
    w.nonEmpty(3, n.name).nonEmpty(4, n.opType);
    for (const a of n.attributes) w.message(5, this.attribute(a));
    w.optString(6, n.docString).nonEmpty(7, n.domain).optString(8, n.overload);
    for (const kv of n.metadataProps ?? []) w.message(9, keyValue(kv));
    return w.opaque(n.opaqueFields);
  }

  attribute(a: Attribute): Msg {
    const w = new Msg().nonEmpty(1, a.name);
    if (a.f !== undefined) w.float(2, a.f);
    if (a.i !== undefined) w.int(3, a.i);
    if (a.s !== undefined) w.bytes(4, a.s);
    if (a.t) w.message(5, this.tensor(a.t));
    if (a.g) w.message(6, this.graph(a.g));
    if (a.floats) w.packedFloats(7, a.floats);
    if (a.ints) w.packedInts(8, a.ints);
    for (const s of a.strings ?? []) w.bytes(9, s);
    for (const t of a.tensors ?? []) w.message(10, this.tensor(t));
    for (const g of a.graphs ?? []) w.message(11, this.graph(g));
    w.optString(13, a.docString);
    if (a.tp) w.message(14, typeProto(a.tp));
    for (const t of a.typeProtos ?? []) w.message(15, typeProto(t));
    if (a.type) w.int(20, a.type);
    w.optString(21, a.refAttrName);
    if (a.sparseTensor) w.message(22, this.sparse(a.sparseTensor));
    for (const s of a.sparseTensors ?? []) w.message(23, this.sparse(s));
    return w.opaque(a.opaqueFields);
  }

  tensor(t: TensorData): Msg {
    const w = new Msg().packedInts(1, t.dims);
    if (t.elemType) w.int(2, t.elemType);
    if (t.segment) w.message(3, new Msg().int(1, t.segment.begin).int(2, t.segment.end));
    const place = this.placement(t);
    const loc = t.location;
    const field = loc.kind === 'external' ? 'raw' : loc.field;
    if (place?.external) {
      w.nonEmpty(8, t.name);
    } else if (field === 'raw') {
      w.nonEmpty(8, t.name);
      if (t.byteLength) w.payload(9, t, t.byteLength);
    } else if (field === 'string') {
      const strings = place?.strings;
      if (!strings) throw new Error(`string tensor '${t.name}' was not loaded before encoding`);
      for (const s of strings) w.bytes(6, s);
      w.nonEmpty(8, t.name);
    } else {
      if (t.byteLength) w.payload(TYPED_FIELD_NUMBER[field], t, t.byteLength);
      w.nonEmpty(8, t.name);
    }
    w.optString(12, t.docString);
    if (place?.external) {
      const { location, offset, length } = place.external;
      // Our own location/offset/length replace the source's; anything else (a checksum) is kept.
      const kept = (t.externalData ?? []).filter((kv) => !['location', 'offset', 'length', 'basepath'].includes(kv.key));
      const entries = [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(length) }, ...kept];
      for (const kv of entries) w.message(13, keyValue(kv));
      w.int(14, 1);
    }
    for (const kv of t.metadataProps ?? []) w.message(16, keyValue(kv));
    return w.opaque(t.opaqueFields);
  }

  sparse(s: SparseTensorData): Msg {
    return new Msg().message(1, this.tensor(s.values)).message(2, this.tensor(s.indices)).packedInts(3, s.dims).opaque(s.opaqueFields);
  }

  function(f: FunctionDef): Msg {
    const w = new Msg().nonEmpty(1, f.name);
    for (const s of f.inputs) w.string(4, s);
    for (const s of f.outputs) w.string(5, s);
    for (const s of f.attributes) w.string(6, s);
    for (const n of f.nodes) w.message(7, this.node(n));
    w.optString(8, f.docString);
    for (const o of f.opsetImports) w.message(9, opset(o));
    w.nonEmpty(10, f.domain);
    for (const a of f.attributeProtos) w.message(11, this.attribute(a));
    for (const v of f.valueInfo) w.message(12, valueInfo(v));
    w.optString(13, f.overload);
    for (const kv of f.metadataProps ?? []) w.message(14, keyValue(kv));
    return w.opaque(f.opaqueFields);
  }
}

function keyValue(kv: KeyValue): Msg {
  return new Msg().string(1, kv.key).string(2, kv.value);
}

function opset(o: OpsetImport): Msg {
  return new Msg().string(1, o.domain).int(2, o.version);
}

function valueInfo(v: ValueInfo): Msg {
  const w = new Msg().nonEmpty(1, v.name);
  if (v.type) w.message(2, typeProto(v.type));
  w.optString(3, v.docString);
  for (const kv of v.metadataProps ?? []) w.message(4, keyValue(kv));
  return w.opaque(v.opaqueFields);
}

function shape(dims: readonly Dim[]): Msg {
  const w = new Msg();
  for (const d of dims) {
    const dm = new Msg();
    if (d.value !== undefined) dm.int(1, d.value);
    dm.optString(2, d.param).optString(3, d.denotation);
    w.message(1, dm);
  }
  return w;
}

function typeProto(t: TypeInfo): Msg {
  const w = new Msg();
  const inner = (field: number, elem: TypeInfo | undefined) => {
    const m = new Msg();
    if (elem) m.message(1, typeProto(elem));
    w.message(field, m);
  };
  switch (t.kind) {
    case 'tensor': case 'sparse_tensor': {
      const m = new Msg();
      if (t.elemType) m.int(1, t.elemType);
      if (t.shape) m.message(2, shape(t.shape));
      w.message(t.kind === 'tensor' ? 1 : 8, m);
      break;
    }
    case 'sequence': inner(4, t.elem); break;
    case 'optional': inner(9, t.elem); break;
    case 'map': {
      const m = new Msg().int(1, t.keyType);
      if (t.value) m.message(2, typeProto(t.value));
      w.message(5, m);
      break;
    }
    case 'unknown': break;
  }
  w.optString(6, t.denotation);
  return w.opaque(t.opaqueFields);
}
