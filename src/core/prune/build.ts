// The pruned graph: the surgery layer's modifications applied to a copy of the model, then what
// nothing reads any more removed (nodes, initializers, value_info, graph inputs), the nodes
// topologically sorted, and value_info entries whose shape no longer holds corrected. Weights are
// shared with the source model, never copied or changed: the writer copies their bytes by range.
import { analyzeModel, GraphView, type DimValue, type ModelAnalysis } from '../graph';
import type { Dim, Model, ValueInfo } from '../onnx/types';
import { applyModifications, type AppliedModification, type Candidate } from '../surgery';

export interface BuiltModel {
  model: Model;
  applied: AppliedModification[];
  removedNodes: number;
  addedNodes: number;
  removedInitializers: number;
  /** graph inputs nothing reads any more (dropped from the signature) */
  removedInputs: string[];
  /** value_info entries whose declared shape was corrected */
  fixedValueInfo: string[];
  /** the pruned model analysed with the same input dims as the source */
  analysis: ModelAnalysis;
}

/** The input dims that still apply to `model` (inputs a prune dropped are left out). */
export function shapesFor(model: Model, shapes: Record<string, number[]>): Record<string, number[]> {
  const names = new Set(model.graph.inputs.map((v) => v.name));
  return Object.fromEntries(Object.entries(shapes).filter(([k]) => names.has(k)));
}

/**
 * @param keepSignature keep graph inputs nothing reads any more (a pipeline's U-Net: the sampler
 *   feeds sample, timestep and encoder_hidden_states by contract); otherwise they are dropped
 */
export async function buildPruned(source: Model, selection: readonly Candidate[], inputShapes: Record<string, number[]>, keepSignature = false): Promise<BuiltModel> {
  const { model, applied } = applyModifications(source, selection);
  const g = model.graph;
  const inputsBefore = g.inputs.map((v) => v.name);
  const view = new GraphView(g);
  view.cleanup({ removeUnusedInputs: !keepSignature });
  view.toposort();
  const kept = new Set(g.inputs.map((v) => v.name));
  const removedInputs = inputsBefore.filter((n) => !kept.has(n));
  // the model is a copy, so added nodes are told by their outputs: fresh names the source never produced
  const produced = new Set(source.graph.nodes.flatMap((n) => n.outputs));
  const addedNodes = g.nodes.filter((n) => n.outputs.some((o) => o && !produced.has(o))).length;
  const removedNodes = source.graph.nodes.length - (g.nodes.length - addedNodes);
  const initNames = new Set(g.initializers.map((t) => t.name));
  const removedInitializers = source.graph.initializers.filter((t) => !initNames.has(t.name)).length;

  const analysis = await analyzeModel(model, { inputShapes: shapesFor(model, inputShapes) });
  const fixedValueInfo = fixValueInfo(g.valueInfo, analysis);
  return { model, applied, removedNodes, addedNodes, removedInitializers, removedInputs, fixedValueInfo, analysis };
}

/**
 * Declared value_info shapes the pruned graph contradicts (a fixed dim that is now another number,
 * or another rank) are replaced by the inferred shape; symbolic dims that still fit are kept.
 * Returns the names of the entries changed.
 */
export function fixValueInfo(entries: ValueInfo[], a: ModelAnalysis): string[] {
  const fixed: string[] = [];
  for (const v of entries) {
    const t = v.type;
    if (!t || t.kind !== 'tensor' || !t.shape) continue;
    const inferred = a.shapes.get(v.name)?.shape;
    if (!inferred) continue;
    if (!conflicts(t.shape, inferred)) continue;
    const old = t.shape.length === inferred.length ? t.shape : undefined;
    t.shape = inferred.map((d, i): Dim => {
      if (old?.[i].param !== undefined) return old[i];
      return typeof d === 'number' ? { value: d } : typeof d === 'string' ? { param: d } : {};
    });
    fixed.push(v.name);
  }
  return fixed;
}

function conflicts(declared: Dim[], inferred: readonly DimValue[]): boolean {
  if (declared.length !== inferred.length) return true;
  return declared.some((d, i) => d.value !== undefined && typeof inferred[i] === 'number' && inferred[i] !== d.value);
}
