// Modules of a graph that carries no exporter scopes (ONNX model zoo CNNs, tf2onnx, older
// exporters), derived from its structure. A block is a single-entry/single-exit region of the data
// flow: its nodes are strictly dominated by one entry node and post-dominated by one exit node (a
// merge: the Add of a residual block, the Concat of an inception block), and nothing else leaks in or
// out. Regions nest (a block inside a branch of a bigger block). The top level reads in graph order:
// regions and the plain chains between them become `block.j`, grouped into `stage.i` where the
// resolution changes; inside a block, each path from its entry to its exit is a `branch.k`.
// Nodes computed only from side inputs (a timestep embedding) are `side.k`, one per input.
// Dominators are computed with the simple "intersect the predecessors in topological order"
// method: on a DAG it is exact and linear enough, so no general (Lengauer–Tarjan) algorithm is needed.
import type { Node } from '../onnx/types';
import type { GraphView } from './graph-view';
import type { NoiseKind } from './noise';
import type { DimValue, ShapeMap } from './shapes';

interface Region {
  /** null: the region starts at the graph's main input */
  entry: Node | null;
  exit: Node;
  nodes: Set<Node>;
  children: Region[];
}

interface Unit {
  nodes: Node[];
  region?: Region;
  last: Node;
  /** a run of nodes outside any region */
  chain: boolean;
  closed: boolean;
}

const LAYOUT_OPS = new Set(['Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity', 'Cast']);

/** Deepest nesting of blocks and branches (ids stay readable). */
const MAX_DEPTH = 8;

class DomTree {
  readonly parent = new Map<Node, Node | null>();
  private readonly depth = new Map<Node | null, number>([[null, 0]]);
  private pre = new Map<Node | null, number>();
  private post = new Map<Node | null, number>();

  /** `order`: every node after the nodes `preds` returns for it. */
  /** `preds` may list null, the virtual source (a node reading the graph input). */
  constructor(order: readonly Node[], preds: (n: Node) => readonly (Node | null)[]) {
    const up = (x: Node | null) => (x === null ? null : this.parent.get(x)!);
    const lca = (p: Node | null, q: Node | null): Node | null => {
      while (p !== q) {
        if (this.depth.get(p)! >= this.depth.get(q)!) p = up(p);
        else q = up(q);
      }
      return p;
    };
    for (const n of order) {
      const ps = preds(n);
      let d: Node | null = ps.length ? ps[0] : null;
      for (let i = 1; i < ps.length && d !== null; i++) d = lca(d, ps[i]);
      this.parent.set(n, d);
      this.depth.set(n, this.depth.get(d)! + 1);
    }
    // pre/post numbers make "a dominates b" a constant-time check
    const kids = new Map<Node | null, Node[]>();
    for (const n of order) {
      const p = this.parent.get(n)!;
      const list = kids.get(p);
      if (list) list.push(n);
      else kids.set(p, [n]);
    }
    let clock = 0;
    const stack: [Node | null, number][] = [[null, 0]];
    this.pre.set(null, clock++);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const list = kids.get(top[0]) ?? [];
      if (top[1] < list.length) {
        const c = list[top[1]++];
        this.pre.set(c, clock++);
        stack.push([c, 0]);
      } else {
        this.post.set(top[0], clock++);
        stack.pop();
      }
    }
  }

  /** a dominates b (a === b included); null is the virtual source, which dominates everything */
  dominates(a: Node | null, b: Node): boolean {
    return this.pre.get(a)! <= this.pre.get(b)! && this.post.get(b)! <= this.post.get(a)!;
  }
}

function spatial(shape: readonly DimValue[] | undefined): string | undefined {
  if (!shape) return undefined;
  return shape.length >= 3 ? `${shape.length}:${shape.slice(2).join(',')}` : `${shape.length}`;
}

/**
 * The module chain (outermost first, as dot-joined ids) of every compute node; nodes it leaves out
 * (noise, nodes fed by nothing) are placed by the caller.
 */
