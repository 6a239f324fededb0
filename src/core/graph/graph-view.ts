// An index over one ONNX Graph in the onnx-graphsurgeon vocabulary: values (graph inputs,
// initializers = constants, node outputs) with their producer and consumers, topological order,
// and cleanup. The Graph itself stays the source of truth: edit it with plain mutations
// (node.inputs[i] = 'x', graph.nodes.push(...)) and call reindex().
//
// Subgraph scopes: an If/Loop/Scan body may read values of the enclosing graph without declaring
// them. Those names are the node's *implicit inputs*: they count as uses (the node is one of their
// consumers), so toposort orders the node after their producers and cleanup keeps them alive.
import type { Graph, Node, TensorData, ValueInfo } from '../onnx/types';

export type ValueKind = 'input' | 'initializer' | 'node-output' | 'outer' | 'missing';

export interface CleanupOptions {
  /** also drop graph inputs nothing reads (default false: a model's signature is kept) */
  removeUnusedInputs?: boolean;
  /** also clean the bodies of If/Loop/Scan nodes (default true) */
  recurse?: boolean;
}

export interface CleanupResult {
  removedNodes: number;
  removedInitializers: number;
  removedValueInfo: number;
  removedInputs: number;
}

export class GraphView {
  private producers = new Map<string, Node>();
  private consumerMap = new Map<string, Node[]>();
  private inits = new Map<string, TensorData>();
  private inputSet = new Set<string>();
  private outputSet = new Set<string>();
  private implicit = new Map<Node, string[]>();
  private ids: { ids: Map<Node, string>; byId: Map<string, Node> } | undefined;
  private indexed: readonly Node[] = [];
  private order: Node[] | undefined;
  /** whether graph.nodes was already in topological order (known once topoOrder ran) */
  private sorted: boolean | undefined;

  /** @param outer names visible from an enclosing graph (for views over subgraph bodies) */
  constructor(readonly graph: Graph, readonly outer: ReadonlySet<string> = new Set()) {
    this.reindex();
  }

  get nodes(): readonly Node[] {
    return this.graph.nodes;
  }

  /** Rebuilds every index from the Graph; call after editing it. */
  reindex(): this {
    const g = this.graph;
    this.producers.clear();
    this.consumerMap.clear();
    this.inits.clear();
    this.implicit.clear();
    this.ids = undefined;
    this.indexed = g.nodes;
    this.order = undefined;
    this.sorted = undefined;
    this.inputSet = new Set(g.inputs.map((v) => v.name));
    this.outputSet = new Set(g.outputs.map((v) => v.name));
    for (const t of g.initializers) this.inits.set(t.name, t);
    // plain loops: an edit of an SD-scale graph reindexes several views, and this is most of their cost
    const consumers = this.consumerMap;
    const add = (name: string, n: Node) => {
      let list = consumers.get(name);
      if (!list) consumers.set(name, (list = []));
      if (list[list.length - 1] !== n) list.push(n);
    };
    for (const n of g.nodes) {
      for (const o of n.outputs) if (o) this.producers.set(o, n);
      for (const name of n.inputs) if (name) add(name, n);
      if (hasSubgraphs(n)) for (const name of this.implicitInputs(n)) add(name, n);
    }
    return this;
  }

