// What an edit changed in the graph index, so the model worker sends that instead of the whole
// index again (~1.3 MB of JSON for an SD-1.5 U-Net, most of it unchanged after a bypass or rename).
//
// The index is positional (nodes refer to modules and values by index, edges to nodes), so an edit
// in the middle shifts every index after it. Each array is therefore patched as one splice — the
// run between the longest common prefix and suffix (matched by node id, value name, module id) —
// and the kept elements' references are remapped through the splices when the patch is applied;
// a kept element whose content still differs after that (a module's totals, a renamed value's
// shape) is sent whole in `set`. Applying a patch to the index it was made from gives exactly the
// index it was made to (test/index-patch.test.ts compares with a fresh analysis).
import type { DepthStack } from './stacks';
import type { GraphIndex, IndexModule, IndexNode } from './graph-index';

export interface Splice<T> {
  /** first changed position (same in both arrays) */
  at: number;
  /** how many old elements go */
  remove: number;
  /** the new elements in their place */
  insert: T[];
  /** kept elements (new positions) whose content changed beyond the remapping */
  set: [number, T][];
}

export type ValueRow = [name: string, shape: string, elemType: number];

export interface GraphIndexPatch {
  /** the lengths of the index it applies to: applying it to another index is refused */
  base: { modules: number; values: number; nodes: number; edges: number };
  modules: Splice<IndexModule>;
  values: Splice<ValueRow>;
  nodes: Splice<IndexNode>;
  edges: Splice<[number, number, number]>;
  inputs: number[];
  outputs: number[];
  /** absent: unchanged */
  initializers?: number[];
  /** absent: unchanged; null: the new index has none */
  stacks?: DepthStack[] | null;
}

/** The patch that turns index `a` into index `b` (both of the same schema). */
export function diffGraphIndex(a: GraphIndex, b: GraphIndex): GraphIndexPatch {
  const modules = splice(a.modules, b.modules, (m) => m.id, (m, map) => remapModule(m, map.modules));
  const maps: IndexMaps = { modules: indexMap(a.modules.length, b.modules.length, modules), values: undefined!, nodes: undefined! };
  const av = rows(a);
  const bv = rows(b);
  const values = splice(av, bv, (r) => r[0], (r) => r, (x, y) => x[0] === y[0] && x[1] === y[1] && x[2] === y[2]);
  maps.values = indexMap(av.length, bv.length, values);
  const nodes = splice(a.nodes, b.nodes, (n) => n.id, (n) => remapNode(n, maps), sameNode);
  maps.nodes = indexMap(a.nodes.length, b.nodes.length, nodes);
  // edges have no key of their own: they match where they join the same (remapped) nodes and value
  // (a number key where the indices fit 17 bits each, exact in a double: cheaper than a string)
  const small = Math.max(a.nodes.length, b.nodes.length, av.length, bv.length) < 131071;
  const edgeKey = small
    ? (e: [number, number, number]) => ((e[0] + 1) * 131072 + e[1] + 1) * 131072 + e[2] + 1
    : (e: [number, number, number]) => `${e[0]},${e[1]},${e[2]}`;
  const edges = splice(a.edges.map((e) => remapEdge(e, maps)), b.edges, edgeKey, (e) => e, sameArray);
  const patch: GraphIndexPatch = { base: lengths(a), modules, values, nodes, edges, inputs: b.inputs, outputs: b.outputs };
  const init = a.initializers.map((i) => maps.values(i));
  if (!sameJson(init, b.initializers)) patch.initializers = b.initializers;
  if (!sameJson(a.stacks ?? null, b.stacks ?? null)) patch.stacks = b.stacks ?? null;
  return patch;
}

/**
 * The patch back from the index `p` was made to, to `a` (the index it was made from), without
 * comparing the indexes again: an undo sends it without a diff. The removed runs come back from
 * `a`; every kept element the forward patch sent whole is sent back whole, as is every kept node or
 * module of `a` that referred to something the forward patch removed (those references do not
 * survive a round trip through the splice).
 */
