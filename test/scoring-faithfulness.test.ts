// Does the latent score predict quality on a shipped trained pipeline? Score its blocks, then prune
// (via gates) the k lowest, k random and k highest and measure the pipeline's own metric (FID on the
// digit classifier's features, and class accuracy). Numbers are printed as test diagnostics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderFaithfulness, runFaithfulness, pickNonOverlapping } from '../src/core/scoring/faithfulness';
import { runScoreJob } from '../src/core/scoring/job';
import type { Candidate } from '../src/core/surgery';

const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-faithfulness-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('picking k candidates never takes a block together with one of its own layers', () => {
  const c = (id: string, nodeIndices: number[]) => ({ id, nodeIndices }) as Candidate;
  const order = [c('a', [1, 2, 3]), c('a.conv', [2]), c('b', [7]), c('c', [9, 10])];
  assert.deepEqual(pickNonOverlapping(order, 3).map((x) => x.id), ['a', 'b', 'c']);
  assert.deepEqual(pickNonOverlapping(order, 1).map((x) => x.id), ['a']);
});

test('on the conditional digits pipeline, pruning the lowest-scored blocks hurts FID less than random or highest ones', async (t) => {
  const pipeline = 'examples/digits-cond';
  const scores = join(dir, 'digits-cond.ldscores.json');
  const scored = await runScoreJob({ target: pipeline, settings: { samples: 8, steps: 5, granularity: 'block', ep: 'cpu', profile: false }, out: scores });
  assert.equal(scored.state, 'done');
  const report = await runFaithfulness({ pipeline, ks: [2, 4], scoresFile: scores, randomRepeats: 3, settings: { samples: 64, steps: 5, ep: 'cpu' } });
  for (const line of renderFaithfulness(report).split('\n')) t.diagnostic(line);
  assert.equal(report.metric, 'FID');
  assert.equal(report.rows.length, 2);
  for (const row of report.rows) {
    assert.equal(row.lowest.ids.length, row.k);
    assert.ok(row.lowest.value < row.highest.value, `k=${row.k}: lowest ${row.lowest.value} vs highest ${row.highest.value}`);
    assert.ok(row.lowestBeatsRandom, `k=${row.k}: lowest ${row.lowest.value} vs random mean ${row.randomMean}`);
    assert.ok(row.lowest.classAccuracy! >= row.highest.classAccuracy!, `k=${row.k}: class accuracy lowest ${row.lowest.classAccuracy} vs highest ${row.highest.classAccuracy}`);
  }
  assert.equal(report.agreement, 1);
});
