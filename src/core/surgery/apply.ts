// Applying modifications to a copy of a model: directly (the pruned model) or behind runtime gates
// (the evaluation model scoring uses, where every candidate is switched by one boolean input).
import { UserError } from '../errors';
import { GraphView } from '../graph';
import { ElemType, type Attribute, type Model, type Node } from '../onnx/types';
import { cloneModel, GraphEditor, int, int64Tensor, ints, scopePrefix, surgeryOrder } from './edit';
import { emitCandidateReplacement, emitGate } from './replacement';
import type { Candidate, ModificationMethod } from './types';

export interface AppliedModification {
  id: string;
  method: ModificationMethod;
  /** the value whose readers now read the replacement */
  target: string;
  /** the replacement value (in the gated model: the Where choosing between it and the target) */
  replacement: string;
}

export interface ApplyResult {
  model: Model;
  applied: AppliedModification[];
  /** nodes cleanup removed (the modified regions, and what only they used) */
  removedNodes: number;
  /** a view indexing the model's graph as returned (an edit's analysis starts from it instead of indexing again) */
  view: GraphView;
}

export interface GatedModel {
  model: Model;
  /** name of the boolean [K] input; gate k switches candidates[k] */
  gateInput: string;
  /** candidate ids in gate order */
  ids: string[];
  applied: AppliedModification[];
}

export const GATE_INPUT = 'ld_surgeon_gates';

function checkApplicable(model: Model, list: readonly Candidate[]): void {
  const n = model.graph.nodes.length;
  for (const c of list) {
    if (!c.modification) throw new UserError(`${model.path || 'the model'}: candidate '${c.id}' cannot be modified: ${c.reason}`, model.path);
    if (c.nodeIndices.some((i) => i >= n)) throw new Error(`candidate '${c.id}' was found in another model (node index out of range)`);
  }
}

/**
 * Rewrites `ed.model` in surgery order. `gate(c)` returns the boolean scalar value switching c, or
 * undefined to apply c unconditionally. Readers of each target (outside its region) are pointed at
 * the replacement; `current` tracks renamed values so later candidates read what readers now read.
 */
function rewrite(ed: GraphEditor, list: readonly Candidate[], gate: ((c: Candidate) => string) | undefined): AppliedModification[] {
  const original = ed.graph.nodes.slice();
  const current = new Map<string, string>();
  const resolve = (v: string) => {
    let x = v;
    for (let guard = 0; current.has(x) && guard < 1e6; guard++) x = current.get(x)!;
    return x;
  };
  const applied: AppliedModification[] = [];
  for (const c of surgeryOrder(list)) {
    const plan = c.modification!;
    const region = c.nodeIndices.map((i) => original[i]);
    const members = new Set<Node>(region);
    // a block with several residual streams replaces each exit by its own stream's input (streams.ts)
    const pairs = [{ target: plan.target, source: plan.source }, ...(plan.streams ?? [])];
    const rewired = pairs.map((p) => ({ target: resolve(p.target), source: resolve(p.source) }));
    for (const { target } of rewired) {
      if (ed.graph.outputs.some((o) => o.name === target)) {
        throw new UserError(`${ed.model.path || 'the model'}: candidate '${c.id}' would replace the graph output ${target}`, ed.model.path);
      }
    }
    const before = ed.graph.nodes.length;
    const replacements = rewired.map(({ target, source }, k) => {
      // the extra streams are identities (no steps): only the first pair has a planned replacement
      let replacement = k === 0 ? emitCandidateReplacement(ed, c, region, source) : source;
      if (gate) replacement = emitGate(ed, c, gate(c), replacement, target, scopePrefix(region, c.id));
      return replacement;
    });
    const own = new Set(ed.graph.nodes.slice(before));
    for (const n of ed.graph.nodes) {
      if (members.has(n) || own.has(n)) continue;
      for (let i = 0; i < n.inputs.length; i++) {
        const k = rewired.findIndex((p) => p.target === n.inputs[i]);
        if (k >= 0) n.inputs[i] = replacements[k];
      }
    }
    rewired.forEach(({ target }, k) => {
      current.set(target, replacements[k]);
      applied.push({ id: c.id, method: plan.method, target, replacement: replacements[k] });
    });
  }
  return applied;
}

/**
 * A copy of `model` with the selected candidates modified (removed or replaced) and everything only
 * they used cleaned away. The input model is not changed; its weights are shared, not copied.
 */
export function applyModifications(model: Model, selection: readonly Candidate[]): ApplyResult {
  checkApplicable(model, selection);
  const ed = new GraphEditor(cloneModel(model));
  const applied = rewrite(ed, selection, undefined);
  const view = new GraphView(ed.graph);
  const { removedNodes } = view.cleanup();
  view.toposort();
  return { model: ed.model, applied, removedNodes, view };
}

/**
 * The evaluation model: every candidate's modification behind gate k of a boolean input
 * `ld_surgeon_gates` [K] (Where(gates[k], replacement, original) in front of the region's readers;
 * a region whose output is a scalar is not a candidate, so the [1]-shaped gate never changes a shape).
 * With all gates off it computes exactly what the original model computes.
 */
export function buildGatedModel(model: Model, candidates: readonly Candidate[]): GatedModel {
  checkApplicable(model, candidates);
  const m = cloneModel(model);
  const ed = new GraphEditor(m);
  if (m.graph.inputs.some((v) => v.name === GATE_INPUT)) throw new UserError(`${model.path}: already has an input named ${GATE_INPUT}`, model.path);
  const K = candidates.length;
  m.graph.inputs.push({ name: GATE_INPUT, type: { kind: 'tensor', elemType: ElemType.BOOL, shape: [{ value: K }] } });
  // One Split hands every candidate its own [1]-shaped gate (Where broadcasts it): cheaper at run
  // time than K Gathers, and the same node for any K.
  const gateValues: string[] = [];
  if (K > 0) {
    const outs = candidates.map((_, k) => ed.fresh(`ld_surgeon/gate_${k}`));
    const attrs: Attribute[] = [];
    const inputs = [GATE_INPUT];
    if (ed.opset >= 13) inputs.push(ed.initializer(int64Tensor('ld_surgeon/gate_split', new Array<number>(K).fill(1))));
    else attrs.push(ints('split', new Array<number>(K).fill(1)));
    ed.graph.nodes.push({ name: '/ld_surgeon_gates/Split', opType: 'Split', domain: '', inputs, outputs: outs, attributes: [int('axis', 0), ...attrs] });
    gateValues.push(...outs);
  }
  const indexOf = new Map(candidates.map((c, i) => [c, i]));
  const gate = (c: Candidate) => gateValues[indexOf.get(c)!];
  const applied = rewrite(ed, candidates, gate);
  new GraphView(m.graph).toposort();
  return { model: m, gateInput: GATE_INPUT, ids: candidates.map((c) => c.id), applied };
}
