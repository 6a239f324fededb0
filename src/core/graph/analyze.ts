// One pass over a model that everything downstream reads: the graph view, shapes, exporter
// noise, the module tree with per-module totals, parameters and FLOPs.
import { UserError } from '../errors';
import type { Model, Node, TensorData } from '../onnx/types';
import { assertAcyclic } from './acyclic';
import { assumeInputShapes, type FlopsAssumption } from './assumed-shapes';
import { latentShapeFromConfig } from './input-shapes';
import { attr } from './attrs';
import { nodeCost, type NodeCost } from './flops';
import { GraphView } from './graph-view';
import { buildModuleTree, lowestCommon, walkModules, type ModuleNode, type ModuleTree } from './modules';
import { classifyNoise, type NoiseKind } from './noise';
import { findParams, type ParamTensor } from './params';
import { factsFromType, inferShapes, shapeDelta, type DimValue, type ShapeMap } from './shapes';
import { readFoldValues, type TensorBytesReader } from './tensor-values';

export interface AnalyzeOptions {
  /** concrete shapes for graph inputs, e.g. { sample: [1, 4, 64, 64] } */
  inputShapes?: Readonly<Record<string, readonly number[]>>;
  /** how to read a tensor's bytes (default: from the model's files) */
  readBytes?: TensorBytesReader;
}

/** Totals of a module and everything under it. */
export interface ModuleStats {
  /** graph nodes, noise included */
  nodes: number;
  /** nodes doing work on data (noise excluded) */
  ops: number;
  noiseNodes: number;
  /** op type → count, noise excluded */
  opCounts: Record<string, number>;
  params: number;
  paramBytes: number;
  macs: number;
  flops: number;
  /** non-noise nodes whose cost is unknown (no rule, or shapes unknown); not in macs/flops */
  uncounted: number;
}

export interface ModelAnalysis {
  model: Model;
  view: GraphView;
  shapes: ShapeMap;
  /** shapes used for the graph inputs (declared, with the caller's concrete dims applied) */
  inputShapes: Record<string, DimValue[] | undefined>;
  noise: Map<Node, NoiseKind>;
  /** null: unknown cost */
  cost: Map<Node, NodeCost | null>;
  /**
   * The input sizes FLOPs were counted at when some input dims are symbolic (batch 1, default
   * spatial and sequence sizes); null when the inputs are concrete. Only costs use them: `shapes`
   * keeps the symbols.
   */
  flopsAssumption: FlopsAssumption | null;
  /** the shapes costs were counted from: `shapes` itself unless flopsAssumption fixed symbolic dims */
  costShapes?: ShapeMap;
  tree: ModuleTree;
  params: ParamTensor[];
  /** module each parameter belongs to (lowest common module of its users) */
  paramModule: Map<ParamTensor, ModuleNode>;
  /** own stats (nodes directly in the module, params assigned to it) */
  own: Map<ModuleNode, ModuleStats>;
  /** totals over the module's subtree */
  total: Map<ModuleNode, ModuleStats>;
}

/** Tensors whose values the shape pass may fold: initializers and Constant/ConstantOfShape tensors. */
export function foldCandidates(model: Model): TensorData[] {
  const out: TensorData[] = [...model.graph.initializers];
  for (const n of model.graph.nodes) {
    if (n.opType === 'Constant' || n.opType === 'ConstantOfShape') {
      const t = attr(n, 'value')?.t;
      if (t) out.push(t);
    }
  }
  return out;
}

export async function analyzeModel(model: Model, options: AnalyzeOptions = {}): Promise<ModelAnalysis> {
  const values = await readFoldValues(foldCandidates(model), options.readBytes);
  // a diffusers U-Net's config.json beside the model declares its latent size: FLOPs are counted at it
  const configLatent = model.path ? latentShapeFromConfig(model.path) : undefined;
  return analyzeWithValues(model, values, options.inputShapes, configLatent);
}

/**
 * The synchronous core of analyzeModel, for callers that already hold the folded tensor values.
 * `previous`: the analysis of the model before an edit; the shape passes then re-infer only the
 * nodes whose op or input facts changed, and a node the edit left as it was keeps its cost and the
 * scope read from its name (the result is the same as without it).
 * `view`: a view already indexing model.graph (the edit that made the model built one); not changed here.
 */
