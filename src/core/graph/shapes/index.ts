// Static shape pass. Shapes come from the model where it declares them (graph inputs/outputs,
// value_info, initializer dims) and are inferred per operator otherwise, in topological order.
// Small integer tensors (shape arithmetic: Shape → Gather → Unsqueeze → Concat → Reshape) are
// folded on their values, keeping symbolic dims (e.g. 'batch') as symbols where they pass through
// unchanged. A dim is a number, a symbol, or null (unknown): nothing is ever guessed.
//
// Written here rather than taken from a library: no npm package does ONNX shape inference without
// native onnx bindings, and this pass must also keep symbols and fold shape constants.
//
// This file runs the pass; the rules live by op family beside it (elementwise, shape-tensors,
// reshape, indexing, conv, pooling, linear, normalization, reduce, resize) and are gathered in
// rules.ts. To add an op: put its rule in its family's table.
import type { Dim, Node, TensorData, TypeInfo } from '../../onnx/types';
import { numElements } from '../../onnx/types';
import type { GraphView } from '../graph-view';
import type { DimValue, OpContext, ShapeMap, ShapeOptions, ValueFacts } from './facts';
import { inferNode } from './rules';

export { knownSize, type DimValue, type ShapeMap, type ShapeOptions, type ValueFacts } from './facts';
export { broadcastShapes } from './elementwise';
export { einsumLetters, einsumShape, matmulShape } from './linear';
export { opHasShapeRule } from './rules';

/** What each node's rule gave, kept per result so a later pass (options.previous) can reuse it. */
interface Inferred {
  node: Node;
  /** the input facts it was inferred from (objects of that pass's map) */
  inputs: (ValueFacts | undefined)[];
  outputs: (ValueFacts | undefined)[];
}
const inferredBy = new WeakMap<ShapeMap, { opset: number; byNode: Map<string, Inferred> }>();

/** What an incremental pass (options.previous) found changed; the later passes of an edit's analysis read it. */
export interface ShapeDelta {
  previous: ShapeMap;
  /** each node's counterpart in the previous pass: the node that wrote the same outputs */
  counterpart: ReadonlyMap<Node, Node>;
  /** nodes whose rule ran again (op, wiring, attributes or input facts not those of their counterpart) */
  reinferred: ReadonlySet<Node>;
  /** values whose facts are not the previous pass's object (new, or changed) */
  changed: ReadonlySet<string>;
}
const deltas = new WeakMap<ShapeMap, ShapeDelta>();

/** How `shapes` differs from the pass it was inferred incrementally from; undefined for a full pass. */
export function shapeDelta(shapes: ShapeMap): ShapeDelta | undefined {
  return deltas.get(shapes);
}

/** The key a node's inference is kept under: its outputs (a single output's name needs no new string). */
const outputsKey = (n: Node) => (n.outputs.length === 1 ? n.outputs[0] : n.outputs.join('\u0000'));

/** Shapes (and small folded values) of every value in the graph. */
export function inferShapes(view: GraphView, options: ShapeOptions = {}): ShapeMap {
  const g = view.graph;
  const facts: ShapeMap = new Map();
  const opset = options.opset ?? 17;
  const prevMap = options.previous;
  const prev = prevMap && inferredBy.get(prevMap);
  const reuse = prev?.opset === opset ? prev.byNode : undefined;
  const counterpart = new Map<Node, Node>();
  const reinferred = new Set<Node>();
  const changed = new Set<string>();
  // An unchanged value keeps the previous pass's object, so "same inputs as before" is an identity check.
  const put = (name: string, f: ValueFacts) => {
    const p = prevMap?.get(name);
    if (p && (p === f || sameFacts(p, f))) facts.set(name, p);
    else {
      facts.set(name, f);
      changed.add(name);
    }
  };
  const useDeclared = options.useDeclared !== false;
  const declared = new Map<string, ValueFacts>();
  if (useDeclared) {
    for (const v of [...g.valueInfo, ...g.outputs]) {
      const f = factsFromType(v.type);
      if (f) declared.set(v.name, f);
    }
  }
  const tensorValue = (t: TensorData) => options.tensorValues?.get(t);

  for (const t of g.initializers) {
    const value = tensorValue(t);
    put(t.name, { shape: [...t.dims], elemType: t.elemType, value: value && [...value] });
  }
  for (const s of g.sparseInitializers) put(s.values.name, { shape: [...s.dims], elemType: s.values.elemType });
  for (const v of g.inputs) {
    if (view.initializer(v.name)) continue; // a weight with a default: its initializer says it all
    const given = options.inputShapes?.[v.name];
    const f = factsFromType(v.type) ?? {};
    put(v.name, given ? { ...f, shape: [...given] } : f);
  }

  let order: readonly Node[];
  try {
    order = view.topoOrder();
  } catch {
    order = view.nodes; // a cyclic graph still gets shapes for what precedes the cycle
  }
  const byNode = new Map<string, Inferred>();
  const ctx: OpContext = { node: order[0], in: [], opset, tensorValue };
  for (const node of order) {
    const inputs = node.inputs.map((x) => (x ? facts.get(x) : undefined));
    const key = outputsKey(node);
    const was = reuse?.get(key);
    if (was) counterpart.set(node, was.node);
    let out: (ValueFacts | undefined)[];
    if (was && sameComputation(was.node, node) && was.inputs.every((f, i) => f === inputs[i])) out = was.outputs;
    else {
      reinferred.add(node);
      ctx.node = node;
      ctx.in = inputs;
      try {
        const raw = inferNode(ctx);
        out = node.outputs.map((_, i) => sanitize(raw[i]));
      } catch {
        out = []; // malformed attributes: leave this node's outputs unknown rather than fail the model
      }
    }
    byNode.set(key, { node, inputs, outputs: out });
    node.outputs.forEach((name, i) => {
      if (!name) return;
      const inferred = out[i];
      const dec = declared.get(name);
      put(name, dec ? mergeFacts(inferred, dec) : inferred ?? {});
    });
  }
  inferredBy.set(facts, { opset, byNode });
  if (reuse) deltas.set(facts, { previous: prevMap!, counterpart, reinferred, changed });
  return facts;
}

