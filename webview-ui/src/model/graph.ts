// The webview's read-only model of one graph: the module tree (root = '' = the whole model), the
// nodes under it, and the values connecting them. Built once from the host's GraphIndex
// (src/core/graph/graph-index.ts: index-based, compact); every view-level question (what is
// visible, what a search finds, what a candidate covers) reads this name-based form.
//
// Exporter noise (Constant nodes, the Shape→Gather→Unsqueeze→Concat chains torch emits for every
// Reshape) is a third of an exported U-Net's nodes and carries no structure: it is hidden unless
// asked for, and the inspector marks such inputs instead.
import { elemTypeName } from '../../../src/core/onnx/types';
import type { GraphIndex } from '../../../src/protocol/webview';
import type { IndexAttribute } from '../../../src/core/graph/graph-index';
import type { GraphIndexPatch } from '../../../src/core/graph/index-patch';
import { readStacks, type VStack } from './stacks';

/** What a graph is patched from: the graph shown, its index, and the patch from that index. */
interface PatchedFrom {
  prev: ViewGraph;
  prevIndex: GraphIndex;
  patch: GraphIndexPatch;
}

export const ROOT = '';

export interface VModule {
  id: string;
  /** last path segment, e.g. `attentions.0` for `down_blocks.1.attentions.0` */
  name: string;
  parent: string | null;
  depth: number;
  children: string[];
  /** indices of the nodes whose innermost module is this one (hidden nodes excluded) */
  nodes: number[];
  /** operators in the subtree, exporter noise excluded (as the index counts them) */
  ops: number;
  /** nodes in the subtree that the view draws */
  shownCount: number;
  params: number;
  flops: number;
  opCounts: Record<string, number>;
}

export interface VNode {
  index: number;
  id: string;
  op: string;
  domain?: string;
  module: string;
  inputs: string[];
  outputs: string[];
  /** exporter noise (constant folding, shape arithmetic): drawn only on request */
  noise?: 'constant' | 'shape';
  flops?: number | null;
  /** small attributes (kernel_shape, strides, axis…), when the index carries them */
  attrs?: Record<string, unknown>;
}

export type ValueKind = 'input' | 'initializer' | 'activation';

export interface VValue {
  name: string;
  /** dims as the index reports them; undefined when unknown */
  shape?: (number | string)[];
  dtype?: string;
  kind: ValueKind;
  producer: number;
  consumers: number[];
}

/** An edge endpoint: a node index, or a graph input/output pseudo-node `in:NAME` / `out:NAME`. */
export type Endpoint = number | string;

export interface VEdge {
  src: Endpoint;
  dst: Endpoint;
  value: string;
}

/**
 * Shapes read before, by their text: a U-Net has a few hundred distinct shapes over thousands of
 * values, and a graph read again after an edit has the same ones. The arrays are shared between
 * values (and graphs): nothing may change them.
 */
const shapeCache = new Map<string, (number | string)[] | undefined>();
const SHAPE_CACHE_MAX = 20_000;

function shapeOf(text: string): (number | string)[] | undefined {
  let shape = shapeCache.get(text);
  if (shape === undefined && !shapeCache.has(text)) {
    if (shapeCache.size >= SHAPE_CACHE_MAX) shapeCache.clear();
    shape = parseShape(text);
    shapeCache.set(text, shape);
  }
  return shape;
}

/** '[2,4,64,64]' → [2, 4, 64, 64]; '[batch,4,?,?]' keeps the names; '?' → undefined. */
export function parseShape(s: string): (number | string)[] | undefined {
  const m = /^\[(.*)\]$/.exec(s.trim());
  if (!m) return undefined;
  if (!m[1].trim()) return [];
  return m[1].split(',').map((d) => {
    const t = d.trim();
    return /^-?\d+$/.test(t) ? Number(t) : t;
  });
}

export interface ViewOptions {
  /** draw exporter noise (Constant nodes, Shape/Gather/Concat chains) too; default false */
  showNoise?: boolean;
}

export class ViewGraph {
  readonly modules = new Map<string, VModule>();
  readonly nodes: VNode[];
  readonly nodeIndex: Map<string, number>;
  readonly values: Map<string, VValue>;
  /** the values by their position in the index (a patched graph reuses entries by position) */
  readonly valueList: readonly VValue[];
  readonly edges: VEdge[] = [];
  readonly inputs: string[];
  readonly outputs: string[];
  /** 1 for nodes the view folds away */
  readonly hidden: Uint8Array;
  /** depth stacks (runs of identical blocks), drawn compactly until opened */
  readonly stacks: VStack[];
  readonly stackById = new Map<string, VStack>();
  /** the stack each member module belongs to */
  readonly stackOfMember = new Map<string, VStack>();
  /** whether exporter noise is drawn (a graph patched from this one must draw it the same way) */
  readonly showNoise: boolean;

