// LD-Pruner's statistics and score variants, settings parsing, and profile attribution.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { distances, latentStats, spearman, variants } from '../src/core/scoring/stats';
import { parseBudget, parseShard, resolveSettings } from '../src/core/scoring/settings';
import { attributeProfile } from '../src/core/scoring/profile';
import { UserError } from '../src/core/errors';
import type { Node } from '../src/core/onnx/types';

test('mean and std over the sample axis per element; distances are L2 norms, not squared', () => {
  // 2 samples × 2 elements: element 0 = {1, 3}, element 1 = {2, 2}
  const orig = latentStats(Float32Array.from([1, 2, 3, 2]), 2);
  assert.deepEqual([...orig.mean], [2, 2]);
  assert.deepEqual([...orig.std], [1, 0]);
  // shift element 0 by +3 and element 1 by +4: ‖Δmean‖ = 5; spread unchanged
  const shifted = latentStats(Float32Array.from([4, 6, 6, 6]), 2);
  const d = distances(orig, shifted);
  assert.equal(d.avg, 5);
  assert.equal(d.std, 0);
  // collapse to the mean: Δstd = (1, 0) → 1
  const collapsed = latentStats(Float32Array.from([2, 2, 2, 2]), 2);
  assert.deepEqual(distances(orig, collapsed), { avg: 0, std: 1 });
  const v = variants({ avg: 3, std: 4 });
  assert.deepEqual(v, { avg: 3, std: 4, 'avg+std': 7, 'avg*std': 12 });
  assert.equal(variants({ avg: NaN, std: 1 })['avg+std'], Infinity, 'NaN latents rank as most important');
  assert.throws(() => latentStats(new Float32Array(5), 2));
});

test('Spearman rank correlation', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Math.abs(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) - 0.8) < 1e-12);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
});

test('settings: defaults, validation, shard and budget parsing', () => {
  const s = resolveSettings({});
  assert.equal(s.samples, 16);
  assert.equal(s.steps, 25);
  assert.equal(s.variant, 'avg+std');
  assert.equal(s.granularity, 'both');
  assert.equal(s.optLevel, 'extended');
  assert.throws(() => resolveSettings({ samples: 1 }), /samples must be an integer ≥ 2/);
  assert.throws(() => resolveSettings({ variant: 'max' as never }), UserError);
  assert.throws(() => resolveSettings({ shard: { index: 0, count: 2 }, iterative: { count: 2 } }), /cannot be combined/);
  assert.deepEqual(parseShard('2/4'), { index: 1, count: 4 });
  assert.throws(() => parseShard('5/4'), UserError);
  assert.throws(() => parseShard('x'), UserError);
  assert.deepEqual(parseBudget('8'), { count: 8 });
  assert.deepEqual(parseBudget('25%'), { fraction: 0.25 });
  assert.deepEqual(parseBudget('0.1'), { fraction: 0.1 });
  assert.throws(() => parseBudget('1.5'), UserError);
});

test('profile events are attributed to original nodes through renamed, fused kernels; gate nodes are left out', () => {
  const node = (name: string, out: string): Node => ({ name, opType: 'X', domain: '', inputs: [], outputs: [out], attributes: [] });
  const nodes = [node('/a/conv1/Conv', '/a/conv1/Conv_output_0'), node('/a/act/Mul', '/a/act/Mul_output_0'), node('/b/Add', '/b/Add_output_0')];
  const ev = (name: string, dur: number) => ({ cat: 'Node', name: `${name}_kernel_time`, dur });
  const events = [
    { name: 'model_run' }, { name: 'model_run' }, { name: 'model_run' },
    ev('/a/conv1/Conv_output_0_nchwc', 10), ev('/a/conv1/Conv_output_0_nchwc', 12), ev('/a/conv1/Conv_output_0_nchwc', 11),
    ev('/a/act/Mul/QuickGeluFusion/', 4), ev('/a/act/Mul/QuickGeluFusion/', 4), ev('/a/act/Mul/QuickGeluFusion/', 4),
    ev('/b/Add', 2), ev('/b/Add', 1000), ev('/b/Add', 2), // one preempted run: the median ignores it
    ev('ReorderOutput_token_3', 3), ev('ReorderOutput_token_3', 3), ev('ReorderOutput_token_3', 3),
    ev('/a/ld_surgeon_gate_Where', 50), ev('/a/ld_surgeon_gate_Where', 50), ev('/a/ld_surgeon_gate_Where', 50),
  ];
  const t = attributeProfile(events, nodes);
  assert.equal(t.runs, 3);
  assert.equal(t.byNode.get(0), 33);
  assert.equal(t.byNode.get(1), 12);
  assert.equal(t.byNode.get(2), 6);
  assert.equal(t.unattributedUs, 9);
  assert.equal(t.totalUs, 33 + 12 + 6 + 9);
});