  /** Node ids, built on first use: most views (an edit's intermediate ones) never ask for one. */
  private idMaps(): { ids: Map<Node, string>; byId: Map<string, Node> } {
    if (this.ids) return this.ids;
    const ids = new Map<Node, string>();
    const byId = new Map<string, Node>();
    const nameCount = new Map<string, number>();
    const nodes = this.indexed; // the nodes as of the last reindex, as if ids were built then
    for (const n of nodes) if (n.name) nameCount.set(n.name, (nameCount.get(n.name) ?? 0) + 1);
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      const id = n.name && nameCount.get(n.name) === 1 ? n.name : `#${i}:${n.opType}`;
      ids.set(n, id);
      byId.set(id, n);
    }
    this.ids = { ids, byId };
    return this.ids;
  }

  /** The node that writes `value`, if any (graph inputs and initializers have none). */
  producer(value: string): Node | undefined {
    return this.producers.get(value);
  }

  /** Nodes reading `value`, explicitly or from a subgraph body, in graph order, each once. */
  consumers(value: string): readonly Node[] {
    return this.consumerMap.get(value) ?? [];
  }

  initializer(name: string): TensorData | undefined {
    return this.inits.get(name);
  }

  isGraphInput(name: string): boolean {
    return this.inputSet.has(name);
  }

  isGraphOutput(name: string): boolean {
    return this.outputSet.has(name);
  }

  /**
   * The graph inputs a caller feeds: those without an initializer. (Before IR 4 every weight was
   * also listed as a graph input, with its initializer as the default; those are weights here.)
   */
  dataInputs(): ValueInfo[] {
    return this.graph.inputs.filter((v) => !this.inits.has(v.name));
  }

  /** 'initializer' also for an initializer listed as a graph input (pre-IR-4 style) */
  kind(value: string): ValueKind {
    if (this.inputSet.has(value) && !this.inits.has(value)) return 'input';
    if (this.inits.has(value)) return 'initializer';
    if (this.producers.has(value)) return 'node-output';
    if (this.outer.has(value)) return 'outer';
    return 'missing';
  }

  /**
   * A stable id for a node: its name when that is non-empty and unique in the graph, otherwise
   * `#<index>:<opType>` (which changes when nodes are inserted before it).
   */
  nodeId(node: Node): string {
    const id = this.idMaps().ids.get(node);
    if (id === undefined) throw new Error(`node ${node.name || node.opType} is not in graph ${this.graph.name}`);
    return id;
  }

  nodeById(id: string): Node | undefined {
    return this.idMaps().byId.get(id);
  }

  /** Outer-scope names read by the node's subgraph bodies. */
  implicitInputs(node: Node): readonly string[] {
    if (!hasSubgraphs(node)) return NONE;
    let names = this.implicit.get(node);
    if (!names) {
      names = [];
      for (const sub of subgraphsOf(node)) for (const name of freeNames(sub)) if (!names.includes(name)) names.push(name);
      this.implicit.set(node, names);
    }
    return names;
  }

  /** Every value a node reads: its non-empty explicit inputs, then its implicit ones. */
  allInputs(node: Node, unique = false): string[] {
    const names: string[] = [];
    for (const x of node.inputs) if (x !== '' && !(unique && names.includes(x))) names.push(x);
    for (const x of this.implicitInputs(node)) if (!(unique && names.includes(x))) names.push(x);
    return names;
  }

  /**
   * The nodes in an order where every value is produced before it is read, as close to the
   * current order as that allows (cached until reindex). Throws when the graph has a cycle.
   */
  topoOrder(): readonly Node[] {
    this.order ??= this.computeTopoOrder();
    return this.order;
  }

  private computeTopoOrder(): Node[] {
    const nodes = this.graph.nodes;
    this.sorted = this.isSorted();
    if (this.sorted) return [...nodes]; // exports are almost always sorted already
    const index = new Map<Node, number>();
    nodes.forEach((n, i) => index.set(n, i));
    const pending = new Map<Node, number>();
    for (const n of nodes) {
      let deps = 0;
      for (const name of this.allInputs(n, true)) {
        const p = this.producers.get(name);
        if (p && p !== n) deps++;
      }
      pending.set(n, deps);
    }
    const ready = new MinHeap();
    for (const n of nodes) if (pending.get(n) === 0) ready.push(index.get(n)!);
    const order: Node[] = [];
    while (ready.size) {
      const n = nodes[ready.pop()];
      order.push(n);
      for (const o of n.outputs) {
        if (!o) continue;
        for (const c of this.consumers(o)) {
          if (c === n) continue;
          // pending counts distinct input names, and each (output, consumer) pair is visited once
          const left = pending.get(c)! - 1;
          pending.set(c, left);
          if (left === 0) ready.push(index.get(c)!);
        }
      }
    }
    if (order.length !== nodes.length) {
      const stuck = nodes.find((n) => (pending.get(n) ?? 0) > 0);
      throw new Error(`graph '${this.graph.name}' has a cycle (through node '${stuck?.name || stuck?.opType}')`);
    }
    return order;
  }

  private isSorted(): boolean {
    const seen = new Set<Node>();
    for (const n of this.graph.nodes) {
      for (const x of n.inputs) {
        const p = x ? this.producers.get(x) : undefined;
        if (p && p !== n && !seen.has(p)) return false;
      }
      for (const x of this.implicitInputs(n)) {
        const p = this.producers.get(x);
        if (p && p !== n && !seen.has(p)) return false;
      }
      seen.add(n);
    }
    return true;
  }

  /** Reorders graph.nodes (and subgraph bodies) topologically, then reindexes. */
  toposort(): this {
    let bodies = false;
    for (const n of this.graph.nodes) {
      for (const sub of subgraphsOf(n)) {
        new GraphView(sub).toposort();
        bodies = true;
      }
    }
    const order = this.topoOrder();
    // already sorted, and no body reordered (which can reorder implicit inputs): the indexes still hold
    if (this.sorted && !bodies) return this;
    this.graph.nodes = [...order];
    return this.reindex();
  }

  /**
   * Removes nodes whose outputs nothing needs, then initializers and value_info nothing refers to
   * (graph outputs are always kept). Reindexes.
   */
  cleanup(options: CleanupOptions = {}): CleanupResult {
    const g = this.graph;
    const result: CleanupResult = { removedNodes: 0, removedInitializers: 0, removedValueInfo: 0, removedInputs: 0 };
    if (options.recurse !== false) {
      let bodies = false;
      for (const n of g.nodes) {
        for (const sub of subgraphsOf(n)) {
          const r = new GraphView(sub).cleanup({ ...options, removeUnusedInputs: false });
          result.removedNodes += r.removedNodes;
          result.removedInitializers += r.removedInitializers;
          result.removedValueInfo += r.removedValueInfo;
          bodies = true;
        }
      }
      if (bodies) this.reindex(); // a cleaned body may read fewer outer values
    }
    const live = new Set<string>();
    const liveNodes = new Set<Node>();
    const stack = g.outputs.map((v) => v.name);
    while (stack.length) {
      const name = stack.pop()!;
      if (live.has(name)) continue;
      live.add(name);
      const p = this.producers.get(name);
      if (p && !liveNodes.has(p)) {
        liveNodes.add(p);
        for (const x of this.allInputs(p)) stack.push(x);
      }
    }
    const before = g.nodes.length;
    g.nodes = g.nodes.filter((n) => liveNodes.has(n));
    result.removedNodes += before - g.nodes.length;

    if (options.removeUnusedInputs) {
      const n = g.inputs.length;
      g.inputs = g.inputs.filter((v) => live.has(v.name) || this.outputSet.has(v.name));
      result.removedInputs = n - g.inputs.length;
    }
    const inputs = new Set(g.inputs.map((v) => v.name));
    const nInit = g.initializers.length;
    g.initializers = g.initializers.filter((t) => live.has(t.name) || inputs.has(t.name));
    g.sparseInitializers = g.sparseInitializers.filter((s) => live.has(s.values.name) || inputs.has(s.values.name));
    result.removedInitializers += nInit - g.initializers.length;
    const nVi = g.valueInfo.length;
    g.valueInfo = g.valueInfo.filter((v) => live.has(v.name));
    result.removedValueInfo += nVi - g.valueInfo.length;
    // value_info is not indexed: only removed nodes, initializers or inputs make the indexes stale
    if (g.nodes.length !== before || g.initializers.length !== nInit || result.removedInputs) this.reindex();
    return result;
  }

  /**
   * Points every reader of `from` (node inputs, and subgraph bodies that read it from this scope)
   * at `to` instead. Graph outputs are not renamed, so a model's signature never changes here: to
   * bypass a node writing a graph output, rename the new producer's output instead. The producer
   * of `from` is left as is: cleanup() drops it once unused. Reindexes.
   */
  replaceUses(from: string, to: string): this {
    for (const n of this.graph.nodes) {
      n.inputs = n.inputs.map((x) => (x === from ? to : x));
      for (const sub of subgraphsOf(n)) renameFree(sub, from, to);
    }
    return this.reindex();
  }
}