  /**
   * The view model of `next`, the index `patch` made from `prevIndex` (the index `prev` was built
   * from): equal to `new ViewGraph(next)`, with the entries the patch did not touch taken from `prev`
   * (shared, read-only: `prev` is left as it was).
   */
  static patched(prev: ViewGraph, prevIndex: GraphIndex, patch: GraphIndexPatch, next: GraphIndex, options: ViewOptions = {}): ViewGraph {
    return new ViewGraph(next, options, { prev, prevIndex, patch });
  }

  constructor(index: GraphIndex, options: ViewOptions = {}, from?: PatchedFrom) {
    const cols = index?.values;
    if (!index || !Array.isArray(index.modules) || !Array.isArray(index.nodes) || !cols || !Array.isArray(cols.name)) {
      throw new Error('the graph index is malformed (modules and nodes must be arrays, values columns)');
    }
    const moduleIds = index.modules.map((m) => m.id);
    for (const m of index.modules) {
      this.modules.set(m.id, {
        id: m.id,
        name: m.id === ROOT ? 'model' : m.name || lastSegment(m.id),
        parent: m.parent < 0 ? (m.id === ROOT ? null : ROOT) : moduleIds[m.parent] ?? ROOT,
        depth: 0,
        children: [],
        nodes: [],
        ops: m.ops,
        shownCount: 0,
        params: m.params,
        flops: m.flops,
        opCounts: m.opCounts ?? {},
      });
    }
    if (!this.modules.has(ROOT)) {
      this.modules.set(ROOT, { id: ROOT, name: 'model', parent: null, depth: 0, children: [], nodes: [], ops: 0, shownCount: 0, params: 0, flops: 0, opCounts: {} });
    }
    for (const m of this.modules.values()) {
      if (m.id === ROOT) continue;
      if (!this.modules.has(m.parent!) || m.parent === m.id) m.parent = ROOT;
      this.modules.get(m.parent!)!.children.push(m.id);
    }
    const setDepth = (m: VModule, d: number) => {
      m.depth = d;
      for (const c of m.children) setDepth(this.modules.get(c)!, d + 1);
    };
    setDepth(this.modules.get(ROOT)!, 0);

    const inputIdx = new Set(index.inputs);
    const initIdx = new Set(index.initializers ?? []);
    const names = cols.name;
    const valueName = (i: number) => (i >= 0 && i < names.length ? names[i] : '');
    // the graph shown before this edit and the patch from its index to this one: every node and value
    // entry the patch left as it was (same content, same position, same producer and consumers) is
    // taken from it instead of being built again (an edit redraws within a frame budget; rebuilding
    // all ~4,400 nodes and ~5,000 values of an SD-1.5 U-Net was most of the view model's time)
    const base = from && (from.prev.showNoise === !!options.showNoise) ? from : undefined;
    this.showNoise = !!options.showNoise;
    const oldPos = (s: GraphIndexPatch['nodes'] | GraphIndexPatch['values'], oldLen: number, newLen: number) => {
      const tailFrom = s.at + s.insert.length;
      return (j: number) => (j < s.at ? j : j >= tailFrom ? j - newLen + oldLen : -1);
    };

    // nodes: an entry is reused where its index entry is the very object the patch kept at the same
    // position (applyGraphIndexPatch keeps a node object whose references did not move), so its module,
    // value names and attributes are those of the entry shown
    // values sent in `set` under another name (a rename is sent in place): a node reading one is built again
    const valueOld = base ? oldPos(base.patch.values, base.prevIndex.values.name.length, names.length) : undefined;
    const renamed = new Set<number>();
    for (const [j] of base?.patch.values.set ?? []) {
      const o = valueOld!(j);
      if (o < 0 || base!.prevIndex.values.name[o] !== names[j]) renamed.add(j);
    }
    // `now` (positions in this index) names the same values as `was` (positions in the one shown): each
    // one is the kept entry of the other and was not renamed in place
    const sameValues = (now: readonly number[], was: readonly number[]) => {
      if (now.length !== was.length) return false;
      for (let k = 0; k < now.length; k++) if (valueOld!(now[k]) !== was[k] || renamed.has(now[k])) return false;
      return true;
    };
    const prevNodes = base?.prev.nodes;
    const nodeOld = base ? oldPos(base.patch.nodes, base.prevIndex.nodes.length, index.nodes.length) : undefined;
    this.nodes = index.nodes.map((n, i) => {
      const o = nodeOld ? nodeOld(i) : -1;
      const was = o >= 0 ? base!.prevIndex.nodes[o] : undefined;
      const sameIns = !!was && sameValues(n.in, was.in);
      const sameOuts = !!was && sameValues(n.out, was.out);
      if (was === n && o === i && sameIns && sameOuts) return prevNodes![o];
      // optional fields assigned only when present (object spreads here cost a third of the whole
      // constructor, which runs again on every edit)
      const shown = was ? prevNodes![o] : undefined;
      const v: VNode = {
        index: i, id: n.id, op: n.op, module: moduleIds[n.module] ?? ROOT,
        inputs: shown && sameIns ? shown.inputs : n.in.map(valueName),
        outputs: shown && sameOuts ? shown.outputs : n.out.map(valueName),
      };
      if (n.domain) v.domain = n.domain;
      if (n.noise) v.noise = n.noise;
      if (n.flops !== undefined) v.flops = n.flops;
      if (n.attrs) v.attrs = shown && was!.attrs === n.attrs && shown.attrs ? shown.attrs : attrValues(n.attrs);
      return v;
    });
    this.hidden = new Uint8Array(this.nodes.length);
    for (const n of this.nodes) {
      if (n.noise && !options.showNoise) this.hidden[n.index] = 1;
      else this.modules.get(n.module)!.nodes.push(n.index);
    }
    // built again rather than copied from the graph shown: `new Map(map)` walks entry pairs, slower
    // than setting ~4,400 ids one by one
    this.nodeIndex = new Map();
    for (const n of this.nodes) this.nodeIndex.set(n.id, n.index);

    // producers and consumers as numbers first (a consumer list per value, in node order), so a value
    // whose lists did not change is reused without building them
    const nv = names.length;
    const producer = new Int32Array(nv).fill(-1);
    const start = new Int32Array(nv + 1);
    // a value used twice by one node is one consumer (inputs are a handful: no Set per node)
    const eachConsumed = (fn: (x: number, node: number) => void) =>
      index.nodes.forEach((n, i) => n.in.forEach((x, k) => {
        if (x >= 0 && x < nv && n.in.indexOf(x) === k) fn(x, i);
      }));
    eachConsumed((x) => start[x + 1]++);
    for (let x = 0; x < nv; x++) start[x + 1] += start[x];
    const consumed = new Int32Array(start[nv]);
    const fill = start.slice(0, nv);
    eachConsumed((x, i) => (consumed[fill[x]++] = i));
    index.nodes.forEach((n, i) => {
      for (const x of n.out) if (x >= 0 && x < nv) producer[x] = i;
    });

    const valueSet = new Set(base?.patch.values.set.map(([j]) => j));
    const values: VValue[] = new Array(nv);
    for (let i = 0; i < nv; i++) {
      const kind: ValueKind = inputIdx.has(i) ? 'input' : initIdx.has(i) ? 'initializer' : 'activation';
      const o = valueOld ? valueOld(i) : -1;
      // a kept value outside the patch's `set` has the same name, shape and type as the one shown
      const shown = o >= 0 && !valueSet.has(i) ? base!.prev.valueList[o] : undefined;
      if (shown && shown.kind === kind && shown.producer === producer[i] && sameConsumers(shown.consumers, consumed, start[i], start[i + 1])) {
        values[i] = shown;
        continue;
      }
      const consumers: number[] = [];
      for (let k = start[i]; k < start[i + 1]; k++) consumers.push(consumed[k]);
      values[i] = shown
        ? { name: shown.name, shape: shown.shape, dtype: shown.dtype, kind, producer: producer[i], consumers }
        : { name: names[i], shape: shapeOf(cols.shape[i] ?? '?'), dtype: cols.elemType[i] ? elemTypeName(cols.elemType[i]) : undefined, kind, producer: producer[i], consumers };
    }
    this.valueList = values;
    this.values = new Map();
    for (const v of values) this.values.set(v.name, v);
    const count = (m: VModule): number => {
      let c = m.nodes.length;
      for (const ch of m.children) c += count(this.modules.get(ch)!);
      m.shownCount = c;
      return c;
    };
    count(this.modules.get(ROOT)!);

    this.stacks = readStacks(index, (id) => this.modules.get(id)?.parent).filter((st) => st.members.every((m) => this.modules.get(m)!.shownCount > 0));
    for (const st of this.stacks) {
      this.stackById.set(st.id, st);
      for (const m of st.members) this.stackOfMember.set(m, st);
    }

    this.inputs = index.inputs.map(valueName).filter(Boolean);
    this.outputs = index.outputs.map(valueName).filter(Boolean);
    for (const [p, c, v] of index.edges) {
      if (this.hidden[p] || this.hidden[c]) continue;
      this.edges.push({ src: p, dst: c, value: valueName(v) });
    }
    for (const name of this.inputs) {
      const v = this.values.get(name)!;
      for (const c of v.consumers) if (!this.hidden[c]) this.edges.push({ src: `in:${name}`, dst: c, value: name });
    }
    const inputSet = new Set(this.inputs);
    for (const name of this.outputs) {
      const v = this.values.get(name)!;
      if (v.producer >= 0 && !this.hidden[v.producer]) this.edges.push({ src: v.producer, dst: `out:${name}`, value: name });
      else if (inputSet.has(name)) this.edges.push({ src: `in:${name}`, dst: `out:${name}`, value: name });
    }
  }