export function invertGraphIndexPatch(a: GraphIndex, p: GraphIndexPatch): GraphIndexPatch {
  const newLen = (oldLen: number, s: Splice<unknown>) => oldLen - s.remove + s.insert.length;
  const back = <T>(old: readonly T[], s: Splice<T>, extra: number[] = []): Splice<T> => {
    const n = newLen(old.length, s);
    const oldPos = (j: number) => (j < s.at ? j : j - n + old.length);
    const set = new Map<number, T>();
    for (const [j] of s.set) set.set(oldPos(j), old[oldPos(j)]);
    for (const i of extra) set.set(i, old[i]);
    return { at: s.at, remove: s.insert.length, insert: old.slice(s.at, s.at + s.remove), set: [...set] };
  };
  const gone = (s: Splice<unknown>) => (i: number) => i >= s.at && i < s.at + s.remove;
  const kept = (len: number, s: Splice<unknown>) => {
    const out: number[] = [];
    for (let i = 0; i < len; i++) if (!gone(s)(i)) out.push(i);
    return out;
  };
  const goneValue = gone(p.values);
  const goneModule = gone(p.modules);
  const nodeExtra = kept(a.nodes.length, p.nodes).filter((i) => {
    const n = a.nodes[i];
    return goneModule(n.module) || n.in.some(goneValue) || n.out.some(goneValue);
  });
  const moduleExtra = kept(a.modules.length, p.modules).filter((i) => goneModule(a.modules[i].parent));
  const applied = {
    modules: newLen(a.modules.length, p.modules), values: newLen(a.values.name.length, p.values),
    nodes: newLen(a.nodes.length, p.nodes), edges: newLen(a.edges.length, p.edges),
  };
  const out: GraphIndexPatch = {
    base: applied,
    modules: back(a.modules, p.modules, moduleExtra),
    values: back(rows(a), p.values),
    nodes: back(a.nodes, p.nodes, nodeExtra),
    edges: back(a.edges, p.edges),
    inputs: a.inputs,
    outputs: a.outputs,
    initializers: a.initializers,
  };
  if (p.stacks !== undefined) out.stacks = a.stacks ?? null;
  return out;
}

/** Index `a` with `patch` applied (a new object; `a` is left as it was). */
export function applyGraphIndexPatch(a: GraphIndex, p: GraphIndexPatch): GraphIndex {
  const have = lengths(a);
  if (JSON.stringify(have) !== JSON.stringify(p.base)) throw new Error(`graph index patch: made for an index of ${JSON.stringify(p.base)}, applied to one of ${JSON.stringify(have)}`);
  const maps: IndexMaps = {
    modules: indexMap(a.modules.length, a.modules.length - p.modules.remove + p.modules.insert.length, p.modules),
    values: indexMap(a.values.name.length, a.values.name.length - p.values.remove + p.values.insert.length, p.values),
    nodes: indexMap(a.nodes.length, a.nodes.length - p.nodes.remove + p.nodes.insert.length, p.nodes),
  };
  const modules = applySplice(a.modules, p.modules, (m) => remapModule(m, maps.modules));
  // each value column spliced on its own (rows of three were ~5,000 arrays made and dropped per patch)
  const column = <K extends 0 | 1 | 2>(k: K, col: readonly ValueRow[K][]) =>
    applySplice(col, { ...p.values, insert: p.values.insert.map((r) => r[k]), set: p.values.set.map(([j, r]) => [j, r[k]]) }, same);
  const nodes = applySplice(a.nodes, p.nodes, (n) => remapNode(n, maps));
  const edges = applySplice(a.edges, p.edges, (e) => remapEdge(e, maps));
  const out: GraphIndex = {
    schema: a.schema,
    modules,
    nodes,
    values: { name: column(0, a.values.name), shape: column(1, a.values.shape), elemType: column(2, a.values.elemType) },
    edges,
    inputs: p.inputs,
    outputs: p.outputs,
    initializers: p.initializers ?? a.initializers.map((i) => maps.values(i)),
  };
  const stacks = p.stacks === undefined ? a.stacks : p.stacks ?? undefined;
  if (stacks) out.stacks = stacks;
  return out;
}

/** Old position → new position (-1: removed) for each positional array. */
export interface IndexMaps {
  modules: (i: number) => number;
  values: (i: number) => number;
  nodes: (i: number) => number;
}