/** Same op, attributes and wiring; attribute objects are shared between edit snapshots until an edit replaces one. */
function sameComputation(p: Node, q: Node): boolean {
  return p === q || (p.opType === q.opType && p.domain === q.domain && p.inputs.length === q.inputs.length
    && p.inputs.every((x, i) => x === q.inputs[i]) && p.attributes.length === q.attributes.length
    && p.attributes.every((a, i) => a === q.attributes[i]));
}

function sameFacts(p: ValueFacts, q: ValueFacts): boolean {
  return p.elemType === q.elemType && sameList(p.shape, q.shape) && sameList(p.value, q.value);
}

function sameList(p: readonly DimValue[] | undefined, q: readonly DimValue[] | undefined): boolean {
  if (p === q) return true;
  if (!p || !q || p.length !== q.length) return false;
  for (let i = 0; i < p.length; i++) if (p[i] !== q[i]) return false;
  return true;
}

/** The facts a declared TypeProto gives (tensor types only). */
export function factsFromType(type: TypeInfo | undefined): ValueFacts | undefined {
  if (!type || (type.kind !== 'tensor' && type.kind !== 'sparse_tensor')) return undefined;
  return { elemType: type.elemType || undefined, shape: type.shape?.map(dimFromProto) };
}

function dimFromProto(d: Dim): DimValue {
  if (d.value !== undefined && d.value >= 0) return d.value;
  if (d.param) return d.param;
  return null;
}

/** Inferred dims win where they are numbers; declared numbers fill the gaps, then symbols. */
function mergeFacts(inferred: ValueFacts | undefined, declared: ValueFacts): ValueFacts {
  if (!inferred) return declared;
  const elemType = inferred.elemType ?? declared.elemType;
  let shape = inferred.shape;
  if (!shape) shape = declared.shape;
  else if (declared.shape && declared.shape.length === shape.length) {
    shape = shape.map((d, i) => {
      const e = declared.shape![i];
      if (typeof d === 'number') return d;
      if (typeof e === 'number') return e;
      return d ?? e;
    });
  }
  return { shape, elemType, value: inferred.value };
}

const badDim = (d: DimValue) => typeof d === 'number' && (!Number.isInteger(d) || d < 0);

/** Drops impossible dims (from a malformed model) and values that do not fit their shape. */
function sanitize(f: ValueFacts | undefined): ValueFacts | undefined {
  if (!f) return undefined;
  const shape = f.shape?.some(badDim) ? f.shape.map((d) => (badDim(d) ? null : d)) : f.shape;
  let value = f.value;
  if (value && shape && (shape.some((d) => typeof d !== 'number') || numElements(shape as number[]) !== value.length)) value = undefined;
  return { shape, elemType: f.elemType, value };
}

/** '[1,4,64,64]', '[batch,4,?,?]', or '?' when even the rank is unknown. */
export function formatShape(shape: readonly DimValue[] | undefined): string {
  if (!shape) return '?';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}
