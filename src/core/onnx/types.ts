// The model IR every part of ld-surgeon reads and writes.
// It mirrors ONNX's ModelProto closely (so a read → write round trip is lossless),
// except that tensor payloads are never held: a TensorData knows where its bytes are
// and reads them on demand, by range.

/** ONNX TensorProto.DataType numbers, including the newer element types (IR v9/v10/v11/v12). */
export enum ElemType {
  UNDEFINED = 0, FLOAT = 1, UINT8 = 2, INT8 = 3, UINT16 = 4, INT16 = 5, INT32 = 6, INT64 = 7,
  STRING = 8, BOOL = 9, FLOAT16 = 10, DOUBLE = 11, UINT32 = 12, UINT64 = 13, COMPLEX64 = 14,
  COMPLEX128 = 15, BFLOAT16 = 16, FLOAT8E4M3FN = 17, FLOAT8E4M3FNUZ = 18, FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20, UINT4 = 21, INT4 = 22, FLOAT4E2M1 = 23, FLOAT8E8M0 = 24, UINT2 = 25, INT2 = 26,
}

/** Where a tensor's bytes live. Offsets are absolute byte offsets in `file`. */
export type TensorLocation =
  /** raw_data (or a packed typed field) inside the .onnx file itself */
  | { kind: 'embedded'; file: string; offset: number; length: number; field: TensorDataField }
  /** data_location = EXTERNAL: a file inside the model's folder */
  | { kind: 'external'; file: string; location: string; offset: number; length: number }
  /** bytes created in memory (by surgery, or a tensor small enough to keep, e.g. string tensors) */
  | { kind: 'inline'; bytes: Uint8Array; field: TensorDataField };

/**
 * Which TensorProto field carries the payload. 'raw' is raw_data (little-endian element bytes);
 * the others are the typed repeated fields, kept in their protobuf wire encoding
 * (packed varints for int32/int64/uint64 fields, packed fixed for float/double, a list of
 * length-delimited strings for string_data) so they round-trip byte for byte.
 */
export type TensorDataField = 'raw' | 'float' | 'int32' | 'string' | 'int64' | 'double' | 'uint64';

export interface TensorData {
  name: string;
  elemType: number;
  dims: number[];
  docString?: string;
  /** number of payload bytes at `location` (for typed fields: the wire-encoded length) */
  byteLength: number;
  location: TensorLocation;
  /** external_data entries exactly as stored (location/offset/length/checksum...) */
  externalData?: KeyValue[];
  /** TensorProto.segment, kept opaque */
  segment?: { begin: number; end: number };
  /** TensorProto.metadata_props (IR v10) */
  metadataProps?: KeyValue[];
  /** protobuf fields this IR does not model (newer ONNX), carried through a round trip */
  opaqueFields?: OpaqueField[];
}

export interface SparseTensorData {
  values: TensorData;
  indices: TensorData;
  dims: number[];
  /** protobuf fields this IR does not model (newer ONNX), carried through a round trip */
  opaqueFields?: OpaqueField[];
}

export interface KeyValue { key: string; value: string }

export interface Dim { value?: number; param?: string; denotation?: string }

/** onnx TypeProto. Tensor types are first-class; other kinds are kept structurally. */
export type TypeInfoKind =
  | { kind: 'tensor'; elemType: number; shape?: Dim[]; denotation?: string }
  | { kind: 'sparse_tensor'; elemType: number; shape?: Dim[]; denotation?: string }
  | { kind: 'sequence'; elem?: TypeInfo; denotation?: string }
  | { kind: 'map'; keyType: number; value?: TypeInfo; denotation?: string }
  | { kind: 'optional'; elem?: TypeInfo; denotation?: string }
  | { kind: 'unknown'; denotation?: string };
// (each kind may carry opaqueFields: e.g. TypeProto.opaque_type, which only 'unknown' can represent)
export type TypeInfo = TypeInfoKind & { opaqueFields?: OpaqueField[] };

export interface ValueInfo {
  name: string;
  type?: TypeInfo;
  docString?: string;
  metadataProps?: KeyValue[];
  /** protobuf fields this IR does not model (newer ONNX), carried through a round trip */
  opaqueFields?: OpaqueField[];
}

