// The visible graph as an ELK input graph, and ELK's answer as absolute boxes and edge routes.
//
// Why ELK (elkjs, Eclipse Layout Kernel): it is maintained, its "layered" algorithm is the
// Sugiyama-style layout dataflow graphs need, and — unlike dagre (unmaintained) or d3-dag (no
// compound nodes) — it lays out *compound* graphs: an expanded module is a real container whose
// children are placed inside it, with edges crossing container borders routed through it
// (hierarchyHandling INCLUDE_CHILDREN). It ships a self-contained worker script, which the webview
// runs from a Blob URL so layout never blocks the UI thread.
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import type { VisibleGraph, VisibleItem } from './visible';

export interface Size {
  w: number;
  h: number;
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface Layout {
  boxes: Map<string, Box>;
  edges: Map<string, Point[]>;
  width: number;
  height: number;
}

/** Room at the top of a group for its header (name, score). */
export const GROUP_HEADER = 30;
export const GROUP_PAD = 14;

const ROOT_ID = '__root__';

export const LAYOUT_OPTIONS: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.layered.spacing.nodeNodeBetweenLayers': '30',
  'elk.layered.spacing.edgeNodeBetweenLayers': '14',
  'elk.spacing.nodeNode': '20',
  'elk.spacing.edgeNode': '12',
  'elk.spacing.edgeEdge': '8',
  // keep the graph's own order where the layout is free to: siblings stay in model order, so a
  // re-layout after expanding a block moves the rest as little as possible (once ELK's code is
  // warm this costs next to nothing; see warmUpGraph)
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  // the last few crossings are not worth it: a deep expansion (4 nested groups, ~120 items) must
  // lay out well within the 200 ms an expansion may take; these graphs are mostly chains
  'elk.layered.thoroughness': '3',
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
  'elk.layered.nodePlacement.bk.fixedAlignment': 'BALANCED',
  'elk.json.shapeCoords': 'ROOT',
  'elk.json.edgeCoords': 'ROOT',
};

export function toElk(vis: VisibleGraph, sizeOf: (item: VisibleItem) => Size): ElkNode {
  const root: ElkNode = { id: ROOT_ID, layoutOptions: { ...LAYOUT_OPTIONS, 'elk.padding': '[top=20,left=20,bottom=20,right=20]' }, children: [], edges: [] };
  const elkNodes = new Map<string, ElkNode>();
  elkNodes.set(ROOT_ID, root);
  for (const it of vis.items) {
    const parent = it.parent === null ? root : elkNodes.get(it.parent);
    if (!parent) throw new Error(`layout: item ${it.key} comes before its group ${it.parent}`);
    let n: ElkNode;
    if (it.kind === 'group') {
      const header = sizeOf(it);
      n = {
        id: it.key,
        children: [],
        edges: [],
        layoutOptions: {
          'elk.padding': `[top=${GROUP_HEADER + 10},left=${GROUP_PAD},bottom=${GROUP_PAD},right=${GROUP_PAD}]`,
          'elk.nodeSize.constraints': 'MINIMUM_SIZE',
          'elk.nodeSize.minimum': `(${snapWidth(header.w)},${GROUP_HEADER + 20})`,
          'elk.layered.spacing.nodeNodeBetweenLayers': LAYOUT_OPTIONS['elk.layered.spacing.nodeNodeBetweenLayers'],
          'elk.spacing.nodeNode': LAYOUT_OPTIONS['elk.spacing.nodeNode'],
        },
      };
    } else {
      const s = sizeOf(it);
      n = { id: it.key, width: snapWidth(s.w), height: s.h };
    }
    (parent.children ??= []).push(n);
    elkNodes.set(it.key, n);
  }
  // each edge lives in the innermost group containing both ends (ELK's convention for compound graphs)
  const chainOf = (key: string): string[] => {
    const chain: string[] = [];
    let p = vis.byKey.get(key)?.parent ?? null;
    while (p !== null) {
      chain.push(p);
      p = vis.byKey.get(p)?.parent ?? null;
    }
    return chain; // innermost first
  };
  const chains = new Map<string, string[]>();
  const chain = (k: string) => {
    let c = chains.get(k);
    if (!c) chains.set(k, (c = chainOf(k)));
    return c;
  };
  for (const e of vis.edges) {
    const a = chain(e.src);
    const b = new Set(chain(e.dst));
    const lca = a.find((p) => b.has(p)) ?? ROOT_ID;
    const holder = elkNodes.get(lca)!;
    const edge: ElkExtendedEdge = { id: e.key, sources: [e.src], targets: [e.dst] };
    // a broadcast edge (the timestep embedding fanned to every block) is not laid out by ELK: it
    // dominated ELK's time on wide fans (FLUX: ~830 → ~140 ms) and bent the main data path round
    // itself; fromElk draws it as a bus beside the graph
    edge.layoutOptions = e.broadcast ? { 'elk.noLayout': 'true' } : { 'elk.layered.priority.straightness': '8', 'elk.layered.priority.direction': '4' };
    (holder.edges ??= []).push(edge);
  }
  return root;
}