export function analyzeWithValues(
  model: Model, tensorValues: ReadonlyMap<TensorData, number[]>, given?: Readonly<Record<string, readonly number[]>>, configLatent?: readonly number[],
  previous?: ModelAnalysis, view: GraphView = new GraphView(model.graph),
): ModelAnalysis {
  if (view.graph !== model.graph) throw new Error('analyzeWithValues: the view is over another graph');
  assertAcyclic(model, view);
  const inputShapes = resolveInputShapes(model, view, given ?? {});
  const opset = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version;
  const shapes = inferShapes(view, { inputShapes: inputShapesForPass(inputShapes), tensorValues, opset, previous: previous?.shapes });
  const delta = previous && shapeDelta(shapes);
  const noise = classifyNoise(view);
  const tree = buildModuleTree(view, noise, shapes, previous && delta && { tree: previous.tree, counterpart: delta.counterpart });
  const assumed = assumeInputShapes(inputShapes, configLatent);
  const costShapes = assumed ? inferShapes(view, { inputShapes: assumed.inputs, tensorValues, opset, previous: previous?.costShapes }) : shapes;
  const costDelta = costShapes === shapes ? delta : previous && shapeDelta(costShapes);
  // a node's cost is kept when its counterpart computed the same from the same facts (and both are noise or both not)
  const keptCost = (n: Node): NodeCost | null | undefined => {
    if (!previous || !delta || !costDelta || (previous.costShapes ?? previous.shapes) !== costDelta.previous) return undefined;
    const old = delta.counterpart.get(n);
    if (!old || delta.reinferred.has(n) || costDelta.reinferred.has(n) || noise.has(n) !== previous.noise.has(old)) return undefined;
    for (const o of n.outputs) if (o && costDelta.changed.has(o)) return undefined;
    return previous.cost.get(old);
  };
  const cost = new Map<Node, NodeCost | null>();
  for (const n of view.nodes) {
    const kept = keptCost(n);
    cost.set(n, kept !== undefined ? kept : noise.has(n) ? { macs: 0, flops: 0 } : nodeCost(n, costShapes));
  }
  const params = findParams(view, noise);
  const paramModule = new Map<ParamTensor, ModuleNode>();
  for (const p of params) paramModule.set(p, lowestCommon(p.users.map((u) => tree.moduleOf.get(u)!)));

  const own = new Map<ModuleNode, ModuleStats>();
  walkModules(tree.root, (m) => own.set(m, emptyStats()));
  for (const n of view.nodes) {
    const s = own.get(tree.moduleOf.get(n)!)!;
    s.nodes++;
    if (noise.has(n)) {
      s.noiseNodes++;
      continue;
    }
    s.ops++;
    s.opCounts[n.opType] = (s.opCounts[n.opType] ?? 0) + 1;
    const c = cost.get(n);
    if (c) {
      s.macs += c.macs;
      s.flops += c.flops;
    } else s.uncounted++;
  }
  for (const [p, m] of paramModule) {
    const s = own.get(m)!;
    s.params += p.elements;
    s.paramBytes += p.bytes;
  }
  const total = new Map<ModuleNode, ModuleStats>();
  const roll = (m: ModuleNode): ModuleStats => {
    const t = { ...own.get(m)!, opCounts: { ...own.get(m)!.opCounts } };
    for (const c of m.children) addStats(t, roll(c));
    total.set(m, t);
    return t;
  };
  roll(tree.root);
  return { model, view, shapes, inputShapes, noise, cost, flopsAssumption: assumed ?? null, costShapes, tree, params, paramModule, own, total };
}

function emptyStats(): ModuleStats {
  return { nodes: 0, ops: 0, noiseNodes: 0, opCounts: {}, params: 0, paramBytes: 0, macs: 0, flops: 0, uncounted: 0 };
}

function addStats(into: ModuleStats, s: ModuleStats): void {
  into.nodes += s.nodes;
  into.ops += s.ops;
  into.noiseNodes += s.noiseNodes;
  into.params += s.params;
  into.paramBytes += s.paramBytes;
  into.macs += s.macs;
  into.flops += s.flops;
  into.uncounted += s.uncounted;
  for (const [k, v] of Object.entries(s.opCounts)) into.opCounts[k] = (into.opCounts[k] ?? 0) + v;
}

function inputShapesForPass(shapes: Record<string, DimValue[] | undefined>): Record<string, DimValue[]> {
  const out: Record<string, DimValue[]> = {};
  for (const [k, v] of Object.entries(shapes)) if (v) out[k] = v;
  return out;
}

/**
 * Applies the caller's concrete dims to the declared input shapes. A symbol bound by one input
 * ('batch' = 2 from sample) is bound in every other input that uses it. Mismatches are user errors.
 */
export function resolveInputShapes(model: Model, view: GraphView, given: Readonly<Record<string, readonly number[]>>): Record<string, DimValue[] | undefined> {
  const file = model.path || 'model';
  const inputs = view.dataInputs();
  const names = inputs.map((v) => v.name);
  const bindings = new Map<string, number>();
  for (const [name, dims] of Object.entries(given)) {
    const v = inputs.find((x) => x.name === name);
    if (!v) throw new UserError(`${file}: has no input '${name}' (inputs: ${names.join(', ') || 'none'})`, model.path);
    if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new UserError(`${file}: input '${name}': dims must be non-negative integers, got ${dims.join(',')}`, model.path);
    const declared = factsFromType(v.type)?.shape;
    if (!declared) continue;
    if (declared.length !== dims.length) {
      throw new UserError(`${file}: input '${name}' has rank ${declared.length} ([${declared.map((d) => d ?? '?').join(',')}]), got ${dims.length} dims`, model.path);
    }
    declared.forEach((d, i) => {
      if (typeof d === 'number' && d !== dims[i]) {
        throw new UserError(`${file}: input '${name}' dim ${i} is fixed at ${d} in the model, got ${dims[i]}`, model.path);
      }
      if (typeof d === 'string') {
        const prev = bindings.get(d);
        if (prev !== undefined && prev !== dims[i]) throw new UserError(`${file}: dim '${d}' is given as both ${prev} and ${dims[i]}`, model.path);
        bindings.set(d, dims[i]);
      }
    });
  }
  const out: Record<string, DimValue[] | undefined> = {};
  for (const v of inputs) {
    const g = given[v.name];
    const declared = factsFromType(v.type)?.shape;
    out[v.name] = g ? [...g] : declared?.map((d) => (typeof d === 'string' && bindings.has(d) ? bindings.get(d)! : d));
  }
  return out;
}