  get root(): VModule {
    return this.modules.get(ROOT)!;
  }

  module(id: string): VModule | undefined {
    return this.modules.get(id);
  }

  /** Module ids from the top level down to `id` itself, root excluded. */
  moduleChain(id: string): string[] {
    const chain: string[] = [];
    let m = this.modules.get(id);
    while (m && m.id !== ROOT) {
      chain.push(m.id);
      m = this.modules.get(m.parent!);
    }
    return chain.reverse();
  }

  /** true when `ancestor` strictly contains module `id` */
  contains(ancestor: string, id: string): boolean {
    if (ancestor === id) return false;
    if (ancestor === ROOT) return this.modules.has(id);
    let m = this.modules.get(id);
    while (m && m.parent !== null) {
      if (m.parent === ancestor) return true;
      m = this.modules.get(m.parent);
    }
    return false;
  }

  /** A module that draws as a single operator (a layer like `conv1` holding one Conv). */
  singleNodeOf(id: string): number | undefined {
    const m = this.modules.get(id);
    if (!m || m.shownCount !== 1) return undefined;
    let cur = m;
    for (;;) {
      if (cur.nodes.length === 1) return cur.nodes[0];
      const next = cur.children.map((c) => this.modules.get(c)!).find((c) => c.shownCount === 1);
      if (!next) return undefined;
      cur = next;
    }
  }