export function structuralScopes(view: GraphView, noise: ReadonlyMap<Node, NoiseKind>, shapes?: ShapeMap): Map<Node, string[]> {
  const order = view.topoOrder().filter((n) => !noise.has(n));
  const pos = new Map<Node, number>();
  order.forEach((n, i) => pos.set(n, i));
  const preds = new Map<Node, Node[]>();
  const succs = new Map<Node, Node[]>();
  for (const n of order) succs.set(n, []);
  for (const n of order) {
    const ps: Node[] = [];
    for (const x of view.allInputs(n, true)) {
      const p = view.producer(x);
      if (p && p !== n && pos.has(p) && !ps.includes(p)) ps.push(p);
    }
    preds.set(n, ps);
    for (const p of ps) succs.get(p)!.push(n);
  }
  /** Compute nodes computed from `start` (included). */
  const reach = (start: Iterable<Node>): Set<Node> => {
    const seen = new Set<Node>();
    const stack = [...start].filter((n) => pos.has(n));
    while (stack.length) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      for (const s of succs.get(n)!) stack.push(s);
    }
    return seen;
  };

  // the main input is the highest-rank one (the image or latent, not the timestep or a mask), then
  // the one most of the graph is computed from; the others are side inputs
  const inputs = view.dataInputs();
  const fromInput = inputs.map((v) => reach(view.consumers(v.name)));
  const rank = (i: number) => (inputs[i].type?.kind === 'tensor' ? inputs[i].type.shape?.length ?? 0 : 0);
  let best = -1;
  fromInput.forEach((r, i) => {
    if (r.size && (best < 0 || rank(i) > rank(best) || (rank(i) === rank(best) && r.size > fromInput[best].size))) best = i;
  });
  let main = best >= 0 ? fromInput[best] : new Set<Node>();
  if (!main.size) main = new Set(order);
  const chains = new Map<Node, string[]>();
  let side = 0;
  const placed = new Set(main);
  for (const r of fromInput) {
    const own = [...r].filter((n) => !placed.has(n));
    if (!own.length) continue;
    const id = `side.${side++}`;
    for (const n of own) {
      chains.set(n, [id]);
      placed.add(n);
    }
  }

  const M = order.filter((n) => main.has(n));
  const mainPreds = new Map<Node, Node[]>();
  const mainSuccs = new Map<Node, Node[]>();
  for (const n of M) {
    mainPreds.set(n, preds.get(n)!.filter((p) => main.has(p)));
    mainSuccs.set(n, succs.get(n)!.filter((x) => main.has(x)));
  }
  const mPreds = (n: Node) => mainPreds.get(n)!;
  const mSuccs = (n: Node) => mainSuccs.get(n)!;
  // a node reading the main input directly has the virtual source as one more predecessor (the
  // first residual block of a graph whose input feeds both its branch and its Add)
  const mainInput = best >= 0 ? inputs[best].name : undefined;
  const readsInput = (n: Node) => mainInput !== undefined && n.inputs.includes(mainInput);
  const dom = new DomTree(M, (n) => (readsInput(n) && mPreds(n).length ? [null, ...mPreds(n)] : mPreds(n)));
  const isExit = (n: Node) => n.outputs.some((o) => o && view.isGraphOutput(o)) || !mSuccs(n).length;
  const pdom = new DomTree([...M].reverse(), (n) => (isExit(n) ? [] : mSuccs(n)));

  const roots = nest(findRegions(M, mPreds, mSuccs, readsInput, dom, pdom));

  const shapeOf = (v: string) => shapes?.get(v)?.shape;
  const outShape = (n: Node) => (n.outputs[0] ? shapeOf(n.outputs[0]) : undefined);
  const inShape = (n: Node) => {
    const x = n.inputs.find((i) => i && main.has(view.producer(i)!)) ?? n.inputs.find((i) => i && view.kind(i) === 'input');
    return x ? shapeOf(x) : undefined;
  };
  // a layout op (the Reshape around a GroupNorm, a Flatten before the classifier) ends no block
  const changesResolution = (n: Node) => {
    if (LAYOUT_OPS.has(n.opType)) return false;
    const a = spatial(inShape(n));
    const b = spatial(outShape(n));
    return a !== undefined && b !== undefined && a !== b;
  };

  /** Same shape in and out, no weights: an activation (not a layer of its own, like a 1×1 conv). */
  const isActivation = (n: Node) => {
    const a = inShape(n);
    const b = outShape(n);
    if (!a || !b || a.length !== b.length || a.some((d, i) => d !== b[i])) return false;
    return !n.inputs.some((x) => x && view.initializer(x));
  };

  /** Regions and free nodes of one level, in graph order, grouped into units. */
  const group = (nodes: readonly Node[], regionsHere: readonly Region[]): Unit[] => {
    const inRegion = new Set<Node>();
    for (const r of regionsHere) for (const n of r.nodes) inRegion.add(n);
    const items: (Node | Region)[] = [...regionsHere, ...nodes.filter((n) => !inRegion.has(n))];
    const at = (it: Node | Region) => pos.get('children' in it ? it.exit : it)!;
    items.sort((p, q) => at(p) - at(q));
    const units: Unit[] = [];
    for (const it of items) {
      const cur = units[units.length - 1];
      if ('children' in it) {
        units.push({ nodes: [...it.nodes].sort((p, q) => pos.get(p)! - pos.get(q)!), region: it, last: it.exit, chain: false, closed: false });
        continue;
      }
      const n = it;
      const follows = cur && mPreds(n).length === 1 && mPreds(n)[0] === cur.last;
      if (cur && !cur.chain && follows && isActivation(n)) {
        // the activation after a residual Add belongs to its block
        cur.nodes.push(n);
        cur.last = n;
        continue;
      }
      if (cur && cur.chain && !cur.closed) {
        cur.nodes.push(n);
        cur.last = n;
        if (changesResolution(n)) cur.closed = true;
        continue;
      }
      units.push({ nodes: [n], last: n, chain: true, closed: false });
    }
    // a lone trailing op (the classifier after the pooling) joins the chain before it
    const tail = units[units.length - 1];
    const before = units[units.length - 2];
    if (units.length >= 2 && tail.chain && tail.nodes.length === 1 && before.chain) {
      before.nodes.push(...tail.nodes);
      units.pop();
    }
    return units;
  };

  const assign = (nodes: Iterable<Node>, id: string) => {
    for (const n of nodes) chains.get(n)!.push(id);
  };

  /** Branches of a region: the connected parts of its interior (everything but its exit). */
  const layoutRegion = (r: Region, id: string, depth: number) => {
    if (depth >= MAX_DEPTH) return;
    const interior = [...r.nodes].filter((n) => n !== r.exit).sort((p, q) => pos.get(p)! - pos.get(q)!);
    const inside = new Set(interior);
    const seen = new Set<Node>();
    let k = 0;
    for (const start of interior) {
      if (seen.has(start)) continue;
      const part: Node[] = [];
      const stack = [start];
      while (stack.length) {
        const n = stack.pop()!;
        if (seen.has(n)) continue;
        seen.add(n);
        part.push(n);
        for (const m of [...mPreds(n), ...mSuccs(n)]) if (inside.has(m)) stack.push(m);
      }
      part.sort((p, q) => pos.get(p)! - pos.get(q)!);
      const branchId = `${id}.branch.${k++}`;
      assign(part, branchId);
      const partSet = new Set(part);
      layoutLevel(part, r.children.filter((c) => partSet.has(c.exit)), branchId, depth + 1);
    }
  };

  /** Units of a level as `block.j` children of `id` (when there are several), each laid out further. */
  const layoutLevel = (nodes: readonly Node[], regionsHere: readonly Region[], id: string, depth: number) => {
    if (depth >= MAX_DEPTH) return;
    const units = group(nodes, regionsHere);
    if (units.length === 1) {
      // the level is one block: its branches are this module's children
      const u = units[0];
      if (u.region && u.nodes.length === u.region.nodes.size) layoutRegion(u.region, id, depth);
      return;
    }
    units.forEach((u, j) => {
      const uid = `${id}.block.${j}`;
      assign(u.nodes, uid);
      if (u.region) layoutRegion(u.region, uid, depth + 1);
    });
  };

  for (const n of M) chains.set(n, []);
  const units = group(M, roots);
  // a stage begins where the resolution changes
  const stages: Unit[][] = [];
  for (const u of units) {
    const first = u.nodes[0];
    const entry = spatial(inShape(first));
    const exit = spatial(outShape(u.last));
    if (!stages.length || (entry !== undefined && exit !== undefined && entry !== exit)) stages.push([u]);
    else stages[stages.length - 1].push(u);
  }
  const useStages = stages.length >= 2 && units.length > stages.length;
  let j = 0;
  stages.forEach((stage, i) => {
    stage.forEach((u, k) => {
      const uid = useStages ? `stage.${i}.block.${k}` : `block.${j++}`;
      if (useStages) assign(u.nodes, `stage.${i}`);
      assign(u.nodes, uid);
      if (u.region) layoutRegion(u.region, uid, 1);
    });
  });
  return chains;
}

