// The compact, JSON-serialisable graph the webview draws: structure, shapes, module totals.
// Never weights. Everything the webview overlays (scores, selections) refers to nodes by `id`
// and to modules by their canonical path.
import { AttrType, type Attribute, type Node } from '../onnx/types';
import type { ModelAnalysis, ModuleStats } from './analyze';
import { walkModules, type ModuleNode } from './modules';
import type { NoiseKind } from './noise';
import { formatShape } from './shapes';
import { findStacks, type DepthStack } from './stacks';

export const GRAPH_INDEX_SCHEMA = 'ld-surgeon/graph-index@1' as const;

export interface GraphIndex {
  schema: typeof GRAPH_INDEX_SCHEMA;
  /** depth-first pre-order; modules[0] is the root (id '') */
  modules: IndexModule[];
  /** in topological order */
  nodes: IndexNode[];
  /**
   * Values (tensors) as parallel arrays, one entry per value index (columns keep a 10k-node
   * U-Net's index small): name[i], shape[i] ('[1,4,64,64]', '[batch,4,?,?]', '?' when the rank is
   * unknown), elemType[i] (ONNX element type number, 0 when unknown).
   */
  values: { name: string[]; shape: string[]; elemType: number[] };
  /** [producer node, consumer node, value] indices: one per (value, consumer) pair */
  edges: [number, number, number][];
  /** value indices of the graph inputs (not initializers), outputs and initializers */
  inputs: number[];
  outputs: number[];
  initializers: number[];
  /** depth stacks (runs of identical blocks, see stacks.ts): the view draws each compactly; absent when none */
  stacks?: DepthStack[];
}

export interface IndexModule {
  /** canonical dot-joined path */
  id: string;
  name: string;
  /** torch module class, when the exporter recorded it */
  className?: string;
  /** index in modules, -1 for the root */
  parent: number;
  depth: number;
  /** totals over the subtree */
  nodes: number;
  ops: number;
  params: number;
  paramBytes: number;
  macs: number;
  flops: number;
  uncounted: number;
  opCounts: Record<string, number>;
}

export interface IndexNode {
  /** GraphView.nodeId: the node name when unique, otherwise '#<index>:<op>' */
  id: string;
  op: string;
  /** only for non-default domains */
  domain?: string;
  /** index in modules */
  module: number;
  /** value indices; -1 marks an omitted optional input */
  in: number[];
  out: number[];
  /** set for exporter noise */
  noise?: NoiseKind;
  /** null when unknown; absent for noise */
  flops?: number | null;
  macs?: number;
  /** the node's attributes for the inspector (kernel_shape, strides, pads, group, epsilon, axis…); absent when none */
  attrs?: IndexAttribute[];
}

/**
 * One attribute as the inspector shows and edits it. Tensor attributes (a Constant's value) give
 * their element type and dims, never their values; subgraphs give their node count.
 */
export type IndexAttribute =
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'ints'; value: number[] }
  | { name: string; type: 'floats'; value: number[] }
  | { name: string; type: 'strings'; value: string[] }
  | { name: string; type: 'tensor'; elemType: number; dims: number[] }
  | { name: string; type: 'graph'; nodes: number }
  | { name: string; type: 'other' };

const text = new TextDecoder();

/** The inspector's view of a node attribute (int64 values beyond 2^53 are shown rounded). */
export function indexAttribute(a: Attribute): IndexAttribute {
  const name = a.name;
  switch (a.type) {
    case AttrType.INT: return { name, type: 'int', value: Number(a.i ?? 0) };
    case AttrType.FLOAT: return { name, type: 'float', value: a.f ?? 0 };
    case AttrType.STRING: return { name, type: 'string', value: text.decode(a.s ?? new Uint8Array()) };
    case AttrType.INTS: return { name, type: 'ints', value: (a.ints ?? []).map(Number) };
    case AttrType.FLOATS: return { name, type: 'floats', value: a.floats ?? [] };
    case AttrType.STRINGS: return { name, type: 'strings', value: (a.strings ?? []).map((b) => text.decode(b)) };
    case AttrType.TENSOR: return a.t ? { name, type: 'tensor', elemType: a.t.elemType, dims: a.t.dims } : { name, type: 'other' };
    case AttrType.GRAPH: return { name, type: 'graph', nodes: a.g?.nodes.length ?? 0 };
    default: return { name, type: 'other' };
  }
}


/**
 * The module hierarchy with subtree totals, depth-first (modules[0] is the root): all the Model view
 * needs, small enough to post from the model worker without the graph.
 */
