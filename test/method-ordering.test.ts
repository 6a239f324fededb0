// The method's claim, checked in CI on a shipped trained pipeline (a reduced bench/quality): pruning
// the k lowest-scored blocks keeps FID better than pruning the k highest, and no worse than the
// median of 3 random k-block prunes (within the noise this run measures on a second, disjoint sample
// set). Also `ld-surgeon report` on a user's pipeline without a metric: latent distance only, said so.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runScoreJob } from '../src/core/scoring/job';
import { qualityOf, runQualityReport } from '../src/core/scoring/quality-report';
import { renderQualityMarkdown } from '../src/core/scoring/quality-report-format';
import { defaultScoreFile } from '../src/core/scoring/target';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'bin', 'ld-surgeon.js');
const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-method-ordering-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const scores = join(dir, 'digits-uncond.ldscores.json');

test('on digits-uncond, the k lowest-scored blocks pruned keep FID better than the k highest and no worse than random (k = 2, 4; n = 128, paired)', async (t) => {
  const pipeline = join(ROOT, 'examples', 'digits-uncond');
  const scored = await runScoreJob({ target: pipeline, settings: { samples: 8, steps: 5, granularity: 'block', ep: 'cpu', profile: false }, out: scores });
  assert.equal(scored.state, 'done');
  const r = await runQualityReport({
    pipeline, scoresFile: scores, ks: [2, 4], randomDraws: 3, variants: ['avg+std'], singles: false, noiseK: 2, noiseRepeats: 2, latency: false,
    settings: { samples: 128, steps: 10, ep: 'cpu' },
  });
  for (const line of renderQualityMarkdown(r).split('\n')) t.diagnostic(line);
  assert.equal(r.quality, 'FID');
  assert.equal(r.rows.length, 2);
  const margin = r.noise!.std;
  assert.ok(Number.isFinite(margin) && margin > 0, `noise std ${margin}`);
  for (const row of r.rows) {
    assert.equal(row.lowest.ids.length, row.k);
    assert.equal(row.random.length, 3);
    assert.ok(row.lowest.params < r.original.params, `k=${row.k}: pruning removes parameters`);
    const low = qualityOf(row.lowest);
    assert.ok(low < qualityOf(row.highest), `k=${row.k}: lowest FID ${low} vs highest ${qualityOf(row.highest)}`);
    assert.ok(low <= row.randomMedian + margin, `k=${row.k}: lowest FID ${low} vs random median ${row.randomMedian} (+ noise ${margin})`);
  }
});

test('ld-surgeon report on a pipeline without a metric writes report.md and report.json with the latent distance only, and says so', { skip: !existsSync(join(ROOT, 'dist', 'cli.js')) && 'npm run build first' }, () => {
  const copy = join(dir, 'mine');
  cpSync(join(ROOT, 'examples', 'digits-uncond'), copy, { recursive: true, filter: (src) => !src.includes('metrics') && !src.endsWith('.ldscores.json') });
  const out = join(dir, 'mine-report');
  const r = spawnSync(process.execPath, [CLI, 'report', copy, '--scores', scores, '--n', '16', '--steps', '5', '--k', '2', '--draws', '2', '--noise-repeats', '1', '--no-singles', '--no-latency', '--ep', 'cpu', '--out', out, '--quiet'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const md = readFileSync(join(out, 'report.md'), 'utf8');
  const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  assert.equal(json.quality, 'latent distance');
  assert.match(json.qualityNote, /no metrics\/metric\.json/);
  assert.match(md, /Latent distance only/);
  assert.equal(json.original.latentDistance, 0);
  assert.ok(json.rows[0].highest.latentDistance > json.rows[0].lowest.latentDistance, 'the highest-scored blocks move the latents more');
  assert.equal(json.rows[0].highest.metric, undefined);

  // a bare model (not inside a pipeline folder) has no sampler to generate samples with
  const bare = join(dir, 'bare.onnx');
  cpSync(join(copy, 'unet', 'model.onnx'), bare);
  const bad = spawnSync(process.execPath, [CLI, 'report', bare, '--ep', 'cpu', '--quiet'], { cwd: ROOT, encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /bare\.onnx: report needs a pipeline folder/);
  assert.ok(!existsSync(defaultScoreFile(bare)), 'nothing is scored for a refused target');
});
