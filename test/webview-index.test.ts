// The webview against the real host pipeline: a torch-exported U-Net is read and indexed by
// src/core/graph, sent through postMessage's JSON, drawn at module level and expanded, and laid
// out by the same ELK build the webview's worker runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ELK from 'elkjs/lib/elk.bundled.js';
import { analyzeModel, buildGraphIndex } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { parseToWebview, type GraphIndex } from '../src/protocol/webview';
import { fromElk, toElk, warmUpGraph } from '../webview-ui/src/model/elkGraph';
import { ViewGraph } from '../webview-ui/src/model/graph';
import { computeVisible } from '../webview-ui/src/model/visible';

const MODEL = 'test/fixtures/graph/tiny_unet_static.onnx';

async function index(): Promise<GraphIndex> {
  const a = await analyzeModel(await readModel(MODEL));
  const msg = parseToWebview(JSON.parse(JSON.stringify({ type: 'init', graph: buildGraphIndex(a), modelName: 'tiny', modelPath: MODEL })));
  assert.equal(msg.type, 'init');
  return msg.type === 'init' ? msg.graph! : (undefined as never);
}

const size = (kind: string) => ({ w: kind === 'node' ? 90 : 160, h: kind === 'node' ? 36 : 48 });

test('an exported U-Net opens at module level: top-level blocks, chained by merged edges', async () => {
  const g = new ViewGraph(await index());
  const vis = computeVisible(g, new Set());
  const blocks = vis.items.filter((i) => i.kind === 'block').map((i) => i.moduleId);
  for (const id of ['conv_in', 'down_blocks.0', 'up_blocks.0', 'conv_out']) assert.ok(blocks.includes(id), `${id} in ${blocks.join(', ')}`);
  assert.ok(vis.items.length < 30, `module level stays small (${vis.items.length} items)`);
  // the data path runs sample → conv_in → … → conv_out → output through drawn edges
  const next = new Map<string, string[]>();
  for (const e of vis.edges) next.set(e.src, [...(next.get(e.src) ?? []), e.dst]);
  const reach = new Set<string>();
  const stack = ['i:sample'];
  while (stack.length) {
    const k = stack.pop()!;
    if (reach.has(k)) continue;
    reach.add(k);
    stack.push(...(next.get(k) ?? []));
  }
  assert.ok(reach.has('m:conv_out'), 'conv_out reachable from the sample input');
  assert.ok([...reach].some((k) => k.startsWith('o:')), 'a graph output reachable');
  // edges only ever join drawn items
  for (const e of vis.edges) assert.ok(vis.byKey.has(e.src) && vis.byKey.has(e.dst), e.key);
});

test('ELK lays out the module level and an expansion: every drawn item gets a box, every edge a route', async () => {
  const g = new ViewGraph(await index());
  const elk = new ELK();
  const firstDown = g.root.children.find((c) => c.startsWith('down_blocks.'))!;
  for (const expanded of [new Set<string>(), new Set([firstDown, ...g.modules.get(firstDown)!.children.filter((c) => g.expandable(c))])]) {
    const vis = computeVisible(g, expanded);
    const layout = fromElk(await elk.layout(toElk(vis, (it) => size(it.kind))));
    for (const it of vis.items) {
      const b = layout.boxes.get(it.key);
      assert.ok(b && b.w > 0 && b.h > 0, `box for ${it.key}`);
      if (it.parent) {
        const p = layout.boxes.get(it.parent)!;
        assert.ok(b.x >= p.x && b.y >= p.y && b.x + b.w <= p.x + p.w + 0.5 && b.y + b.h <= p.y + p.h + 0.5, `${it.key} inside its group ${it.parent}`);
      }
    }
    for (const e of vis.edges) assert.ok((layout.edges.get(e.key)?.length ?? 0) >= 2, `route for ${e.key}`);
    // top to bottom: the first block sits above the last
    const first = layout.boxes.get('m:conv_in')!;
    const last = layout.boxes.get('m:conv_out')!;
    assert.ok(first.y < last.y);
  }
});

test('the worker warm-up graph is a valid compound layout', async () => {
  const out = fromElk(await new ELK().layout(warmUpGraph()));
  assert.ok(out.boxes.get('g2')!.h > 0 && out.edges.get('r1')!.length >= 2);
  const g1 = out.boxes.get('g1')!;
  const q = out.boxes.get('q')!;
  assert.ok(q.x >= g1.x && q.y >= g1.y, 'nested node inside its group');
});