/** Every single-entry/single-exit region ending at a merge node, largest first. */
function findRegions(
  M: readonly Node[], preds: (n: Node) => Node[], succs: (n: Node) => Node[], readsInput: (n: Node) => boolean,
  dom: DomTree, pdom: DomTree,
): Region[] {
  const pos = new Map<Node, number>();
  M.forEach((n, i) => pos.set(n, i));
  const out: Region[] = [];
  for (const b of M) {
    if (preds(b).length + (readsInput(b) ? 1 : 0) < 2) continue;
    const a = dom.parent.get(b)!;
    const nodes = new Set<Node>();
    for (let i = a ? pos.get(a)! + 1 : 0; i <= pos.get(b)!; i++) {
      const n = M[i];
      if (n !== a && dom.dominates(a, n) && pdom.dominates(b, n)) nodes.add(n);
    }
    if (nodes.size < 2) continue;
    let closed = true;
    for (const n of nodes) {
      if (n !== b && succs(n).some((s) => !nodes.has(s))) closed = false;
      if (preds(n).some((p) => p !== a && !nodes.has(p))) closed = false;
      if (!closed) break;
    }
    if (closed) out.push({ entry: a, exit: b, nodes, children: [] });
  }
  return out.sort((p, q) => q.nodes.size - p.nodes.size || pos.get(p.exit)! - pos.get(q.exit)!);
}

/** The regions as a forest (each inside the smallest region containing it); partial overlaps are dropped. */
function nest(regions: readonly Region[]): Region[] {
  const roots: Region[] = [];
  const innermost = new Map<Node, Region>();
  for (const r of regions) {
    const holders = new Set<Region | undefined>();
    for (const n of r.nodes) holders.add(innermost.get(n));
    if (holders.size !== 1) continue;
    const parent = [...holders][0];
    if (parent && parent.nodes.size === r.nodes.size) continue;
    (parent ? parent.children : roots).push(r);
    for (const n of r.nodes) innermost.set(n, r);
  }
  return roots;
}
