// A candidate's region: the graph nodes of one module scope, reduced to a part with one way in and
// one way out. Exporters share nodes across scopes (torch's CSE keeps one SiLU(temb) named after the
// first ResNet and feeds every ResNet's time_emb_proj from it): such nodes sit in one scope but serve
// others, so they are left out of the region rather than making it look like it has several exits.
import { describeValue, walkValues, type ModelAnalysis } from '../graph';
import type { DimValue } from '../graph';
import type { Node } from '../onnx/types';

export interface Region {
  /** nodes of the region (noise included), in graph order */
  nodes: Node[];
  /** the one value leaving the region to the rest of the graph */
  exit: string;
  /** the main input: the value the region's output would be replaced by, or derived from */
  entry: string;
  /** every data value the region reads from outside (entry included), in graph order */
  inputs: string[];
  /** nodes of the scope left out because other scopes use their outputs (shared exporter nodes) */
  shared: Node[];
}

export type RegionResult = { ok: true; region: Region } | { ok: false; reason: string; nodes: Node[] };

/** A value is data (not a weight, a constant or a shape tensor) when a non-noise node or a graph input produces it. */
export function isDataValue(a: ModelAnalysis, value: string): boolean {
  if (!value) return false;
  const p = a.view.producer(value);
  if (p) return !a.noise.has(p);
  return a.view.kind(value) === 'input';
}

/** Consumers that read the value as data (Shape/Size and shape arithmetic only read its shape). */
function dataConsumers(a: ModelAnalysis, value: string): Node[] {
  return a.view.consumers(value).filter((c) => a.noise.get(c) !== 'shape');
}

/** Values reachable from `start` through consumers inside `within` (start itself included). */
function descendants(a: ModelAnalysis, start: Iterable<string>, within: ReadonlySet<Node>): Set<string> {
  const seen = new Set<string>();
  walkValues(start, (v) => {
    seen.add(v);
    const next: string[] = [];
    for (const c of a.view.consumers(v)) if (within.has(c)) for (const o of c.outputs) if (o) next.push(o);
    return next;
  });
  return seen;
}

/** Nodes inside `within` that `value` is computed from (its producer included). */
export function ancestorNodes(a: ModelAnalysis, value: string, within: ReadonlySet<Node>): Set<Node> {
  const out = new Set<Node>();
  walkValues([value], (v) => {
    const p = a.view.producer(v);
    if (!p || !within.has(p) || out.has(p)) return [];
    out.add(p);
    return a.view.allInputs(p);
  });
  return out;
}

function shapeOf(a: ModelAnalysis, value: string): DimValue[] | undefined {
  return a.shapes.get(value)?.shape;
}

/** How well an input's shape fits as the main input for an exit of shape `exit`: higher is better. */
function entryFit(input: readonly DimValue[] | undefined, exit: readonly DimValue[] | undefined): number {
  if (!input || !exit || input.length !== exit.length) return 0;
  const differing = input.filter((d, i) => d !== exit[i] || d === null).length;
  if (differing === 0) return 3;
  if (differing === 1) return 2;
  return 1;
}

/**
 * The region of `nodes` (a module subtree): its single exit and its main input. Fails with a
 * reason when nothing leaves it, several values leave it, or no input can stand for its output.
 */
