// Expanding blocks of the synthetic SD U-Net: the layout of an expanded path (every group round its
// children, siblings apart, edges from their source's border to their target's), and the layout
// cache with the expansions laid out ahead (webview-ui/src/layout/layoutCache.ts): a prefetched or
// running layout is the one a click gets, without another ELK run, and the same picture comes back
// after expand → collapse → expand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkNode } from 'elkjs/lib/elk-api';
import { fromElk, toElk, type Box, type Layout } from '../webview-ui/src/model/elkGraph';
import { ViewGraph } from '../webview-ui/src/model/graph';
import { computeVisible, type VisibleGraph } from '../webview-ui/src/model/visible';
import { LayoutCache } from '../webview-ui/src/layout/layoutCache';
import { syntheticUnet } from '../webview-ui/dev/syntheticUnet';
import { assertEdgesRouted, CHAIN, inside, overlap, size } from './helpers/layout-geometry';

const g = new ViewGraph(syntheticUnet({ depth: 1 }));
const inputOf = (expanded: string[]) => toElk(computeVisible(g, new Set(expanded)), (it) => size(it.kind));

/** Each group holds its children, no two siblings overlap, each laid-out edge runs orthogonally from its source's border to its target's. */
function assertExpandedDrawable(vis: VisibleGraph, layout: Layout): void {
  const siblings = new Map<string | null, string[]>();
  for (const it of vis.items) {
    const b = layout.boxes.get(it.key);
    assert.ok(b && b.w > 0 && b.h > 0, `box for ${it.key}`);
    if (it.parent !== null) assert.ok(inside(b, layout.boxes.get(it.parent)!), `${it.key} lies inside its group ${it.parent}`);
    siblings.set(it.parent, [...(siblings.get(it.parent) ?? []), it.key]);
  }
  for (const [parent, keys] of siblings) {
    for (let i = 0; i < keys.length; i++) {
      for (let j = i + 1; j < keys.length; j++) {
        assert.ok(!overlap(layout.boxes.get(keys[i])!, layout.boxes.get(keys[j])!), `${keys[i]} and ${keys[j]} (in ${parent ?? 'the top level'}) overlap`);
      }
    }
  }
  assertEdgesRouted(vis, layout);
}

/** An ELK run that counts itself and records what it laid out, in order. */
function countingElk() {
  const elk = new ELK();
  const order: string[] = [];
  const run = async (graph: ElkNode) => {
    order.push(LayoutCache.keyOf(graph));
    return elk.layout(graph);
  };
  return { run, order };
}

const until = async (cond: () => boolean, what: string) => {
  const end = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('each step of the deepest expansion (down_blocks.1 → … → attn1) is a drawable nested layout', async () => {
  const elk = new ELK();
  for (let i = 1; i <= CHAIN.length; i++) {
    const vis = computeVisible(g, new Set(CHAIN.slice(0, i)));
    assert.ok(vis.byKey.get(`m:${CHAIN[i - 1]}`)?.kind === 'group', `${CHAIN[i - 1]} shows as a group`);
    const layout = fromElk(await elk.layout(toElk(vis, (it) => size(it.kind))));
    assertExpandedDrawable(vis, layout);
  }
});

test('an expansion laid out ahead is the layout the click gets, with no second ELK run', async () => {
  const { run, order } = countingElk();
  const cache = new LayoutCache(run, { idleMs: 0 });
  const next = [[CHAIN[0]], ['down_blocks.2'], ['mid_block']];
  cache.prefetch(next.map((e) => () => inputOf(e)));
  await until(() => order.length === 3 && next.every((e) => cache.get(inputOf(e))), 'the prefetches');
  const clicked = await cache.layout(inputOf([CHAIN[0]]));
  assert.equal(order.length, 3, 'the click ran no layout of its own');
  assert.deepEqual(fromElk(clicked), fromElk(await new ELK().layout(inputOf([CHAIN[0]]))), 'the prefetched layout is ELK\'s layout of that graph');
  assertExpandedDrawable(computeVisible(g, new Set([CHAIN[0]])), fromElk(clicked));
  cache.dispose();
});

test('a click on the block being laid out ahead waits for that run; other prefetches wait for the click', async () => {
  const { run, order } = countingElk();
  const cache = new LayoutCache(run, { idleMs: 0 });
  // the pointer is on down_blocks.1: its layout starts at once
  cache.prefetchFirst(inputOf([CHAIN[0]]));
  await until(() => order.length === 1, 'the hovered block\'s layout to start');
  cache.prefetch([() => inputOf(['up_blocks.1']), () => inputOf(['up_blocks.2'])]);
  const [a, b] = await Promise.all([cache.layout(inputOf([CHAIN[0]])), cache.layout(inputOf(CHAIN.slice(0, 2)))]);
  assert.ok(a && b);
  assert.equal(order[0], LayoutCache.keyOf(inputOf([CHAIN[0]])), 'the click shared the hovered block\'s run');
  assert.equal(order[1], LayoutCache.keyOf(inputOf(CHAIN.slice(0, 2))), 'the next click ran before the queued prefetches');
  await until(() => order.length === 4, 'the prefetches to resume');
  assert.deepEqual(order.slice(2), [LayoutCache.keyOf(inputOf(['up_blocks.1'])), LayoutCache.keyOf(inputOf(['up_blocks.2']))]);
  cache.dispose();
});

test('a prefetch whose input cannot be made any more is skipped; the next one still runs', async () => {
  const { run, order } = countingElk();
  const cache = new LayoutCache(run, { idleMs: 0 });
  cache.prefetch([() => { throw new Error('the block is gone'); }, () => inputOf(['mid_block'])]);
  await until(() => order.length === 1, 'the second prefetch');
  assert.equal(order[0], LayoutCache.keyOf(inputOf(['mid_block'])));
  cache.dispose();
});

test('expand → collapse → expand draws the same picture from the cache', async () => {
  const { run, order } = countingElk();
  const cache = new LayoutCache(run, { idleMs: 60_000 });
  const states = [[], CHAIN.slice(0, 2), [], CHAIN.slice(0, 2)];
  const drawn: Layout[] = [];
  for (const s of states) drawn.push(fromElk(await cache.layout(inputOf(s))));
  assert.equal(order.length, 2, 'the second expand and collapse ran no layout');
  assert.deepEqual(drawn[3], drawn[1]);
  assert.deepEqual(drawn[2], drawn[0]);
  cache.dispose();
});
