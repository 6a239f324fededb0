// The layout drawn at once when the graph changes under the view (an edit, an undo or redo whose
// ELK layout is not cached): what was drawn before stays where it was, what is gone is gone, and
// what is new goes below what feeds it. ELK's layout of the edited graph takes ~150-180 ms on an
// expanded SD-1.5 U-Net; this one takes a few milliseconds, so the edit shows in the frame after
// it arrives, in place, and ELK's layout replaces it when ready (GraphCanvas.redraw).
// Hand-written for the same reason as quickLayout.ts: it must cost nothing, and no layout library
// places a graph around boxes that are already fixed. Overlaps it leaves (a new item under its
// source) last only until ELK's layout arrives.
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import { GROUP_HEADER, GROUP_PAD, type Box, type Layout, type Point } from '../model/elkGraph';

const GAP = 30;
const PAD = 20;

/**
 * ELK's output format for `graph` (absolute coordinates, as LAYOUT_OPTIONS asks ELK for), with
 * every item that `before` has a box for kept in place (a leaf at its new size, centred where it
 * was), each edge between two unmoved items on its old route, and the rest routed simply.
 */
export function interimLayout(graph: ElkNode, before: Layout): ElkNode {
  const boxes = new Map<string, Box>();
  const parentOf = new Map<string, string | undefined>();
  const order: ElkNode[] = [];
  const visit = (n: ElkNode, parent: string | undefined) => {
    for (const c of n.children ?? []) {
      parentOf.set(c.id, parent);
      order.push(c);
      visit(c, c.id);
    }
  };
  visit(graph, undefined);

  // edges by target, for placing new items under what feeds them
  const edges: ElkExtendedEdge[] = [];
  const collect = (n: ElkNode) => {
    for (const e of (n.edges ?? []) as ElkExtendedEdge[]) edges.push(e);
    for (const c of n.children ?? []) collect(c);
  };
  collect(graph);
  const sourcesOf = new Map<string, string[]>();
  for (const e of edges) {
    const list = sourcesOf.get(e.targets[0]);
    if (list) list.push(e.sources[0]);
    else sourcesOf.set(e.targets[0], [e.sources[0]]);
  }

  const unmoved = new Set<string>();
  let bottom = PAD;
  for (const b of before.boxes.values()) bottom = Math.max(bottom, b.y + b.h);
  for (const n of order) {
    const old = before.boxes.get(n.id);
    const isGroup = n.width === undefined; // toElk sizes leaves; ELK sizes groups round their children
    const w = isGroup ? old?.w ?? minGroupWidth(n) : n.width ?? 0;
    const h = isGroup ? old?.h ?? GROUP_HEADER + 20 : n.height ?? 0;
    if (old) {
      boxes.set(n.id, { x: old.x + (old.w - w) / 2, y: old.y, w, h });
      if (old.w === w && old.h === h) unmoved.add(n.id);
      continue;
    }
    const feeders = (sourcesOf.get(n.id) ?? []).map((s) => boxes.get(s)).filter((b): b is Box => !!b);
    const parent = parentOf.get(n.id);
    const frame = parent !== undefined ? boxes.get(parent) : undefined;
    let at: Point;
    if (feeders.length) {
      const low = feeders.reduce((a, b) => (b.y + b.h > a.y + a.h ? b : a));
      at = { x: low.x + (low.w - w) / 2, y: low.y + low.h + GAP };
    } else if (frame) at = { x: frame.x + GROUP_PAD, y: frame.y + GROUP_HEADER + 10 };
    else {
      at = { x: PAD, y: bottom + GAP };
      bottom = at.y + h;
    }
    boxes.set(n.id, { ...at, w, h });
  }
  // a group grows round what is now inside it, innermost first
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    const p = parentOf.get(n.id);
    if (p === undefined) continue;
    const c = boxes.get(n.id)!;
    const g = boxes.get(p)!;
    const x0 = Math.min(g.x, c.x - GROUP_PAD);
    const y0 = Math.min(g.y, c.y - GROUP_HEADER - 10);
    const x1 = Math.max(g.x + g.w, c.x + c.w + GROUP_PAD);
    const y1 = Math.max(g.y + g.h, c.y + c.h + GROUP_PAD);
    if (x0 !== g.x || y0 !== g.y || x1 !== g.x + g.w || y1 !== g.y + g.h) {
      boxes.set(p, { x: x0, y: y0, w: x1 - x0, h: y1 - y0 });
      unmoved.delete(p);
    }
  }

  let right = 0;
  let lowest = 0;
  for (const b of boxes.values()) {
    right = Math.max(right, b.x + b.w);
    lowest = Math.max(lowest, b.y + b.h);
  }
  const route = (e: ElkExtendedEdge): ElkExtendedEdge => {
    const base = { id: e.id, sources: e.sources, targets: e.targets };
    // edges ELK does not lay out (broadcasts) are drawn as buses by fromElk, from the boxes
    if (e.layoutOptions?.['elk.noLayout'] === 'true') return { ...base, layoutOptions: e.layoutOptions };
    const old = before.edges.get(e.id);
    const s = boxes.get(e.sources[0]);
    const t = boxes.get(e.targets[0]);
    let points: Point[];
    if (old?.length && unmoved.has(e.sources[0]) && unmoved.has(e.targets[0])) points = old;
    else if (!s || !t) return base;
    else points = step(s, t);
    return { ...base, sections: [{ id: `${e.id}-s`, startPoint: points[0], bendPoints: points.slice(1, -1), endPoint: points[points.length - 1] }] };
  };
  return {
    id: graph.id, x: 0, y: 0, width: Math.max(before.width, right + PAD), height: Math.max(before.height, lowest + PAD),
    children: (graph.children ?? []).map((c) => placed(c, boxes, route)), edges: ((graph.edges ?? []) as ElkExtendedEdge[]).map(route),
  };
}

/** `n` and what it holds in ELK's output format, at their boxes, each edge routed by `route`. */
export function placed(n: ElkNode, boxes: ReadonlyMap<string, Box>, route: (e: ElkExtendedEdge) => ElkExtendedEdge): ElkNode {
  const b = boxes.get(n.id)!;
  const out: ElkNode = { id: n.id, x: b.x, y: b.y, width: b.w, height: b.h };
  if (n.children) out.children = n.children.map((c) => placed(c, boxes, route));
  if (n.edges?.length) out.edges = (n.edges as ElkExtendedEdge[]).map(route);
  return out;
}

/** From the bottom of `s` to the top of `t` in orthogonal steps (a straight line when aligned). */
export function step(s: Box, t: Box): Point[] {
  const sx = s.x + s.w / 2;
  const tx = t.x + t.w / 2;
  const sy = s.y + s.h;
  const ty = t.y;
  if (Math.abs(sx - tx) < 0.5) return [{ x: sx, y: sy }, { x: tx, y: ty }];
  const mid = ty > sy ? (sy + ty) / 2 : sy + GAP / 2;
  return [{ x: sx, y: sy }, { x: sx, y: mid }, { x: tx, y: mid }, { x: tx, y: ty }];
}

/** The smallest width ELK would give a group: its header's (toElk sets it as the minimum size). */
function minGroupWidth(n: ElkNode): number {
  const m = /^\(([\d.]+),/.exec(n.layoutOptions?.['elk.nodeSize.minimum'] ?? '');
  return m ? Number(m[1]) : 200;
}
