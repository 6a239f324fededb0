// Depth stacks in the webview's model: what the canvas draws for one (webview-ui/src/model/visible.ts), which
// index entries it trusts (model/stacks.ts) and "the k lowest of this stack" on the prune selection
// (model/stackSelection.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GraphIndex } from '../src/core/graph/graph-index';
import type { CandidateResult } from '../src/protocol/webview';
import { ViewGraph } from '../webview-ui/src/model/graph';
import { selectStackLowest } from '../webview-ui/src/model/stackSelection';
import { computeVisible, visibleKeyOf } from '../webview-ui/src/model/visible';
import { buildIndex } from './webview-fixture';

/** embed → blocks.0..3 (MatMul + residual Add each) → out */
function tinyDit(stacks: GraphIndex['stacks'] | null = [{ id: 'blocks', parent: '', members: ['blocks.0', 'blocks.1', 'blocks.2', 'blocks.3'] }]): GraphIndex {
  const nodes: [string, string, string, string[], string[]][] = [['/embed/Gemm', 'Gemm', 'embed', ['x', 'we'], ['h']]];
  let h = 'h';
  for (let i = 0; i < 4; i++) {
    nodes.push([`/blocks.${i}/lin/MatMul`, 'MatMul', `blocks.${i}.lin`, [h, `w${i}`], [`m${i}`]]);
    nodes.push([`/blocks.${i}/Add`, 'Add', `blocks.${i}`, [h, `m${i}`], [`h${i}`]]);
    h = `h${i}`;
  }
  nodes.push(['/out/Gemm', 'Gemm', 'out', [h, 'wo'], ['y']]);
  const index = buildIndex(nodes, { inputs: ['x'], outputs: ['y'], initializers: ['we', 'w0', 'w1', 'w2', 'w3', 'wo'] });
  if (stacks) index.stacks = stacks;
  return index;
}

test('a stack draws as one item where its blocks were; edges into and out of it merge, those between its blocks vanish', () => {
  const g = new ViewGraph(tinyDit());
  const vis = computeVisible(g, new Set());
  assert.deepEqual(vis.items.map((i) => i.key), ['i:x', 'm:embed', 's:blocks', 'm:out', 'o:y']);
  assert.equal(vis.byKey.get('s:blocks')!.kind, 'stack');
  assert.deepEqual(vis.edges.map((e) => e.key).sort(), ['i:x>m:embed', 'm:embed>s:blocks', 'm:out>o:y', 's:blocks>m:out']);
  // a member, a node inside one and the stack itself are all shown by the stack item
  assert.equal(visibleKeyOf(g, vis, { module: 'blocks.2' }), 's:blocks');
  assert.equal(visibleKeyOf(g, vis, { node: g.nodeIndex.get('/blocks.1/lin/MatMul') }), 's:blocks');
  assert.equal(visibleKeyOf(g, vis, { stack: 'blocks' }), 's:blocks');
});

test('opened, or with something expanded inside a block, the stack draws block by block', () => {
  const g = new ViewGraph(tinyDit());
  const opened = computeVisible(g, new Set(), new Set(['blocks']));
  assert.deepEqual(opened.items.map((i) => i.key), ['i:x', 'm:embed', 'm:blocks.0', 'm:blocks.1', 'm:blocks.2', 'm:blocks.3', 'm:out', 'o:y']);
  assert.equal(visibleKeyOf(g, opened, { stack: 'blocks' }), undefined, 'the stack item is gone (its parent, the model, is no item)');
  const inside = computeVisible(g, new Set(['blocks.2']));
  assert.ok(inside.byKey.has('m:blocks.2') && inside.byKey.get('m:blocks.2')!.kind === 'group');
  assert.ok(!inside.byKey.has('s:blocks'));
});

test('index entries the view cannot draw as a stack are dropped (the blocks then draw one by one)', () => {
  for (const bad of [
    [{ id: 'blocks', parent: 'embed', members: ['blocks.0', 'blocks.1', 'blocks.2'] }], // not their parent
    [{ id: 'blocks', parent: '', members: ['blocks.0', 'blocks.1', 'nope'] }], // unknown module
    [{ id: 'blocks', parent: '', members: ['blocks.0', 'blocks.0', 'blocks.1'] }], // repeated member
    [{ id: 'blocks', parent: '', members: 'blocks.0' }], // not a list
  ] as unknown as GraphIndex['stacks'][]) {
    const g = new ViewGraph(tinyDit(bad));
    assert.deepEqual(g.stacks, [], JSON.stringify(bad));
    assert.ok(computeVisible(g, new Set()).byKey.has('m:blocks.1'));
  }
  // without the field (an index from before stacks) nothing changes either
  assert.deepEqual(new ViewGraph(tinyDit(null)).stacks, []);
});

const result = (id: string, score: number | null, modification: CandidateResult['modification'] = 'remove'): CandidateResult => ({ id, score, params: 10, flops: 10, modification });

test('the k lowest of a stack replace its part of the prune selection; other candidates stay; k and scores are checked', () => {
  const g = new ViewGraph(tinyDit());
  const st = g.stackById.get('blocks')!;
  const scores = new Map([result('blocks.0', 0.4), result('blocks.1', 0.1), result('blocks.2', 0.3), result('blocks.3', 0.2), result('embed', 0.01), result('blocks.0.lin', 0.05)].map((r) => [r.id, r]));
  const get = (id: string) => scores.get(id);
  const anc = (id: string) => g.moduleChain(id).slice(0, -1);

  // blocks.0 and a layer inside blocks.2 were selected: the stack's part becomes its 2 lowest, embed stays
  const r = selectStackLowest(new Set(['embed', 'blocks.0', 'blocks.2.lin']), st, 2, get, anc);
  assert.ok(!('error' in r));
  assert.deepEqual(r.picked, ['blocks.1', 'blocks.3']);
  assert.deepEqual([...r.selected].sort(), ['blocks.1', 'blocks.3', 'embed']);

  for (const k of [0, 4, 1.5]) {
    const bad = selectStackLowest(new Set(), st, k, get, anc);
    assert.ok('error' in bad && /^k must be a whole number from 1 to 3 \(the stack has 4 blocks; at least one stays\)$/.test(bad.error), `k = ${k}`);
  }
  scores.set('blocks.2', result('blocks.2', null));
  const partial = selectStackLowest(new Set(), st, 1, get, anc);
  assert.ok('error' in partial && /1 of the 4 blocks of blocks have no score yet \(blocks\.2\)/.test(partial.error));
  scores.set('blocks.2', result('blocks.2', null, 'none'));
  scores.set('blocks.1', result('blocks.1', null, 'none'));
  const fixed = selectStackLowest(new Set(), st, 3, get, anc);
  assert.ok('error' in fixed && /only 2 of the 4 blocks of blocks can be removed/.test(fixed.error));
});