/**
 * Widths go up to a multiple of this: an edit that changes a label a little (a block's op count and
 * params after a bypass inside it) then gives the same ELK input as before, so undo, redo and such
 * edits reuse the cached layout instead of laying the graph out again.
 */
const WIDTH_STEP = 16;

function snapWidth(w: number): number {
  return Math.ceil(w / WIDTH_STEP) * WIDTH_STEP;
}

export function fromElk(root: ElkNode): Layout {
  const boxes = new Map<string, Box>();
  const edges = new Map<string, Point[]>();
  const visit = (n: ElkNode) => {
    for (const c of n.children ?? []) {
      boxes.set(c.id, { x: c.x ?? 0, y: c.y ?? 0, w: c.width ?? 0, h: c.height ?? 0 });
      visit(c);
    }
    for (const e of n.edges ?? []) {
      const pts: Point[] = [];
      for (const s of (e as ElkExtendedEdge).sections ?? []) {
        if (!pts.length) pts.push(s.startPoint);
        for (const b of s.bendPoints ?? []) pts.push(b);
        pts.push(s.endPoint);
      }
      edges.set(e.id, pts);
    }
  };
  visit(root);
  const width = busRoutes(root, boxes, edges);
  return { boxes, edges, width: Math.max(root.width ?? 0, width), height: root.height ?? 0 };
}

/** Horizontal distance of a bus from the boxes it serves, and between the buses of different sources. */
const BUS_GAP = 16;
const BUS_STEP = 8;

/**
 * Routes for the edges ELK left alone (elk.noLayout: broadcast edges): each source gets one
 * vertical bus right of itself and of every item it feeds; an edge leaves its source's right side,
 * runs down (or up) the bus and enters its target from the right. Returns the width the buses need.
 */
function busRoutes(root: ElkNode, boxes: Map<string, Box>, edges: Map<string, Point[]>): number {
  const bySource = new Map<string, ElkExtendedEdge[]>();
  const visit = (n: ElkNode) => {
    for (const e of (n.edges ?? []) as ElkExtendedEdge[]) {
      if (e.sections?.length || !boxes.has(e.sources[0]) || !boxes.has(e.targets[0])) continue;
      const list = bySource.get(e.sources[0]) ?? [];
      list.push(e);
      bySource.set(e.sources[0], list);
    }
    for (const c of n.children ?? []) visit(c);
  };
  visit(root);
  let right = 0;
  let bus = 0;
  for (const [src, list] of bySource) {
    const s = boxes.get(src)!;
    const lane = Math.max(s.x + s.w, ...list.map((e) => { const t = boxes.get(e.targets[0])!; return t.x + t.w; })) + BUS_GAP + BUS_STEP * bus++;
    const sy = s.y + s.h / 2;
    for (const e of list) {
      const t = boxes.get(e.targets[0])!;
      const ty = t.y + t.h / 2;
      edges.set(e.id, [{ x: s.x + s.w, y: sy }, { x: lane, y: sy }, { x: lane, y: ty }, { x: t.x + t.w, y: ty }]);
    }
    right = Math.max(right, lane + BUS_GAP);
  }
  return right;
}

/**
 * A small compound graph shaped like an expanded U-Net block (nested groups, a skip edge, edges
 * crossing group borders). Laid out once while the host is still reading the model, it gets
 * ELK's code compiled and optimised along the paths real layouts take: the first real layout
 * otherwise pays several times its steady-state cost.
 */
export function warmUpGraph(): ElkNode {
  const leaf = (id: string): ElkNode => ({ id, width: 120, height: 40 });
  const group = (id: string, kids: ElkNode[], edges: [string, string][]): ElkNode => ({
    id,
    children: kids,
    edges: edges.map(([a, b], i) => ({ id: `${id}-e${i}`, sources: [a], targets: [b] })),
    layoutOptions: { 'elk.padding': `[top=${GROUP_HEADER + 10},left=${GROUP_PAD},bottom=${GROUP_PAD},right=${GROUP_PAD}]` },
  });
  const inner = group('g2', ['q', 'k', 'v', 'mm', 'sm', 'o'].map(leaf), [['q', 'mm'], ['k', 'mm'], ['mm', 'sm'], ['sm', 'o'], ['v', 'o']]);
  const outer = group('g1', [leaf('n1'), inner, leaf('n2'), leaf('add')], [['n1', 'q'], ['n1', 'k'], ['n1', 'v'], ['o', 'n2'], ['n2', 'add'], ['n1', 'add']]);
  return {
    id: ROOT_ID,
    layoutOptions: { ...LAYOUT_OPTIONS },
    children: [leaf('in'), leaf('a'), outer, leaf('b'), leaf('c'), leaf('out')],
    edges: [['in', 'a'], ['a', 'n1'], ['add', 'b'], ['b', 'c'], ['a', 'c'], ['c', 'out']].map(([x, y], i) => ({ id: `r${i}`, sources: [x], targets: [y] })),
  };
}
