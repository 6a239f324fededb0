// The provisional first-paint layout (webview-ui/src/layout/quickLayout.ts) and the bus drawn for
// broadcast edges, which ELK no longer lays out: on the synthetic SD U-Net's module level (the
// timestep embedding fans to every resnet block) and on an expansion, which stays ELK's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ELK from 'elkjs/lib/elk.bundled.js';
import { fromElk, toElk, type Box, type Layout } from '../webview-ui/src/model/elkGraph';
import { ViewGraph } from '../webview-ui/src/model/graph';
import { computeVisible, type VisibleGraph } from '../webview-ui/src/model/visible';
import { quickLayout } from '../webview-ui/src/layout/quickLayout';
import { syntheticUnet } from '../webview-ui/dev/syntheticUnet';

const size = (kind: string) => ({ w: kind === 'node' ? 90 : 160, h: kind === 'node' ? 36 : 48 });
const overlap = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const onBorder = (p: { x: number; y: number }, b: Box) =>
  p.x >= b.x - 0.5 && p.x <= b.x + b.w + 0.5 && p.y >= b.y - 0.5 && p.y <= b.y + b.h + 0.5
  && (Math.abs(p.x - b.x) < 0.5 || Math.abs(p.x - b.x - b.w) < 0.5 || Math.abs(p.y - b.y) < 0.5 || Math.abs(p.y - b.y - b.h) < 0.5);

/** Every item has a box of its size inside the canvas, no two boxes overlap, every edge joins its ends' borders. */
function assertDrawable(vis: VisibleGraph, layout: Layout): void {
  const boxes = vis.items.map((it) => [it.key, layout.boxes.get(it.key)!] as const);
  for (const [key, b] of boxes) {
    assert.ok(b, `box for ${key}`);
    assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.w <= layout.width + 0.5 && b.y + b.h <= layout.height + 0.5, `${key} inside the ${layout.width}×${layout.height} canvas`);
  }
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) assert.ok(!overlap(boxes[i][1], boxes[j][1]), `${boxes[i][0]} and ${boxes[j][0]} overlap`);
  for (const e of vis.edges) {
    const pts = layout.edges.get(e.key) ?? [];
    assert.ok(pts.length >= 2, `route for ${e.key}`);
    assert.ok(onBorder(pts[0], layout.boxes.get(e.src)!) && onBorder(pts[pts.length - 1], layout.boxes.get(e.dst)!), `${e.key} joins ${e.src} to ${e.dst}`);
    for (let k = 1; k < pts.length; k++) assert.ok(pts[k].x === pts[k - 1].x || pts[k].y === pts[k - 1].y, `${e.key} is orthogonal`);
    assert.ok(pts.every((p) => p.x <= layout.width + 0.5), `${e.key} stays on the canvas`);
  }
}

test('the provisional module-level layout draws every block and edge, top to bottom in data order', () => {
  const g = new ViewGraph(syntheticUnet({ depth: 1 }));
  const vis = computeVisible(g, new Set());
  const broadcast = vis.edges.filter((e) => e.broadcast);
  assert.ok(broadcast.length >= 4, `the timestep fan is drawn (${broadcast.length} broadcast edges)`);
  const elkIn = toElk(vis, (it) => size(it.kind));
  const before = JSON.stringify(elkIn);
  const quick = quickLayout(elkIn);
  assert.ok(quick, 'a flat graph gets a provisional layout');
  assert.equal(JSON.stringify(elkIn), before, 'the input (also sent to ELK) is left as it was');
  const layout = fromElk(quick);
  assertDrawable(vis, layout);
  const y = (k: string) => layout.boxes.get(k)!.y;
  assert.ok(y('m:conv_in') < y('m:down_blocks.0') && y('m:down_blocks.0') < y('m:mid_block') && y('m:mid_block') < y('m:up_blocks.0') && y('m:up_blocks.0') < y('m:conv_out'));
  // one bus per broadcast source, right of everything it feeds
  for (const e of broadcast) {
    const pts = layout.edges.get(e.key)!;
    const lane = pts[1].x;
    assert.ok(lane > layout.boxes.get(e.src)!.x + layout.boxes.get(e.src)!.w && lane > layout.boxes.get(e.dst)!.x + layout.boxes.get(e.dst)!.w, `${e.key} runs right of its ends`);
    assert.equal(new Set(broadcast.filter((f) => f.src === e.src).map((f) => layout.edges.get(f.key)![1].x)).size, 1, `${e.src}'s edges share one bus`);
  }
});

test('ELK leaves broadcast edges to the bus and still lays out the rest, at module level and expanded', async () => {
  const g = new ViewGraph(syntheticUnet({ depth: 1 }));
  const elk = new ELK();
  for (const expanded of [new Set<string>(), new Set(['down_blocks.1', 'down_blocks.1.attentions.0'])]) {
    const vis = computeVisible(g, expanded);
    const elkIn = toElk(vis, (it) => size(it.kind));
    if (expanded.size) assert.equal(quickLayout(elkIn), undefined, 'groups are left to ELK');
    const layout = fromElk(await elk.layout(elkIn));
    for (const it of vis.items) assert.ok(layout.boxes.get(it.key), `box for ${it.key}`);
    for (const e of vis.edges) assert.ok((layout.edges.get(e.key)?.length ?? 0) >= 2, `route for ${e.key}`);
    if (!expanded.size) assertDrawable(vis, layout);
  }
});
