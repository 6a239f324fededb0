// Budget selection for the Suggested prunes panel (webview-ui/src/model/budget.ts): greedy lowest
// score first, nested candidates never counted twice, unmodifiable ones never taken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dottedAncestors, predictSavings, rankCandidates, selectForBudget, selectionRoots, toggleCandidate } from '../webview-ui/src/model/budget';
import { ViewGraph } from '../webview-ui/src/model/graph';
import { result, tinyUnet } from './webview-fixture';

const totals = { params: 1000, flops: 10_000 };

// a block with two scored layers inside it, plus two independent layers
const nested = [
  result('down.0.attn', 0.5, 300, 3000, 0.3),
  result('down.0.attn.to_q', 0.01, 50, 500, 0.05),
  result('down.0.attn.to_k', 0.02, 60, 600, 0.06),
  result('up.0.conv1', 0.1, 200, 2000, 0.2),
  result('up.0.conv2', 0.3, 100, 1000, 0.1),
];

test('greedy takes the lowest scores first and stops once the target is met', () => {
  const sel = selectForBudget(nested, { metric: 'params', percent: 30 }, totals);
  // to_q (50) → to_k (110) → conv1 (310 ≥ 300): stop
  assert.deepEqual(sel.ids, ['down.0.attn.to_q', 'down.0.attn.to_k', 'up.0.conv1']);
  assert.equal(sel.savings.params, 310);
  assert.equal(sel.savings.paramsPct, 31);
  assert.ok(sel.reached);
});

test('a block taken after layers inside it replaces them and is counted once', () => {
  const sel = selectForBudget(nested, { metric: 'params', percent: 55 }, totals);
  // to_q, to_k, conv1, conv2 = 410 < 550; then the block: +300 - (50+60)
  assert.deepEqual(sel.ids.sort(), ['down.0.attn', 'up.0.conv1', 'up.0.conv2']);
  assert.equal(sel.savings.params, 600, 'not 710: the layers inside the block are part of its 300');
  assert.equal(sel.savings.flops, 6000);
  assert.ok(Math.abs(sel.savings.latency - 0.6) < 1e-12);
});

test('a candidate inside an already chosen block is skipped', () => {
  const rs = [result('mid', 0.01, 500, 5000, 0.5), result('mid.attn', 0.02, 100, 1000, 0.1), result('out', 0.03, 100, 1000, 0.1)];
  const sel = selectForBudget(rs, { metric: 'params', percent: 60 }, totals);
  assert.deepEqual(sel.ids, ['mid', 'out']);
  assert.equal(sel.savings.params, 600);
});

test('unmodifiable and unscored candidates are never taken, however low they rank', () => {
  const rs = [
    result('time_embedding', 0.0001, 400, 100, 0.05, 'none'),
    result('broken', null, 400, 100, 0.05),
    result('a', 0.5, 100, 100, 0.1),
    result('b', 0.6, 100, 100, 0.1, 'replace'),
  ];
  const sel = selectForBudget(rs, { metric: 'params', percent: 100 }, totals);
  assert.deepEqual(sel.ids, ['a', 'b']);
  assert.equal(sel.reached, false, 'only 20% of the params are prunable');
  assert.deepEqual(rankCandidates(rs).map((r) => r.id), ['a', 'b']);
});

test('candidates that save nothing on the budget metric are not taken', () => {
  const rs = [result('no-latency', 0.01, 100, 100), result('measured', 0.02, 100, 100, 0.2)];
  const sel = selectForBudget(rs, { metric: 'latency', percent: 10 }, totals);
  assert.deepEqual(sel.ids, ['measured']);
  assert.equal(sel.savings.latencyPct, 20);
});

test('a zero budget selects nothing', () => {
  const sel = selectForBudget(nested, { metric: 'flops', percent: 0 }, totals);
  assert.deepEqual(sel.ids, []);
  assert.equal(sel.savings.flops, 0);
});

test('predicted savings of a hand-made selection count nested members once', () => {
  const byId = new Map(nested.map((r) => [r.id, r]));
  const s = predictSavings(['down.0.attn.to_q', 'down.0.attn', 'up.0.conv2'], byId, totals);
  assert.deepEqual(s.roots, ['down.0.attn', 'up.0.conv2']);
  assert.equal(s.params, 400);
  assert.equal(s.flopsPct, 40);
  const unknown = predictSavings(['x'], new Map([['x', result('x', 0.1, 10, 10)]]), totals);
  assert.equal(unknown.latencyUnknown, 1, 'a candidate without a latency share is reported, not guessed');
});

test('checking a block absorbs checked layers inside it; a covered layer cannot be checked', () => {
  let sel = toggleCandidate(new Set(), 'down.0.attn.to_q');
  sel = toggleCandidate(sel, 'up.0.conv1');
  sel = toggleCandidate(sel, 'down.0.attn');
  assert.deepEqual([...sel].sort(), ['down.0.attn', 'up.0.conv1']);
  assert.deepEqual([...toggleCandidate(sel, 'down.0.attn.to_k')].sort(), ['down.0.attn', 'up.0.conv1']);
  assert.deepEqual([...toggleCandidate(sel, 'down.0.attn')], ['up.0.conv1']);
});

test('module nesting comes from the graph: down.1 is not inside down.10, a node is inside its module', () => {
  assert.deepEqual(dottedAncestors('down_blocks.1.attentions.0.proj_in'), ['down_blocks.1.attentions.0', 'down_blocks.1.attentions', 'down_blocks.1', 'down_blocks']);
  assert.deepEqual(selectionRoots(['down_blocks.10.x', 'down_blocks.1']), ['down_blocks.10.x', 'down_blocks.1']);
  const g = new ViewGraph(tinyUnet());
  const ancestorsOf = (id: string) => (g.modules.has(id) ? g.moduleChain(id).slice(0, -1) : g.moduleChain(g.nodes[g.nodeIndex.get(id)!].module));
  const rs = [result('/down.0/resnets.0/Add', 0.01, 0, 100, 0.01), result('down.0.resnets.0', 0.02, 450, 8100, 0.5)];
  const sel = selectForBudget(rs, { metric: 'flops', percent: 50 }, { params: 1500, flops: 16_000 }, ancestorsOf);
  assert.deepEqual(sel.ids, ['down.0.resnets.0'], 'the node-level candidate is absorbed by its ResNet');
  assert.equal(sel.savings.flops, 8100);
});
