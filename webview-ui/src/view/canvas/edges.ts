// Edge drawing: rounded orthogonal routes and the tensor list an edge shows on hover.
import type { Point } from '../../model/elkGraph';
import { formatShape } from '../../model/format';
import type { ViewGraph } from '../../model/graph';
import type { VisibleEdge } from '../../model/visible';

/** The tensors an edge carries, one a line (at most eight named). */
export function edgeTitle(graph: ViewGraph, e: VisibleEdge): string {
  const lines = e.values.slice(0, 8).map((v) => {
    const val = graph.values.get(v);
    return `${v}  ${formatShape(val?.shape)}${val?.dtype ? ` ${val.dtype}` : ''}`;
  });
  if (e.values.length > 8) lines.push(`… ${e.values.length - 8} more tensors`);
  return lines.join('\n');
}

/** Stroke width of a bundle of `n` tensors (null: the stylesheet's). */
export function edgeWidth(n: number): string | null {
  return n > 1 ? `${Math.min(4, 1.25 + Math.log2(n) * 0.6)}px` : null;
}

/** Orthogonal route with softened corners. */
export function roundedPath(pts: Point[]): string {
  if (pts.length < 2) return '';
  const r = 6;
  let d = `M${pts[0].x},${pts[0].y}`;
  for (let i = 1; i < pts.length - 1; i++) {
    const p = pts[i];
    const a = pts[i - 1];
    const c = pts[i + 1];
    const r1 = Math.min(r, dist(a, p) / 2);
    const r2 = Math.min(r, dist(p, c) / 2);
    const p1 = toward(p, a, r1);
    const p2 = toward(p, c, r2);
    d += ` L${p1.x},${p1.y} Q${p.x},${p.y} ${p2.x},${p2.y}`;
  }
  const last = pts[pts.length - 1];
  return d + ` L${last.x},${last.y}`;
}

function dist(a: Point, b: Point): number {
  // not Math.hypot: its overflow-safe generic path was the costliest function of drawing an expansion's edges
  const dx = a.x - b.x;
  const dy = a.y - b.y;
  return Math.sqrt(dx * dx + dy * dy);
}

function toward(from: Point, to: Point, len: number): Point {
  const d = dist(from, to) || 1;
  return { x: from.x + ((to.x - from.x) * len) / d, y: from.y + ((to.y - from.y) * len) / d };
}