export function findRegion(a: ModelAnalysis, scopeNodes: readonly Node[]): RegionResult {
  const scope = new Set(scopeNodes);
  const compute = scopeNodes.filter((n) => !a.noise.has(n));
  const leaving = (members: ReadonlySet<Node>) => {
    const out: string[] = [];
    for (const n of members) {
      if (a.noise.has(n)) continue;
      for (const o of n.outputs) {
        if (!o) continue;
        if (a.view.isGraphOutput(o) || dataConsumers(a, o).some((c) => !members.has(c))) out.push(o);
      }
    }
    return out;
  };
  const left = leaving(scope);
  if (!left.length) return { ok: false, reason: 'nothing it computes reaches the model outputs (dead code)', nodes: [...scopeNodes] };

  // With several leaving values, the exit is the one all others feed (within the scope); the others
  // are shared nodes, dropped from the region together with what only they are computed from.
  let exit = left[0];
  const shared = new Set<Node>();
  if (left.length > 1) {
    const sink = left.find((s) => left.every((v) => v === s || descendants(a, [v], scope).has(s)));
    if (!sink) return { ok: false, reason: `${left.length} values leave it (${list(left.map((v) => describeValue(a.view, v)))}): it has no single exit`, nodes: [...scopeNodes] };
    exit = sink;
    for (const v of left) if (v !== sink) for (const n of ancestorNodes(a, v, scope)) shared.add(n);
  }
  const members = new Set(scopeNodes.filter((n) => !shared.has(n)));
  if (!members.has(a.view.producer(exit)!)) {
    return { ok: false, reason: `its output ${describeValue(a.view, exit)} is computed by nodes other scopes share`, nodes: [...scopeNodes] };
  }

  // data inputs: read by the region's compute nodes, produced outside it
  const inputs: string[] = [];
  for (const n of compute) {
    if (!members.has(n)) continue;
    for (const x of a.view.allInputs(n, true)) {
      const p = a.view.producer(x);
      if ((p && members.has(p)) || inputs.includes(x) || !isDataValue(a, x)) continue;
      inputs.push(x);
    }
  }
  const exitShape = shapeOf(a, exit);
  const reaching = inputs.filter((x) => descendants(a, [x], members).has(exit));
  // a shared node's output (SiLU(temb)) is a side input, never the main one
  const fromShared = (x: string) => shared.has(a.view.producer(x)!);
  // an input of the exit's element type can stand in for it (a Where's float operand, not its bool condition)
  const exitType = a.shapes.get(exit)?.elemType;
  const otherType = (x: string) => (exitType !== undefined && a.shapes.get(x)?.elemType !== exitType ? 1 : 0);
  const ranked = reaching
    .map((x, i) => ({ x, i, side: fromShared(x) ? 1 : 0, type: otherType(x), fit: entryFit(shapeOf(a, x), exitShape), size: knownCount(shapeOf(a, x)) }))
    .filter((r) => r.fit > 0)
    .sort((p, q) => p.side - q.side || p.type - q.type || q.fit - p.fit || q.size - p.size || p.i - q.i);
  if (!ranked.length) {
    // a classifier head: the graph output is what it cannot replace, whatever its input
    if (a.view.isGraphOutput(exit)) return { ok: false, reason: `its output ${exit} is a graph output`, nodes: [...scopeNodes] };
    const why = !exitShape ? `the shape of its output ${describeValue(a.view, exit)} is unknown` : `no input it reads has the rank of its output ${describeValue(a.view, exit)} ${fmt(exitShape)}`;
    return { ok: false, reason: `its main input cannot be determined: ${why}`, nodes: [...scopeNodes] };
  }
  const entry = ranked[0].x;

  // a shared node computed from the main input is a second exit after all
  const fromEntry = descendants(a, [entry], scope);
  const tangled = [...shared].filter((n) => !a.noise.has(n) && n.outputs.some((o) => fromEntry.has(o)));
  if (tangled.length) {
    const outs = left.filter((v) => v !== exit);
    return { ok: false, reason: `${left.length} values leave it (${list([exit, ...outs])}): it has no single exit`, nodes: [...scopeNodes] };
  }
  return {
    ok: true,
    region: {
      nodes: scopeNodes.filter((n) => members.has(n)),
      exit,
      entry,
      inputs,
      shared: scopeNodes.filter((n) => shared.has(n)),
    },
  };
}

function knownCount(shape: readonly DimValue[] | undefined): number {
  if (!shape) return 0;
  return shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 1), 1);
}

function list(values: string[]): string {
  const shown = values.slice(0, 3).join(', ');
  return values.length > 3 ? `${shown}, …` : shown;
}

export function fmt(shape: readonly DimValue[] | undefined): string {
  if (!shape) return '[?]';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}
