// The layout drawn at once when a click expands a block whose ELK layout is neither cached nor
// ready within a moment (see GraphCanvas.show): the block becomes its group where it was, its
// contents laid out flat inside it (longest-path layers, as quickLayout does for the module level;
// an inner group that is open too is laid out the same way and placed as one box), and what lies
// right of or below it, at its level and at every level above, is pushed out of the way by the
// group's growth, each enclosing group growing round what it holds. ELK's layout replaces it when
// ready, as it does for the first paint and for edits.
//
// Why: a click right after the graph first appears waits for ELK's 2nd run, its code still cold
// (SD-1.5's down_blocks.1: ~280 ms of layout in the page, 325 ms to the frame), and nothing has
// been laid out ahead yet (prefetch waits until ELK is warm and the view idle). This layout costs
// a few milliseconds, so the click shows the block open within the expansion budget however cold
// ELK is. Hand-written for the reasons quickLayout.ts and interimLayout.ts give (it must cost
// nothing to load or run, and no layout library places a graph around boxes that stay fixed).
//
// Nothing overlaps: a sibling whose top is at or below the block's old bottom moves down by the
// group's extra height, one whose left is at or right of the block's old right edge moves right by
// its extra width (one that is both moves both ways), the others stay. As no two siblings overlapped
// before, none overlap after, and none overlaps the group (test/webview-expansion-layout.test.ts).
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import { GROUP_HEADER, GROUP_PAD, type Box, type Layout, type Point } from '../model/elkGraph';
import { placed, step } from './interimLayout';
import { longestPathLayers } from './layering';

const LAYER_GAP = 30;
const NODE_GAP = 20;
const PAD = 20;
/** room inside a group above its children (ELK's padding, elkGraph.ts) */
const GROUP_TOP = GROUP_HEADER + 10;
const EPS = 0.5;

/**
 * ELK's output format for `graph` (absolute coordinates) with group `opened` laid out inside where
 * `before` (the layout shown, in which `opened` was a block) had it, and the rest pushed out of its
 * way; undefined when `before` lacks a box for something outside `opened` (it was not the layout of
 * this graph with `opened` closed).
 */
export function expansionLayout(graph: ElkNode, before: Layout, opened: string): ElkNode | undefined {
  const parentOf = new Map<string, ElkNode>();
  const byId = new Map<string, ElkNode>();
  const visit = (n: ElkNode) => {
    for (const c of n.children ?? []) {
      parentOf.set(c.id, n);
      byId.set(c.id, c);
      visit(c);
    }
  };
  visit(graph);
  const group = byId.get(opened);
  const old = before.boxes.get(opened);
  if (!group || !old) return undefined;

  const edges: ElkExtendedEdge[] = [];
  const collect = (n: ElkNode) => {
    for (const e of (n.edges ?? []) as ElkExtendedEdge[]) edges.push(e);
    for (const c of n.children ?? []) collect(c);
  };
  collect(graph);

  // every box outside the opened group is the one shown, until moved
  const boxes = new Map<string, Box>();
  const inGroup = new Set<string>();
  const mark = (n: ElkNode) => {
    for (const c of n.children ?? []) {
      inGroup.add(c.id);
      mark(c);
    }
  };
  mark(group);
  for (const id of byId.keys()) {
    if (inGroup.has(id) || id === opened) continue;
    const b = before.boxes.get(id);
    if (!b) return undefined;
    boxes.set(id, { ...b });
  }

  // the group's contents, laid out relative to the group's top-left, then placed where the block was
  const size = layOutInside(group, edges, boxes);
  const shift = (n: ElkNode, dx: number, dy: number) => {
    const b = boxes.get(n.id)!;
    b.x += dx;
    b.y += dy;
    for (const c of n.children ?? []) shift(c, dx, dy);
  };
  boxes.set(opened, { x: 0, y: 0, w: size.w, h: size.h });
  shift(group, old.x, old.y);

  // push the siblings out of the way, then grow the enclosing group and do the same one level up
  let cur = group;
  let was: Box = old;
  for (;;) {
    const now = boxes.get(cur.id)!;
    const dw = Math.max(0, now.x + now.w - (was.x + was.w));
    const dh = Math.max(0, now.y + now.h - (was.y + was.h));
    const parent = parentOf.get(cur.id)!;
    for (const s of parent.children ?? []) {
      if (s === cur) continue;
      const b = boxes.get(s.id)!;
      const dx = b.x >= was.x + was.w - EPS ? dw : 0;
      const dy = b.y >= was.y + was.h - EPS ? dh : 0;
      if (dx || dy) shift(s, dx, dy);
    }
    if (parent === graph) break;
    const p = boxes.get(parent.id)!;
    was = { ...p };
    let right = p.x + p.w;
    let bottom = p.y + p.h;
    for (const c of parent.children ?? []) {
      const b = boxes.get(c.id)!;
      right = Math.max(right, b.x + b.w + GROUP_PAD);
      bottom = Math.max(bottom, b.y + b.h + GROUP_PAD);
    }
    p.w = right - p.x;
    p.h = bottom - p.y;
    cur = parent;
  }

  // routes: an edge whose ends moved together keeps its old route, moved with them; others are drawn
  // as simple steps (ELK's routes replace them)
  const moved = (id: string): Point | undefined => {
    const b = boxes.get(id);
    const o = inGroup.has(id) || id === opened ? undefined : before.boxes.get(id);
    return b && o ? { x: b.x - o.x, y: b.y - o.y } : undefined;
  };
  const route = (e: ElkExtendedEdge): ElkExtendedEdge => {
    const base = { id: e.id, sources: e.sources, targets: e.targets };
    if (e.layoutOptions?.['elk.noLayout'] === 'true') return { ...base, layoutOptions: e.layoutOptions };
    const s = boxes.get(e.sources[0]);
    const t = boxes.get(e.targets[0]);
    if (!s || !t) return base;
    const old = before.edges.get(e.id);
    const ds = moved(e.sources[0]);
    const dt = moved(e.targets[0]);
    const points = old?.length && ds && dt && ds.x === dt.x && ds.y === dt.y ? old.map((p) => ({ x: p.x + ds.x, y: p.y + ds.y })) : step(s, t);
    return { ...base, sections: [{ id: `${e.id}-s`, startPoint: points[0], bendPoints: points.slice(1, -1), endPoint: points[points.length - 1] }] };
  };
  let right = before.width;
  let bottom = before.height;
  for (const c of graph.children ?? []) {
    const b = boxes.get(c.id)!;
    right = Math.max(right, b.x + b.w + PAD);
    bottom = Math.max(bottom, b.y + b.h + PAD);
  }
  return {
    id: graph.id, x: 0, y: 0, width: right, height: bottom,
    children: (graph.children ?? []).map((c) => placed(c, boxes, route)), edges: ((graph.edges ?? []) as ElkExtendedEdge[]).map(route),
  };
}

