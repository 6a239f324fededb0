// Builds small ONNX models in memory for graph-layer tests (tensors are inline bytes).
import { AttrType, ElemType, numElements, type Attribute, type Graph, type Model, type Node, type TensorData, type ValueInfo } from '../../src/core/onnx/types';

export type AttrValue = number | number[] | string | { f: number } | { floats: number[] } | { t: TensorData } | { g: Graph };

export function tensor(name: string, elemType: number, dims: number[], values?: (number | bigint)[]): TensorData {
  const n = numElements(dims);
  let bytes: Uint8Array;
  if (elemType === ElemType.INT64) {
    const a = new BigInt64Array(n);
    if (values) values.forEach((v, i) => (a[i] = BigInt(v)));
    bytes = new Uint8Array(a.buffer);
  } else if (elemType === ElemType.INT32) {
    bytes = new Uint8Array(Int32Array.from((values ?? new Array(n).fill(0)).map(Number)).buffer);
  } else {
    bytes = new Uint8Array(Float32Array.from((values ?? new Array(n).fill(0)).map(Number)).buffer);
    elemType = ElemType.FLOAT;
  }
  return { name, elemType, dims, byteLength: bytes.byteLength, location: { kind: 'inline', bytes, field: 'raw' } };
}

function toAttr(name: string, v: AttrValue): Attribute {
  if (typeof v === 'number') return { name, type: AttrType.INT, i: v };
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  if ('f' in v) return { name, type: AttrType.FLOAT, f: v.f };
  if ('floats' in v) return { name, type: AttrType.FLOATS, floats: v.floats };
  if ('t' in v) return { name, type: AttrType.TENSOR, t: v.t };
  return { name, type: AttrType.GRAPH, g: v.g };
}

export function valueInfo(name: string, elemType: number = ElemType.FLOAT, shape?: (number | string | null)[]): ValueInfo {
  return {
    name,
    type: { kind: 'tensor', elemType, shape: shape?.map((d) => (typeof d === 'number' ? { value: d } : typeof d === 'string' ? { param: d } : {})) },
  };
}

export class GraphBuilder {
  readonly graph: Graph;
  private count = 0;

  constructor(name = 'g') {
    this.graph = { name, nodes: [], inputs: [], outputs: [], valueInfo: [], initializers: [], sparseInitializers: [] };
  }

  input(name: string, shape?: (number | string | null)[], elemType: number = ElemType.FLOAT): string {
    this.graph.inputs.push(valueInfo(name, elemType, shape));
    return name;
  }

  output(name: string, shape?: (number | string | null)[], elemType: number = ElemType.FLOAT): this {
    this.graph.outputs.push(valueInfo(name, elemType, shape));
    return this;
  }

  /** A float initializer (zeros unless values are given). */
  weight(name: string, dims: number[], values?: number[]): string {
    this.graph.initializers.push(tensor(name, ElemType.FLOAT, dims, values));
    return name;
  }

  ints(name: string, values: (number | bigint)[], dims: number[] = [values.length]): string {
    this.graph.initializers.push(tensor(name, ElemType.INT64, dims, values));
    return name;
  }

  /** Adds a node; returns its first output name. Outputs default to `<name>_output_<i>`. */
  node(opType: string, inputs: string[], opts: { name?: string; outputs?: string[] | number; attrs?: Record<string, AttrValue>; domain?: string; metadata?: Record<string, string> } = {}): string {
    const name = opts.name ?? `/${opType}_${this.count++}`;
    const outs = Array.isArray(opts.outputs) ? opts.outputs : Array.from({ length: opts.outputs ?? 1 }, (_, i) => `${name}_output_${i}`);
    const node: Node = {
      name,
      opType,
      domain: opts.domain ?? '',
      inputs,
      outputs: outs,
      attributes: Object.entries(opts.attrs ?? {}).map(([k, v]) => toAttr(k, v)),
    };
    if (opts.metadata) node.metadataProps = Object.entries(opts.metadata).map(([key, value]) => ({ key, value }));
    this.graph.nodes.push(node);
    return outs[0];
  }

  /** A Constant node holding an int64 vector (or scalar with dims []). */
  constInts(values: number[], dims: number[] = [values.length], name?: string): string {
    return this.node('Constant', [], { name, attrs: { value: { t: tensor('', ElemType.INT64, dims, values) } } });
  }

  model(opset = 17): Model {
    return { path: '', irVersion: 8, opsetImports: [{ domain: '', version: opset }], producerName: 'test', metadataProps: [], graph: this.graph, functions: [] };
  }
}