const NONE: readonly string[] = [];

function hasSubgraphs(node: Node): boolean {
  for (const a of node.attributes) if (a.g || a.graphs) return true;
  return false;
}

/** The graphs held in a node's attributes (If branches, Loop/Scan bodies). */
export function subgraphsOf(node: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of node.attributes) {
    if (a.g) out.push(a.g);
    if (a.graphs) out.push(...a.graphs);
  }
  return out;
}

/** Names a graph reads that it does not define itself (its implicit inputs from outer scopes). */
export function freeNames(g: Graph): string[] {
  const defined = new Set<string>();
  for (const v of g.inputs) defined.add(v.name);
  for (const t of g.initializers) defined.add(t.name);
  for (const s of g.sparseInitializers) defined.add(s.values.name);
  for (const n of g.nodes) for (const o of n.outputs) if (o) defined.add(o);
  const free: string[] = [];
  const seen = new Set<string>();
  const use = (name: string) => {
    if (name && !defined.has(name) && !seen.has(name)) {
      seen.add(name);
      free.push(name);
    }
  };
  for (const n of g.nodes) {
    for (const x of n.inputs) use(x);
    for (const sub of subgraphsOf(n)) for (const x of freeNames(sub)) use(x);
  }
  for (const o of g.outputs) use(o.name);
  return free;
}

function renameFree(g: Graph, from: string, to: string): void {
  const shadowed =
    g.inputs.some((v) => v.name === from) ||
    g.initializers.some((t) => t.name === from) ||
    g.nodes.some((n) => n.outputs.includes(from));
  if (shadowed) return;
  for (const n of g.nodes) {
    n.inputs = n.inputs.map((x) => (x === from ? to : x));
    for (const sub of subgraphsOf(n)) renameFree(sub, from, to);
  }
  for (const o of g.outputs) if (o.name === from) o.name = to;
}

/** Indices popped smallest first: toposort keeps the original order wherever it is free to. */
class MinHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= v) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r] < a[l] ? r : l;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