/**
 * Lays `group`'s children out in layers (longest path from the ones nothing inside feeds, model
 * order within a layer, each layer centred), inner groups first; sets their boxes relative to the
 * group's top-left and returns the group's size.
 */
function layOutInside(group: ElkNode, edges: readonly ElkExtendedEdge[], boxes: Map<string, Box>): { w: number; h: number } {
  const kids = group.children ?? [];
  const sizes = kids.map((c) => (c.children?.length ? layOutInside(c, edges, boxes) : { w: c.width ?? 0, h: c.height ?? 0 }));
  // an edge between two things inside the group joins the children that hold them
  const holderOf = new Map<string, number>();
  kids.forEach((c, i) => {
    const mark = (n: ElkNode) => {
      holderOf.set(n.id, i);
      for (const k of n.children ?? []) mark(k);
    };
    mark(c);
  });
  const links: [number, number][] = [];
  for (const e of edges) {
    if (e.layoutOptions?.['elk.noLayout'] === 'true') continue;
    const a = holderOf.get(e.sources[0]);
    const b = holderOf.get(e.targets[0]);
    if (a !== undefined && b !== undefined) links.push([a, b]);
  }
  const { layers } = longestPathLayers(kids.length, links);
  const rowWidth = (row: number[]) => row.reduce((w, i) => w + sizes[i].w, 0) + NODE_GAP * Math.max(0, row.length - 1);
  const widest = Math.max(0, ...layers.map((r) => (r ? rowWidth(r) : 0)));
  const w = Math.max(widest + 2 * GROUP_PAD, minWidth(group));
  let y = GROUP_TOP;
  for (const row of layers) {
    if (!row) continue;
    let x = (w - rowWidth(row)) / 2;
    const h = Math.max(...row.map((i) => sizes[i].h));
    for (const i of row) {
      const at = { x, y: y + (h - sizes[i].h) / 2 };
      const c = kids[i];
      if (c.children?.length) {
        // an inner group's boxes are relative to its own top-left: move them to here
        const move = (n: ElkNode) => {
          for (const k of n.children ?? []) {
            const b = boxes.get(k.id)!;
            b.x += at.x;
            b.y += at.y;
            move(k);
          }
        };
        move(c);
      }
      boxes.set(c.id, { ...at, w: sizes[i].w, h: sizes[i].h });
      x += sizes[i].w + NODE_GAP;
    }
    y += h + LAYER_GAP;
  }
  const h = Math.max(kids.length ? y - LAYER_GAP + GROUP_PAD : GROUP_TOP + 10, GROUP_HEADER + 20);
  return { w, h };
}

/** The smallest width ELK would give a group: its header's (toElk sets it as the minimum size). */
function minWidth(n: ElkNode): number {
  const m = /^\(([\d.]+),/.exec(n.layoutOptions?.['elk.nodeSize.minimum'] ?? '');
  return m ? Number(m[1]) : 0;
}
