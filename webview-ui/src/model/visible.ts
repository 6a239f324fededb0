// What the canvas draws for a given set of expanded modules: expanded modules become groups
// (containers), collapsed ones become single blocks, and every edge whose ends fall into the same
// collapsed block disappears while parallel edges between two blocks merge into one.
// Only this part of the graph is laid out, so its size (not the model's) bounds layout time.
import { ROOT, type Endpoint, type ViewGraph } from './graph';
import { stackKey } from './stacks';

export type ItemKind =
  /** a collapsed module (possibly a one-operator layer) */
  | 'block'
  /** an expanded module: a container around its children */
  | 'group'
  /** an operator */
  | 'node'
  /** a graph input or output */
  | 'io'
  /** a depth stack drawn compactly: one item with a strip of its member blocks */
  | 'stack';

export interface VisibleItem {
  /** 'm:<module id>' | 'n:<node index>' | 'i:<input name>' | 'o:<output name>' | 's:<stack id>' */
  key: string;
  kind: ItemKind;
  /** key of the group this item sits in; null at the top level */
  parent: string | null;
  moduleId?: string;
  node?: number;
  io?: string;
  stackId?: string;
}

export interface VisibleEdge {
  key: string;
  src: string;
  dst: string;
  /** the distinct tensors this drawn edge stands for, in graph order */
  values: string[];
  /**
   * every tensor on it also feeds at least BROADCAST_FANOUT other drawn items (a U-Net's time
   * embedding and text conditioning): drawn faintly and ignored for straightness, so the
   * main data path reads first
   */
  broadcast: boolean;
}

export const BROADCAST_FANOUT = 4;

export interface VisibleGraph {
  items: VisibleItem[];
  edges: VisibleEdge[];
  byKey: Map<string, VisibleItem>;
}

export const moduleKey = (id: string): string => `m:${id}`;
export const nodeKey = (i: number): string => `n:${i}`;

/** The expanded modules that actually show as groups: all their ancestors must be expanded too. */
export function effectiveExpanded(g: ViewGraph, expanded: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const id of expanded) {
    if (!g.expandable(id)) continue;
    const chain = g.moduleChain(id);
    if (chain.length && chain.every((c) => expanded.has(c))) out.add(id);
  }
  return out;
}

/**
 * The stacks drawn as one item: all of them, except those the user opened and those with something
 * expanded inside a member (a search or a reveal went into one).
 */
export function compactStacks(g: ViewGraph, open: ReadonlySet<string>, openStacks: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  if (!g.stacks.length) return out;
  for (const st of g.stacks) if (!openStacks.has(st.id)) out.add(st.id);
  for (const id of open) {
    for (let m: string | null | undefined = id; m; m = g.modules.get(m)?.parent) {
      const st = g.stackOfMember.get(m);
      if (st) out.delete(st.id);
    }
  }
  return out;
}

export function computeVisible(g: ViewGraph, expanded: ReadonlySet<string>, openStacks: ReadonlySet<string> = new Set()): VisibleGraph {
  const open = effectiveExpanded(g, expanded);
  const compact = compactStacks(g, open, openStacks);
  const placed = new Set<string>();
  const items: VisibleItem[] = [];
  // the drawn item each node belongs to (itself, or the collapsed block around it)
  const rep: string[] = new Array(g.nodes.length);

  const claim = (moduleId: string, key: string) => {
    const m = g.modules.get(moduleId)!;
    for (const n of m.nodes) rep[n] = key;
    for (const c of m.children) claim(c, key);
  };

  for (const name of g.inputs) items.push({ key: `i:${name}`, kind: 'io', parent: null, io: name });

  const walk = (moduleId: string, parentKey: string | null) => {
    const m = g.modules.get(moduleId)!;
    for (const c of m.children) {
      const child = g.modules.get(c)!;
      if (child.shownCount === 0) continue; // only hidden constants inside
      const st = compact.size ? g.stackOfMember.get(c) : undefined;
      if (st && compact.has(st.id)) {
        // the whole stack is one item, where its first member would be
        const sk = stackKey(st.id);
        if (!placed.has(sk)) {
          placed.add(sk);
          items.push({ key: sk, kind: 'stack', parent: parentKey, stackId: st.id });
          for (const mem of st.members) claim(mem, sk);
        }
        continue;
      }
      const key = moduleKey(c);
      if (open.has(c)) {
        items.push({ key, kind: 'group', parent: parentKey, moduleId: c });
        walk(c, key);
      } else {
        const single = g.singleNodeOf(c);
        items.push({ key, kind: 'block', parent: parentKey, moduleId: c, ...(single !== undefined ? { node: single } : {}) });
        claim(c, key);
      }
    }
    for (const n of m.nodes) {
      const key = nodeKey(n);
      items.push({ key, kind: 'node', parent: parentKey, node: n });
      rep[n] = key;
    }
  };
  walk(ROOT, null);

  for (const name of g.outputs) items.push({ key: `o:${name}`, kind: 'io', parent: null, io: name });

  const endpoint = (e: Endpoint): string | undefined =>
    typeof e === 'number' ? rep[e] : e.startsWith('in:') ? `i:${e.slice(3)}` : `o:${e.slice(4)}`;

  const merged = new Map<string, VisibleEdge>();
  for (const e of g.edges) {
    const src = endpoint(e.src);
    const dst = endpoint(e.dst);
    if (!src || !dst || src === dst) continue;
    const key = `${src}>${dst}`;
    let edge = merged.get(key);
    if (!edge) merged.set(key, (edge = { key, src, dst, values: [], broadcast: false }));
    if (edge.values[edge.values.length - 1] !== e.value && !edge.values.includes(e.value)) edge.values.push(e.value);
  }
  const fanout = new Map<string, Set<string>>();
  for (const e of merged.values()) {
    for (const v of e.values) {
      let set = fanout.get(v);
      if (!set) fanout.set(v, (set = new Set()));
      set.add(e.dst);
    }
  }
  for (const e of merged.values()) e.broadcast = e.values.every((v) => fanout.get(v)!.size >= BROADCAST_FANOUT);
  const byKey = new Map(items.map((it) => [it.key, it]));
  return { items, edges: [...merged.values()], byKey };
}

/** The key of the item that currently shows `target` (a module id or node index). */
export function visibleKeyOf(g: ViewGraph, vis: VisibleGraph, target: { module?: string; node?: number; stack?: string }): string | undefined {
  if (target.node !== undefined) {
    const k = nodeKey(target.node);
    if (vis.byKey.has(k)) return k;
    return visibleKeyOf(g, vis, { module: g.nodes[target.node].module });
  }
  if (target.stack !== undefined) {
    const k = stackKey(target.stack);
    if (vis.byKey.has(k)) return k;
    return visibleKeyOf(g, vis, { module: g.stackById.get(target.stack)?.parent });
  }
  let id = target.module;
  while (id !== undefined && id !== ROOT) {
    const k = moduleKey(id);
    if (vis.byKey.has(k)) return k;
    const st = g.stackOfMember.get(id);
    if (st && vis.byKey.has(stackKey(st.id))) return stackKey(st.id);
    id = g.modules.get(id)?.parent ?? undefined;
  }
  return undefined;
}