export function indexModules(a: ModelAnalysis): { modules: IndexModule[]; moduleIndex: Map<ModuleNode, number> } {
  const modules: IndexModule[] = [];
  const moduleIndex = new Map<ModuleNode, number>();
  walkModules(a.tree.root, (m) => {
    moduleIndex.set(m, modules.length);
    const t: ModuleStats = a.total.get(m)!;
    modules.push({
      id: m.id, name: m.name, parent: m.parent ? moduleIndex.get(m.parent)! : -1, depth: m.depth,
      nodes: t.nodes, ops: t.ops, params: t.params, paramBytes: t.paramBytes, macs: t.macs, flops: t.flops,
      uncounted: t.uncounted, opCounts: t.opCounts,
    });
    if (m.className) modules[modules.length - 1].className = m.className;
  });
  return { modules, moduleIndex };
}

export function buildGraphIndex(a: ModelAnalysis): GraphIndex {
  const { view, tree } = a;
  const { modules, moduleIndex } = indexModules(a);
  const order = indexOrder(a);
  const values: GraphIndex['values'] = { name: [], shape: [], elemType: [] };
  const names = valueNames(a, order);
  for (const name of names.list) {
    const [shape, elemType] = valueRow(a, name);
    values.name.push(name);
    values.shape.push(shape);
    values.elemType.push(elemType);
  }
  const nodes = order.map((n) => nodeEntry(a, n, moduleIndex.get(tree.moduleOf.get(n)!)!, names.index));
  const edges = indexEdges(a, order, names.index);
  const outputs = view.graph.outputs.map((v) => names.index.get(v.name)!);
  const index: GraphIndex = { schema: GRAPH_INDEX_SCHEMA, modules, nodes, values, edges, inputs: names.inputs, outputs, initializers: names.initializers };
  const stacks = findStacks(view, tree, a.noise);
  if (stacks.length) index.stacks = stacks;
  return index;
}

/** The nodes in index order: topological (as in the file, where it is), the file's order for a cyclic graph. */
export function indexOrder(a: ModelAnalysis): readonly Node[] {
  try {
    return a.view.topoOrder();
  } catch {
    return a.view.nodes;
  }
}

/**
 * Value indices in the order the index numbers them: the data inputs, then each node's inputs and
 * outputs in node order, then graph outputs nothing produced or read.
 */
export function valueNames(a: ModelAnalysis, order: readonly Node[]): { list: string[]; index: Map<string, number>; inputs: number[]; initializers: number[] } {
  const { view } = a;
  const list: string[] = [];
  const index = new Map<string, number>();
  const initializers: number[] = [];
  const valueOf = (name: string): number => {
    let i = index.get(name);
    if (i === undefined) {
      i = list.length;
      list.push(name);
      index.set(name, i);
      if (view.kind(name) === 'initializer') initializers.push(i);
    }
    return i;
  };
  const inputs = view.dataInputs().map((v) => valueOf(v.name));
  for (const n of order) {
    for (const x of n.inputs) if (x) valueOf(x);
    for (const x of n.outputs) valueOf(x);
  }
  for (const v of view.graph.outputs) valueOf(v.name);
  return { list, index, inputs, initializers };
}

/** A value's shape as the index writes it and its element type (0: unknown). */
export function valueRow(a: ModelAnalysis, name: string): [shape: string, elemType: number] {
  const f = a.shapes.get(name);
  // an initializer's dims and type are in the file even where the shape pass knows nothing
  const t = a.view.initializer(name);
  return [formatShape(f?.shape ?? t?.dims), f?.elemType ?? t?.elemType ?? 0];
}

export function nodeEntry(a: ModelAnalysis, n: Node, module: number, values: ReadonlyMap<string, number>): IndexNode {
  const noise = a.noise.get(n);
  const entry: IndexNode = {
    id: a.view.nodeId(n),
    op: n.opType,
    module,
    in: n.inputs.map((x) => (x ? values.get(x)! : -1)),
    out: n.outputs.map((x) => values.get(x)!),
  };
  if (n.domain) entry.domain = n.domain;
  if (n.attributes.length) entry.attrs = n.attributes.map(indexAttribute);
  if (noise) entry.noise = noise;
  else {
    const c = a.cost.get(n);
    entry.flops = c ? c.flops : null;
    if (c?.macs) entry.macs = c.macs;
  }
  return entry;
}

/** [producer, consumer, value] for every value a node reads that another node writes, by consumer. */
export function indexEdges(a: ModelAnalysis, order: readonly Node[], values: ReadonlyMap<string, number>): [number, number, number][] {
  const { view } = a;
  const nodeIndex = new Map<Node, number>();
  order.forEach((n, i) => nodeIndex.set(n, i));
  const edges: [number, number, number][] = [];
  const add = (x: string, to: number) => {
    const p = view.producer(x);
    if (p) edges.push([nodeIndex.get(p)!, to, values.get(x)!]);
  };
  for (let to = 0; to < order.length; to++) {
    const n = order[to];
    // view.allInputs(n, true) without its array per node (an SD-scale index is built per edit)
    const ins = n.inputs;
    for (let k = 0; k < ins.length; k++) if (ins[k] !== '' && ins.indexOf(ins[k]) === k) add(ins[k], to);
    for (const x of view.implicitInputs(n)) if (!ins.includes(x)) add(x, to);
  }
  return edges;
}
