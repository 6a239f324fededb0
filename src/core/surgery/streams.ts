// Blocks with several residual streams: SD3's MMDiT and FLUX's double-stream `transformer_blocks.N`
// carry the image tokens and the text tokens side by side, so two values leave the block, and
// findRegion (one way out) refuses it. Each of those values is its own stream's input plus the
// block's (gated) branches: out = x + g1·attn(…) + g2·ff(…). Removing the block is then identity on
// every stream at once: each exit is replaced by the residual input it was summed onto, as in
// TinyFusion / Flux-Mini depth pruning, where a dropped double block passes both streams through.
//
// A stream's input is found by walking back from the exit through Add nodes only (the residual sum);
// the one value produced outside the block that this walk reaches is the stream's input. A leaving
// value without such an input (an attention's to_out and to_add_out, an adaLN's Split) is no stream,
// and the block is not offered. Every exit is checked against its input: same shape, same element type.
import { describeValue, type ModelAnalysis } from '../graph';
import { elemTypeName, type Node } from '../onnx/types';
import { ancestorNodes, fmt, isDataValue, type Region } from './regions';
import type { ModificationPlan } from './types';

/** One residual stream through a block: `exit` is replaced by `entry` when the block is removed. */
export interface Stream {
  exit: string;
  entry: string;
}

export type StreamRegionResult = { ok: true; region: Region; streams: Stream[] } | { ok: false; reason: string };

/** Data values read by `members` and produced outside them (graph inputs included). */
function outsideInputs(a: ModelAnalysis, members: ReadonlySet<Node>): Set<string> {
  const out = new Set<string>();
  for (const n of members) {
    if (a.noise.has(n)) continue;
    for (const x of a.view.allInputs(n, true)) {
      const p = a.view.producer(x);
      if ((p && members.has(p)) || !isDataValue(a, x)) continue;
      out.add(x);
    }
  }
  return out;
}

/** The outside values a walk back from `exit` through Add nodes of the block reaches: its residual inputs. */
function residualInputs(a: ModelAnalysis, exit: string, members: ReadonlySet<Node>): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const stack = [exit];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const p = a.view.producer(v);
    if (!p || !members.has(p)) {
      if (v !== exit && isDataValue(a, v) && !found.includes(v)) found.push(v);
      continue;
    }
    if (p.opType === 'Add' && p.domain === '') stack.push(...p.inputs.filter(Boolean));
  }
  return found;
}

/**
 * The block of `scopeNodes` as several residual streams, or undefined when fewer than two values
 * leave it (findRegion's verdict stands then). Fails with a reason when values leave it that are
 * not residual streams, or a stream's input differs from its output in shape or element type.
 */
export function findStreamRegion(a: ModelAnalysis, scopeNodes: readonly Node[]): StreamRegionResult | undefined {
  const scope = new Set(scopeNodes);
  const leaving: string[] = [];
  for (const n of scopeNodes) {
    if (a.noise.has(n)) continue;
    for (const o of n.outputs) {
      if (!o) continue;
      if (a.view.isGraphOutput(o) || a.view.consumers(o).some((c) => !scope.has(c) && a.noise.get(c) !== 'shape')) leaving.push(o);
    }
  }
  if (leaving.length < 2) return undefined;
  const streams: Stream[] = [];
  const others: string[] = [];
  for (const exit of leaving) {
    const inputs = residualInputs(a, exit, scope);
    if (inputs.length === 1) streams.push({ exit, entry: inputs[0] });
    else others.push(exit);
  }
  if (streams.length < 2) return undefined;
  // values computed only from side inputs (a conditioning the exporter shares with later blocks) may
  // leave too; anything computed from a stream is a further exit this replacement would not cover
  const shared = new Set<Node>();
  for (const v of others) for (const n of ancestorNodes(a, v, scope)) shared.add(n);
  const entries = new Set(streams.map((s) => s.entry));
  for (const v of others) {
    const fromStream = [...ancestorNodes(a, v, scope)].some((n) => a.view.allInputs(n, true).some((x) => entries.has(x)));
    if (fromStream) return { ok: false, reason: `${leaving.length} values leave it and ${describeValue(a.view, v)} is no residual stream (no single input it is summed onto): it has no single exit per stream` };
  }
  if (new Set(streams.map((s) => s.entry)).size !== streams.length) {
    return { ok: false, reason: `its ${streams.length} exits are summed onto the same input: no stream can be told from another` };
  }
  for (const s of streams) {
    const inS = a.shapes.get(s.entry);
    const outS = a.shapes.get(s.exit);
    if (a.view.isGraphOutput(s.exit)) return { ok: false, reason: `its output ${s.exit} is a graph output` };
    if (!inS?.shape || !outS?.shape || fmt(inS.shape) !== fmt(outS.shape) || inS.shape.some((d) => d === null)) {
      return { ok: false, reason: `stream ${describeValue(a.view, s.entry)} ${fmt(inS?.shape)} → ${describeValue(a.view, s.exit)} ${fmt(outS?.shape)}: the shapes are not known to be equal, so identity would change a shape` };
    }
    if (inS.elemType !== outS.elemType) {
      return { ok: false, reason: `stream ${describeValue(a.view, s.entry)} is ${elemTypeName(inS.elemType ?? 0)} but ${describeValue(a.view, s.exit)} is ${elemTypeName(outS.elemType ?? 0)}` };
    }
  }
  const members = new Set(scopeNodes.filter((n) => !shared.has(n)));
  const inputs = [...outsideInputs(a, members)];
  const [first] = streams;
  return {
    ok: true,
    streams,
    region: { nodes: scopeNodes.filter((n) => members.has(n)), exit: first.exit, entry: first.entry, inputs, shared: scopeNodes.filter((n) => shared.has(n)) },
  };
}

/** Identity on every stream: each exit's readers read the stream's input. */
export function planStreams(a: ModelAnalysis, streams: readonly Stream[]): ModificationPlan {
  const [first, ...rest] = streams;
  const shapes = streams.map((s) => `${describeValue(a.view, s.exit)} ← ${describeValue(a.view, s.entry)} ${fmt(a.shapes.get(s.exit)?.shape)}`);
  return {
    action: 'remove',
    method: 'identity',
    target: first.exit,
    source: first.entry,
    steps: [],
    streams: rest.map((s) => ({ target: s.exit, source: s.entry })),
    description: `${streams.length} residual streams pass through unchanged (identity on each): ${shapes.join('; ')}`,
  };
}
