// The predicted quality drop of a prune set: the sum of its latent scores always, and a metric drop
// from a fit through the origin when the pipeline's report.json (ld-surgeon report) holds each
// candidate's score beside its measured drop; otherwise it says how to get one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultReportDir, describePredicted, fitThroughOrigin, predictDrop, predictForPrune, readCalibration, renderPruneSummary, UNCALIBRATED_NOTE, type PruneRecord } from '../src/core/prune';
import { QUALITY_REPORT_SCHEMA } from '../src/core/scoring/quality-report';
import { tempDir } from './pipeline-fixtures';

const CANDIDATES = [
  { id: 'a', score: 0.01 },
  { id: 'b', score: 0.02 },
  { id: 'c', score: 0.05 },
  { id: 'd', score: null },
];

/** a report.json as `ld-surgeon report` writes it, reduced to what the calibration reads */
function plantReport(pipeline: string, singles: { id: string; score: number; loss: number }[], extra: Record<string, unknown> = {}): string {
  const dir = defaultReportDir(pipeline);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'report.json');
  writeFileSync(path, JSON.stringify({
    schema: QUALITY_REPORT_SCHEMA, pipeline, quality: 'FID (digits features)', samples: 200,
    scoring: { samples: 8, steps: 10, granularity: 'blocks', variant: 'avg+std', seed: 0 },
    faithfulness: { rho: 1, rhoLatent: 1, singles: singles.map((s) => ({ ...s, latentDistance: s.score })) },
    ...extra,
  }));
  return path;
}

test('without a calibration the prediction is the sum of the set\'s latent scores and says how to get a metric', () => {
  const p = predictDrop(CANDIDATES, ['a', 'c', 'd']);
  assert.ok(Math.abs(p.latentScore - 0.06) < 1e-12);
  assert.equal(p.scored, 2);
  assert.deepEqual(p.unscored, ['d']);
  assert.equal(p.metric, undefined);
  assert.equal(p.note, UNCALIBRATED_NOTE);
  assert.match(describePredicted(p), /latent score 0\.0600 \(sum of 2; 1 unscored not counted\) · latent units only; run ld-surgeon report for a metric prediction/);
  // rejecting a candidate changes the prediction
  assert.ok(Math.abs(predictDrop(CANDIDATES, ['a']).latentScore - 0.01) < 1e-12);
});

test('the fit goes through the origin: slope = Σxy / Σx², with its n and Spearman ρ', () => {
  const fit = fitThroughOrigin([{ score: 1, drop: 2 }, { score: 2, drop: 3 }, { score: 3, drop: 7 }])!;
  assert.ok(Math.abs(fit.slope - (2 + 6 + 21) / (1 + 4 + 9)) < 1e-12);
  assert.equal(fit.n, 3);
  assert.equal(fit.rho, 1);
  assert.equal(fitThroughOrigin([{ score: 1, drop: 2 }]), undefined, 'one point is no fit');
  assert.equal(fitThroughOrigin([{ score: 0, drop: 1 }, { score: 0, drop: 2 }]), undefined, 'all-zero scores give no slope');
});

test("a planted report.json beside the pipeline calibrates the prune's prediction in the metric", () => {
  const t = tempDir('predicted-');
  try {
    const pipeline = join(t.dir, 'digits');
    mkdirSync(pipeline);
    // drop = 40 × score exactly, so the fit recovers 40 and the ranks agree
    const path = plantReport(pipeline, [
      { id: 'a', score: 0.01, loss: 0.4 }, { id: 'b', score: 0.02, loss: 0.8 }, { id: 'c', score: 0.05, loss: 2.0 }, { id: 'x', score: 0.1, loss: 4.0 },
    ]);
    const cal = readCalibration(path)!;
    assert.equal(cal.metric, 'FID (digits features)');
    assert.equal(cal.points.length, 4);
    const p = predictForPrune([{ id: 'a', score: 0.01 }, { id: 'c', score: 0.05 }], pipeline, 'avg+std');
    assert.ok(Math.abs(p.latentScore - 0.06) < 1e-12);
    assert.ok(p.metric, 'calibrated');
    assert.ok(Math.abs(p.metric.drop - 40 * 0.06) < 1e-9, `predicted drop ${p.metric.drop}`);
    assert.equal(p.metric.n, 4);
    assert.equal(p.metric.rho, 1);
    assert.equal(p.metric.source, path);
    assert.match(describePredicted(p), /predicted FID \(digits features\) \+2\.400 \(fit through the origin, n=4, ρ 1\.00\)/);

    // the summary prints the prediction beside the measured latent score
    const rec = { source: { model: 'm.onnx' }, output: { model: 'o.onnx', record: 'o.prune.json' }, selection: { mode: 'ops' }, removed: [], subsumed: [], graph: { removedInputs: [] },
      before: { params: 10, flops: 10, fileBytes: 10 }, after: { params: 5, flops: 5, fileBytes: 5 }, checks: [],
      latents: { variant: 'avg+std', samples: 4, score: 0.07, identical: false }, predicted: p } as unknown as PruneRecord;
    const text = renderPruneSummary(rec);
    assert.match(text, /latent score of the combined prune \(avg\+std, 4 samples\): 0\.0700\n\npredicted from the scores: latent score 0\.0600 \(sum of 2\) · predicted FID/);

    // scores of another formula are not fitted on this report
    const other = predictForPrune([{ id: 'a', score: 0.01 }], pipeline, 'avg');
    assert.equal(other.metric, undefined);
    assert.match(other.note!, /fitted on avg\+std scores, this prune ranked by avg; run ld-surgeon report again/);

    // a report without per-candidate measurements (--no-singles) leaves the latent units
    plantReport(pipeline, [], { faithfulness: undefined });
    assert.equal(predictForPrune([{ id: 'a', score: 0.01 }], pipeline, 'avg+std').note, UNCALIBRATED_NOTE);
  } finally {
    t.done();
  }
});

test('a broken report.json is named in the note; the prune still gets its latent prediction', () => {
  const t = tempDir('predicted-bad-');
  try {
    const pipeline = join(t.dir, 'p');
    mkdirSync(defaultReportDir(pipeline), { recursive: true });
    const path = join(defaultReportDir(pipeline), 'report.json');
    writeFileSync(path, JSON.stringify({ schema: 'something/else' }));
    assert.throws(() => readCalibration(path), (e: Error) => e.message.startsWith(`${path}: not a quality report`));
    const p = predictForPrune([{ id: 'a', score: 0.5 }], pipeline, 'avg+std');
    assert.equal(p.latentScore, 0.5);
    assert.equal(p.metric, undefined);
    assert.match(p.note!, /latent units only: .*report\.json: not a quality report/);
    writeFileSync(path, JSON.stringify({ schema: QUALITY_REPORT_SCHEMA, faithfulness: { singles: [{ id: 'a', score: 'x', loss: 1 }] } }));
    assert.throws(() => readCalibration(path), /faithfulness\.singles\[0\] needs a string id and numeric score and loss/);
  } finally {
    t.done();
  }
});