  /** Whether expanding the module would show more than the module itself does. */
  expandable(id: string): boolean {
    const m = this.modules.get(id);
    return !!m && m.shownCount > 1;
  }

  /** Initializer inputs of a node: the weights the inspector offers statistics for. */
  weightsOf(node: number): VValue[] {
    const out: VValue[] = [];
    for (const i of this.nodes[node].inputs) {
      const v = i ? this.values.get(i) : undefined;
      if (v && v.kind === 'initializer') out.push(v);
    }
    return out;
  }
}

function sameConsumers(xs: readonly number[], flat: Int32Array, from: number, to: number): boolean {
  if (xs.length !== to - from) return false;
  for (let k = 0; k < xs.length; k++) if (xs[k] !== flat[from + k]) return false;
  return true;
}

function lastSegment(id: string): string {
  // module paths end in `name.index` for list members: keep the pair (`resnets.0`)
  const parts = id.split('.');
  if (parts.length >= 2 && /^\d+$/.test(parts[parts.length - 1])) return parts.slice(-2).join('.');
  return parts[parts.length - 1];
}

/** Attribute name → what the inspector shows: numbers, lists, text; a tensor as its type and dims (never values). */
export function attrValues(attrs: readonly IndexAttribute[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of attrs) {
    if (a.type === 'tensor') out[a.name] = `tensor ${elemTypeName(a.elemType)}[${a.dims.join(',')}]`;
    else if (a.type === 'graph') out[a.name] = `graph (${a.nodes} nodes)`;
    else if (a.type === 'other') out[a.name] = '…';
    else out[a.name] = a.value;
  }
  return out;
}
