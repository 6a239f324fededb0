// What the layout tests check a laid-out graph against (synthetic SD U-Net, box geometry with half a pixel of slack).
import assert from 'node:assert/strict';
import type { Box, Layout } from '../../webview-ui/src/model/elkGraph';
import type { VisibleGraph } from '../../webview-ui/src/model/visible';

/** The deepest expansion path of an SD U-Net, outermost first. */
export const CHAIN = ['down_blocks.1', 'down_blocks.1.attentions.0', 'down_blocks.1.attentions.0.transformer_blocks.0', 'down_blocks.1.attentions.0.transformer_blocks.0.attn1'];
/** Box sizes the tests lay items out at (a node, a block). */
export const size = (kind: string) => ({ w: kind === 'node' ? 90 : 160, h: kind === 'node' ? 36 : 48 });
export const overlap = (a: Box, b: Box) => a.x < b.x + b.w - 0.5 && b.x < a.x + a.w - 0.5 && a.y < b.y + b.h - 0.5 && b.y < a.y + a.h - 0.5;
export const inside = (a: Box, b: Box) => a.x >= b.x - 0.5 && a.y >= b.y - 0.5 && a.x + a.w <= b.x + b.w + 0.5 && a.y + a.h <= b.y + b.h + 0.5;
export const onBorder = (p: { x: number; y: number }, b: Box) =>
  p.x >= b.x - 0.5 && p.x <= b.x + b.w + 0.5 && p.y >= b.y - 0.5 && p.y <= b.y + b.h + 0.5
  && (Math.abs(p.x - b.x) < 0.5 || Math.abs(p.x - b.x - b.w) < 0.5 || Math.abs(p.y - b.y) < 0.5 || Math.abs(p.y - b.y - b.h) < 0.5);

/** Each drawn edge has a route from its source's border to its target's, in orthogonal steps. */
export function assertEdgesRouted(vis: VisibleGraph, layout: Layout): void {
  for (const e of vis.edges) {
    const pts = layout.edges.get(e.key) ?? [];
    assert.ok(pts.length >= 2, `route for ${e.key}`);
    assert.ok(onBorder(pts[0], layout.boxes.get(e.src)!), `${e.key} leaves ${e.src} from its border`);
    assert.ok(onBorder(pts[pts.length - 1], layout.boxes.get(e.dst)!), `${e.key} enters ${e.dst} at its border`);
    for (let k = 1; k < pts.length; k++) assert.ok(Math.abs(pts[k].x - pts[k - 1].x) < 0.01 || Math.abs(pts[k].y - pts[k - 1].y) < 0.01, `${e.key} is orthogonal`);
  }
}