export enum AttrType {
  UNDEFINED = 0, FLOAT = 1, INT = 2, STRING = 3, TENSOR = 4, GRAPH = 5, FLOATS = 6, INTS = 7,
  STRINGS = 8, TENSORS = 9, GRAPHS = 10, SPARSE_TENSOR = 11, SPARSE_TENSORS = 12,
  TYPE_PROTO = 13, TYPE_PROTOS = 14,
}

export interface Attribute {
  name: string;
  type: AttrType;
  /** set for a reference attribute inside a function body */
  refAttrName?: string;
  docString?: string;
  f?: number;
  /** INT attributes can exceed 2^53 (e.g. INT64_MAX in Slice ends): kept as bigint when they do */
  i?: number | bigint;
  /** STRING attributes are bytes in ONNX; kept as bytes, use attrString() for text */
  s?: Uint8Array;
  t?: TensorData;
  g?: Graph;
  sparseTensor?: SparseTensorData;
  tp?: TypeInfo;
  floats?: number[];
  ints?: (number | bigint)[];
  strings?: Uint8Array[];
  tensors?: TensorData[];
  graphs?: Graph[];
  sparseTensors?: SparseTensorData[];
  typeProtos?: TypeInfo[];
  /** protobuf fields this IR does not model (newer ONNX), carried through a round trip */
  opaqueFields?: OpaqueField[];
}

export interface Node {
  name: string;
  opType: string;
  domain: string;
  /** '' marks an omitted optional input, as in ONNX */
  inputs: string[];
  outputs: string[];
  attributes: Attribute[];
  docString?: string;
  overload?: string;
  metadataProps?: KeyValue[];
  /** protobuf fields this IR does not model (newer ONNX), carried through a round trip */
  opaqueFields?: OpaqueField[];
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
  initializers: TensorData[];
  sparseInitializers: SparseTensorData[];
  docString?: string;
  metadataProps?: KeyValue[];
  /** quantization_annotation entries, kept as raw protobuf bytes (rare; carried through untouched) */
  opaqueFields?: OpaqueField[];
}

export interface OpsetImport { domain: string; version: number }

export interface FunctionDef {
  name: string;
  domain: string;
  overload?: string;
  inputs: string[];
  outputs: string[];
  attributes: string[];
  attributeProtos: Attribute[];
  nodes: Node[];
  opsetImports: OpsetImport[];
  valueInfo: ValueInfo[];
  docString?: string;
  metadataProps?: KeyValue[];
  /** protobuf fields this IR does not model (newer ONNX), carried through a round trip */
  opaqueFields?: OpaqueField[];
}

/** A protobuf field this IR does not model, carried through a round trip byte for byte. */
export interface OpaqueField { fieldNumber: number; wireType: number; bytes: Uint8Array }

export interface Model {
  /** absolute path of the .onnx file this model was read from ('' when built in memory) */
  path: string;
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  metadataProps: KeyValue[];
  graph: Graph;
  functions: FunctionDef[];
  /** training_info and any unknown ModelProto fields */
  opaqueFields?: OpaqueField[];
}

/** Element size in bits (sub-byte types are 4 or 2 bits); undefined for strings and unknown types. */
export function elemBits(t: number): number | undefined {
  switch (t) {
    case ElemType.FLOAT: case ElemType.INT32: case ElemType.UINT32: return 32;
    case ElemType.UINT8: case ElemType.INT8: case ElemType.BOOL:
    case ElemType.FLOAT8E4M3FN: case ElemType.FLOAT8E4M3FNUZ: case ElemType.FLOAT8E5M2: case ElemType.FLOAT8E5M2FNUZ:
    case ElemType.FLOAT8E8M0:
      return 8;
    case ElemType.UINT16: case ElemType.INT16: case ElemType.FLOAT16: case ElemType.BFLOAT16: return 16;
    case ElemType.INT64: case ElemType.UINT64: case ElemType.DOUBLE: case ElemType.COMPLEX64: return 64;
    case ElemType.COMPLEX128: return 128;
    case ElemType.UINT4: case ElemType.INT4: case ElemType.FLOAT4E2M1: return 4;
    case ElemType.UINT2: case ElemType.INT2: return 2;
    default: return undefined;
  }
}

/** ONNX's name for an element type; unknown numbers are named, never thrown on. */
export function elemTypeName(t: number): string {
  const name = (ElemType as unknown as Record<number, string>)[t];
  return name ? name.toLowerCase() : `unknown(${t})`;
}

export function numElements(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}
