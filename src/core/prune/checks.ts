// Checks of the written model that need no runtime: it re-reads in our reader; its graph is clean
// (topologically sorted, every value read is defined, every input and initializer used); declared
// shapes agree with inference; every kept weight is byte-for-byte the source's.
import { CancelledError } from '../errors';
import { analyzeModel, GraphView } from '../graph';
import { readModel } from '../onnx/reader';
import { readTensorRange } from '../onnx/tensor-data';
import type { Model, TensorData } from '../onnx/types';
import { shapesFor } from './build';
import type { PruneCheckResult } from './types';

const CHUNK = 16 * 1024 * 1024;

function list(names: string[], max = 4): string {
  return names.length > max ? `${names.slice(0, max).join(', ')}, … (${names.length})` : names.join(', ');
}

/** Re-reads the written file and compares it with the model that was written. */
export async function checkReread(path: string, built: Model): Promise<{ check: PruneCheckResult; model?: Model }> {
  let model: Model;
  try {
    model = await readModel(path);
  } catch (e) {
    return { check: { name: 'reread', status: 'failed', detail: `our reader cannot read it back: ${(e as Error).message}` } };
  }
  const g = model.graph;
  const b = built.graph;
  const problems: string[] = [];
  if (g.nodes.length !== b.nodes.length) problems.push(`${g.nodes.length} nodes read back, ${b.nodes.length} written`);
  if (g.initializers.length !== b.initializers.length) problems.push(`${g.initializers.length} initializers read back, ${b.initializers.length} written`);
  if (g.outputs.map((o) => o.name).join() !== b.outputs.map((o) => o.name).join()) problems.push('graph outputs differ');
  if (g.inputs.map((o) => o.name).join() !== b.inputs.map((o) => o.name).join()) problems.push('graph inputs differ');
  const ok = problems.length === 0;
  return { check: { name: 'reread', status: ok ? 'passed' : 'failed', detail: ok ? `${g.nodes.length} nodes, ${g.initializers.length} initializers` : problems.join('; ') }, model };
}

/**
 * Sorted, nothing dangling, nothing unused — checked with the graph layer's own index. Inputs in
 * `signature` may be unused (a pipeline U-Net's inputs, which the sampler feeds by contract).
 */
export function checkStructure(model: Model, signature: ReadonlySet<string> = new Set()): PruneCheckResult {
  const view = new GraphView(model.graph);
  const problems: string[] = [];
  let order: readonly unknown[] | undefined;
  try {
    order = view.topoOrder();
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (order && order.some((n, i) => n !== model.graph.nodes[i])) problems.push('nodes are not in topological order');
  const dangling = new Set<string>();
  for (const n of model.graph.nodes) for (const x of view.allInputs(n)) if (view.kind(x) === 'missing') dangling.add(x);
  for (const o of model.graph.outputs) if (view.kind(o.name) === 'missing') dangling.add(o.name);
  if (dangling.size) problems.push(`values read but never defined: ${list([...dangling])}`);
  const unused = view.dataInputs().filter((v) => !view.consumers(v.name).length && !view.isGraphOutput(v.name)).map((v) => v.name);
  const unusedInputs = unused.filter((v) => !signature.has(v));
  const kept = unused.filter((v) => signature.has(v));
  if (unusedInputs.length) problems.push(`inputs nothing reads: ${list(unusedInputs)}`);
  const unusedInits = model.graph.initializers.filter((t) => !view.consumers(t.name).length && !view.isGraphOutput(t.name)).map((t) => t.name);
  if (unusedInits.length) problems.push(`initializers nothing reads: ${list(unusedInits)}`);
  const produced = new Set(model.graph.nodes.flatMap((n) => n.outputs));
  const staleInfo = model.graph.valueInfo.filter((v) => !produced.has(v.name)).map((v) => v.name);
  if (staleInfo.length) problems.push(`value_info for values that no longer exist: ${list(staleInfo)}`);
  const ok = problems.length === 0;
  const note = kept.length ? ` (unused but kept as the pipeline U-Net's signature: ${list(kept)})` : '';
  return { name: 'structure', status: ok ? 'passed' : 'failed', detail: ok ? `topologically sorted; no dangling values, unused inputs or unused initializers${note}` : problems.join('; ') };
}

/** Inferred shapes of the re-read model agree with its declared value_info and outputs. */
export async function checkShapes(model: Model, inputShapes: Record<string, number[]>): Promise<PruneCheckResult> {
  const a = await analyzeModel(model, { inputShapes: shapesFor(model, inputShapes) });
  const bad: string[] = [];
  let compared = 0;
  for (const v of [...model.graph.valueInfo, ...model.graph.outputs]) {
    const t = v.type;
    if (!t || t.kind !== 'tensor' || !t.shape) continue;
    const inferred = a.shapes.get(v.name)?.shape;
    if (!inferred) continue;
    compared++;
    const wrong = t.shape.length !== inferred.length || t.shape.some((d, i) => d.value !== undefined && typeof inferred[i] === 'number' && inferred[i] !== d.value);
    if (wrong) bad.push(`${v.name} declared [${t.shape.map((d) => d.value ?? d.param ?? '?')}], inferred [${inferred.map((d) => d ?? '?')}]`);
  }
  const ok = bad.length === 0;
  return { name: 'shapes', status: ok ? 'passed' : 'failed', detail: ok ? `${compared} declared shapes agree with inference` : `declared shapes contradict inference: ${list(bad, 3)}` };
}

async function sameBytes(a: TensorData, b: TensorData, signal?: AbortSignal): Promise<boolean> {
  if (a.byteLength !== b.byteLength) return false;
  for (let off = 0; off < a.byteLength; off += CHUNK) {
    if (signal?.aborted) throw new CancelledError();
    const end = Math.min(a.byteLength, off + CHUNK);
    const [x, y] = await Promise.all([readTensorRange(a, off, end), readTensorRange(b, off, end)]);
    if (!Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))) return false;
  }
  return true;
}

/**
 * Every initializer of the pruned model that the source has (by name) holds the same type, dims and
 * bytes; the only others are the small constants the replacements added (named ld_surgeon).
 */
export async function checkWeights(source: Model, pruned: Model, signal?: AbortSignal, onTensor?: (done: number, total: number) => void): Promise<PruneCheckResult> {
  const src = new Map(source.graph.initializers.map((t) => [t.name, t]));
  const differ: string[] = [];
  const foreign: string[] = [];
  let bytes = 0;
  let compared = 0;
  const inits = pruned.graph.initializers;
  for (const [i, t] of inits.entries()) {
    const s = src.get(t.name);
    if (!s) {
      if (!/ld_surgeon/.test(t.name)) foreign.push(t.name);
      continue;
    }
    compared++;
    if (s.elemType !== t.elemType || s.dims.join() !== t.dims.join() || !(await sameBytes(s, t, signal))) differ.push(t.name);
    else bytes += t.byteLength;
    onTensor?.(i + 1, inits.length);
  }
  const problems: string[] = [];
  if (differ.length) problems.push(`changed weights: ${list(differ)}`);
  if (foreign.length) problems.push(`initializers the source does not have: ${list(foreign)}`);
  const ok = problems.length === 0;
  const added = inits.length - compared - foreign.length;
  return {
    name: 'weights',
    status: ok ? 'passed' : 'failed',
    detail: ok ? `${compared} kept initializers byte-identical to the source (${bytes} bytes compared)${added ? `; ${added} small replacement constants added` : ''}` : problems.join('; '),
  };
}