export function indexMap(oldLen: number, newLen: number, s: Pick<Splice<unknown>, 'at' | 'remove'>): (i: number) => number {
  const tail = oldLen - s.at - s.remove; // kept elements after the splice
  return (i) => (i < 0 ? i : i < s.at ? i : i >= oldLen - tail ? i - oldLen + newLen : -1);
}

function splice<T>(
  a: readonly T[], b: readonly T[], key: (x: T) => string | number, remap: (x: T, maps: { modules: (i: number) => number }) => T,
  same: (x: T, y: T) => boolean = sameJson,
): Splice<T> {
  const n = Math.min(a.length, b.length);
  let pre = 0;
  while (pre < n && key(a[pre]) === key(b[pre])) pre++;
  let suf = 0;
  while (suf < n - pre && key(a[a.length - 1 - suf]) === key(b[b.length - 1 - suf])) suf++;
  const s: Splice<T> = { at: pre, remove: a.length - pre - suf, insert: b.slice(pre, b.length - suf), set: [] };
  // references inside kept elements follow the same splice (a module's parent is a module index)
  const modules = indexMap(a.length, b.length, s);
  const check = (i: number, j: number) => {
    if (!same(remap(a[i], { modules }), b[j])) s.set.push([j, b[j]]);
  };
  for (let i = 0; i < pre; i++) check(i, i);
  for (let k = 0; k < suf; k++) check(a.length - suf + k, b.length - suf + k);
  return s;
}

const same = <T>(x: T): T => x;

function applySplice<T>(a: readonly T[], s: Splice<T>, remap: (x: T) => T): T[] {
  // one array filled in place (slices, maps and spreads made four copies of every index array)
  const out: T[] = new Array(a.length - s.remove + s.insert.length);
  let j = 0;
  for (let i = 0; i < s.at; i++) out[j++] = remap(a[i]);
  for (const x of s.insert) out[j++] = x;
  for (let i = s.at + s.remove; i < a.length; i++) out[j++] = remap(a[i]);
  for (const [j, x] of s.set) out[j] = x;
  return out;
}

export function lengths(g: GraphIndex): GraphIndexPatch['base'] {
  return { modules: g.modules.length, values: g.values.name.length, nodes: g.nodes.length, edges: g.edges.length };
}

function rows(g: GraphIndex): ValueRow[] {
  return g.values.name.map((n, i) => [n, g.values.shape[i], g.values.elemType[i]]);
}

function remapModule(m: IndexModule, modules: (i: number) => number): IndexModule {
  const parent = modules(m.parent);
  return parent === m.parent ? m : { ...m, parent };
}

export function remapNode(n: IndexNode, maps: IndexMaps): IndexNode {
  const module = maps.modules(n.module);
  // arrays are copied only where an index in them moved (after an edit near the start, most nodes
  // keep their values' positions and only their module's moved)
  const ins = moved(n.in, maps.values);
  const outs = moved(n.out, maps.values);
  if (module === n.module && ins === n.in && outs === n.out) return n;
  return { ...n, module, in: ins, out: outs };
}

function moved(xs: number[], map: (i: number) => number): number[] {
  for (let k = 0; k < xs.length; k++) if (map(xs[k]) !== xs[k]) return xs.map(map);
  return xs;
}

function remapEdge(e: [number, number, number], maps: IndexMaps): [number, number, number] {
  const p = maps.nodes(e[0]);
  const c = maps.nodes(e[1]);
  const v = maps.values(e[2]);
  return p === e[0] && c === e[1] && v === e[2] ? e : [p, c, v];
}

/** Field by field (the diff compares every kept node: JSON for each was most of its time on SD-1.5). */
function sameNode(x: IndexNode, y: IndexNode): boolean {
  if (x === y) return true;
  if (x.id !== y.id || x.op !== y.op || x.module !== y.module || x.domain !== y.domain || x.noise !== y.noise || x.flops !== y.flops || x.macs !== y.macs) return false;
  if (!sameArray(x.in, y.in) || !sameArray(x.out, y.out)) return false;
  if (!x.attrs || !y.attrs) return x.attrs === y.attrs;
  return x.attrs.length === y.attrs.length && x.attrs.every((p, i) => sameJson(p, y.attrs![i]));
}

function sameArray(x: readonly number[], y: readonly number[]): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function sameJson(x: unknown, y: unknown): boolean {
  return x === y || JSON.stringify(x) === JSON.stringify(y);
}
