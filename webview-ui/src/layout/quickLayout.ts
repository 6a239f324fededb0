// A provisional layout of a flat graph (the module level: blocks and graph inputs/outputs, no
// groups), computed on the page's thread in a few milliseconds, in ELK's output format.
//
// Why it exists: ELK in a fresh page starts cold — its ~2 MB script compiles in the worker and its
// first layout runs unoptimised code — which costs ~1.5-2 s before the first graph can be drawn,
// against ~70 ms for the same layout once warm. The first paint is drawn from this layout instead,
// and LayoutEngine swaps in ELK's once it is done (the view redraws; see LayoutEngine.onRefined).
// Hand-written rather than a library because it must cost nothing to load: any layout library is
// one more script to compile on the critical path, which is exactly the cost avoided here. It is a
// plain layering (longest path from the inputs, model order within a layer), enough for the
// mostly-chained module level of a diffusion model; anything compound is left to ELK.
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import { longestPathLayers } from './layering';

const LAYER_GAP = 30;
const NODE_GAP = 20;
const PAD = 20;
/** horizontal distance between the lanes of edges that skip layers (drawn left of the graph) */
const LANE_GAP = 8;

/** ELK's output for `graph` as far as the view reads it, or undefined when the graph has groups. */
export function quickLayout(graph: ElkNode): ElkNode | undefined {
  const kids = graph.children ?? [];
  if (kids.some((c) => c.children?.length)) return undefined;
  const index = new Map(kids.map((c, i) => [c.id, i]));
  const laid = (e: ElkExtendedEdge) => e.layoutOptions?.['elk.noLayout'] !== 'true';
  const edges = (graph.edges ?? []) as ElkExtendedEdge[];
  const links: [number, number][] = [];
  for (const e of edges) {
    if (!laid(e)) continue;
    const a = index.get(e.sources[0]);
    const b = index.get(e.targets[0]);
    if (a !== undefined && b !== undefined) links.push([a, b]);
  }
  // nodes left over by a cycle go below the rest; model order within a layer
  const { layer, layers } = longestPathLayers(kids.length, links);

  // layers stacked downwards, each centred on the widest one
  const rowWidth = (row: number[]) => row.reduce((w, i) => w + (kids[i].width ?? 0), 0) + NODE_GAP * Math.max(0, row.length - 1);
  const widest = Math.max(0, ...layers.map((r) => (r ? rowWidth(r) : 0)));
  const out: ElkNode[] = kids.map((c) => ({ ...c, layoutOptions: undefined }));
  let y = PAD;
  for (const row of layers) {
    if (!row) continue;
    let x = PAD + (widest - rowWidth(row)) / 2;
    const h = Math.max(...row.map((i) => kids[i].height ?? 0));
    for (const i of row) {
      out[i].x = x;
      out[i].y = y + (h - (kids[i].height ?? 0)) / 2;
      x += (kids[i].width ?? 0) + NODE_GAP;
    }
    y += h + LAYER_GAP;
  }

  // edges: between neighbouring layers an orthogonal step from bottom to top; an edge that skips
  // layers runs down its own lane left of the graph, so it never crosses a box
  let lanes = 0;
  const outEdges: ElkExtendedEdge[] = edges.map((e) => {
    const a = index.get(e.sources[0]);
    const b = index.get(e.targets[0]);
    if (!laid(e) || a === undefined || b === undefined) return { id: e.id, sources: e.sources, targets: e.targets, layoutOptions: e.layoutOptions };
    const s = out[a];
    const t = out[b];
    let points: { x: number; y: number }[];
    if (layer[b] === layer[a] + 1) {
      const sx = s.x! + s.width! / 2;
      const tx = t.x! + t.width! / 2;
      const sy = s.y! + s.height!;
      const mid = (sy + t.y!) / 2;
      points = sx === tx ? [{ x: sx, y: sy }, { x: tx, y: t.y! }] : [{ x: sx, y: sy }, { x: sx, y: mid }, { x: tx, y: mid }, { x: tx, y: t.y! }];
    } else {
      const lane = PAD - LANE_GAP * ++lanes;
      const sy = s.y! + s.height! / 2;
      const ty = t.y! + t.height! / 2;
      points = [{ x: s.x!, y: sy }, { x: lane, y: sy }, { x: lane, y: ty }, { x: t.x!, y: ty }];
    }
    return { id: e.id, sources: e.sources, targets: e.targets, sections: [{ id: `${e.id}-s`, startPoint: points[0], bendPoints: points.slice(1, -1), endPoint: points[points.length - 1] }] };
  });
  // the skip lanes went left of the padding: shift everything right to make room for them
  const shift = lanes * LANE_GAP;
  if (shift) {
    for (const n of out) n.x! += shift;
    for (const e of outEdges) for (const sec of e.sections ?? []) for (const p of [sec.startPoint, ...(sec.bendPoints ?? []), sec.endPoint]) p.x += shift;
  }
  return { id: graph.id, x: 0, y: 0, width: widest + 2 * PAD + shift, height: y - LAYER_GAP + PAD, children: out, edges: outEdges };
}
