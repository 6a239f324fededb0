// Graph edits shared by the pruned model (applyModifications) and the gated evaluation model: a copy
// of the model to edit and names that cannot collide (the replacement's nodes: replacement.ts).
import { AttrType, ElemType, type Attribute, type Graph, type Model, type Node, type TensorData, type TypeInfo, type ValueInfo } from '../onnx/types';
import type { Candidate } from './types';

/** A copy of the model's structure that can be edited freely; tensor payloads are shared (read-only). */
export function cloneModel(m: Model): Model {
  return { ...m, metadataProps: [...m.metadataProps], graph: cloneGraph(m.graph), functions: [...m.functions] };
}

function cloneGraph(g: Graph): Graph {
  return {
    ...g,
    nodes: g.nodes.map(cloneNode),
    inputs: g.inputs.map(cloneValueInfo),
    outputs: g.outputs.map(cloneValueInfo),
    valueInfo: g.valueInfo.map(cloneValueInfo),
    initializers: [...g.initializers],
    sparseInitializers: [...g.sparseInitializers],
  };
}

/** Value infos get their own type objects: callers fix declared shapes of the copy in place. */
function cloneValueInfo(v: ValueInfo): ValueInfo {
  return { ...v, type: v.type && cloneType(v.type) };
}

function cloneType(t: TypeInfo): TypeInfo {
  switch (t.kind) {
    case 'tensor': case 'sparse_tensor': return { ...t, shape: t.shape?.map((d) => ({ ...d })) };
    case 'sequence': case 'optional': return { ...t, elem: t.elem && cloneType(t.elem) };
    case 'map': return { ...t, value: t.value && cloneType(t.value) };
    default: return { ...t };
  }
}

function cloneNode(n: Node): Node {
  return {
    ...n,
    inputs: [...n.inputs],
    outputs: [...n.outputs],
    attributes: n.attributes.map((a) => (a.g || a.graphs ? { ...a, g: a.g && cloneGraph(a.g), graphs: a.graphs?.map(cloneGraph) } : a)),
  };
}

export function int64Tensor(name: string, values: readonly number[], dims: number[] = [values.length]): TensorData {
  const bytes = new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
  return { name, elemType: ElemType.INT64, dims, byteLength: bytes.length, location: { kind: 'inline', bytes, field: 'raw' } };
}

export function floatTensor(name: string, values: readonly number[], dims: number[] = [values.length]): TensorData {
  const bytes = new Uint8Array(Float32Array.from(values).buffer);
  return { name, elemType: ElemType.FLOAT, dims, byteLength: bytes.length, location: { kind: 'inline', bytes, field: 'raw' } };
}

export const ints = (name: string, v: number[]): Attribute => ({ name, type: AttrType.INTS, ints: v });
export const int = (name: string, v: number): Attribute => ({ name, type: AttrType.INT, i: v });
export const str = (name: string, v: string): Attribute => ({ name, type: AttrType.STRING, s: new TextEncoder().encode(v) });

/** Adds nodes and initializers to a graph under names that cannot collide with existing ones. */
export class GraphEditor {
  private readonly names = new Set<string>();
  private readonly nodeNames = new Set<string>();

  constructor(readonly model: Model) {
    const g = model.graph;
    for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) this.names.add(v.name);
    for (const t of g.initializers) this.names.add(t.name);
    for (const n of g.nodes) {
      for (const o of n.outputs) this.names.add(o);
      this.nodeNames.add(n.name);
    }
  }

  get graph(): Graph {
    return this.model.graph;
  }

  get opset(): number {
    return this.model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 1;
  }

  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  private freshNode(base: string): string {
    let name = base;
    for (let i = 1; this.nodeNames.has(name); i++) name = `${base}_${i}`;
    this.nodeNames.add(name);
    return name;
  }

  initializer(t: TensorData): string {
    t.name = this.fresh(t.name);
    this.graph.initializers.push(t);
    return t.name;
  }

  node(opType: string, inputs: string[], nodeName: string, outName: string, attributes: Attribute[] = []): Node {
    const node: Node = { name: this.freshNode(nodeName), opType, domain: '', inputs, outputs: [this.fresh(outName)], attributes };
    this.graph.nodes.push(node);
    return node;
  }
}

/** '/up_blocks.2/resnets.0' for module id 'up_blocks.2.resnets.0', from one of its node names. */
export function scopePrefix(nodes: readonly Node[], id: string): string {
  for (const n of nodes) {
    const segs = n.name.split('/').filter(Boolean);
    for (let k = 1; k < segs.length; k++) if (segs.slice(0, k).join('.') === id) return '/' + segs.slice(0, k).join('/');
  }
  return `/${id.replace(/[^\w.]/g, '_')}`;
}

/**
 * Processing order of modifications: inner modules before the modules containing them, then graph
 * order. The gated model and applyModifications both use it, so a gate setting and the pruned
 * model built from the same selection compute the same thing.
 */
export function surgeryOrder<T extends Pick<Candidate, 'id' | 'nodeIndices'>>(list: readonly T[]): T[] {
  const depth = (c: T) => c.id.split('.').filter((p) => !/^\d+$/.test(p)).length;
  return [...list].sort((p, q) => depth(q) - depth(p) || (p.nodeIndices[0] ?? 0) - (q.nodeIndices[0] ?? 0) || (p.id < q.id ? -1 : p.id > q.id ? 1 : 0));
}
