// `ld-surgeon measure` on a copy of digits-uncond pruned by two blocks: the metric of both pipelines and
// their latent distance, paired (two runs print the same numbers; a pipeline against itself: distance 0
// and equal metrics), quality.json written and valid, the original taken from the prune record; a
// pipeline without metrics/ reports the latent distance and says why; bad input names the file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pruneModel } from '../src/core/prune';
import { QUALITY_FORMAT, readQualityRecord, type QualityRecord } from '../src/core/pipeline/measure-job';
import { copyPipeline, EXAMPLES, tempDir } from './pipeline-fixtures';

const ROOT = resolve(__dirname, '..');
const QUICK = ['--n', '16', '--steps', '3', '--seed', '5'];

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'measure', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** --json: the progress lines, then the record */
function jsonRun(...args: string[]): { progress: { fraction: number; message: string }[]; record: QualityRecord; output: string } {
  const r = cli(...args, '--json');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const result = lines.find((l) => l.type === 'result');
  assert.ok(result, r.stdout);
  return {
    progress: lines.filter((l) => l.type === 'progress') as unknown as { fraction: number; message: string }[],
    record: result.record as QualityRecord,
    output: (lines.find((l) => l.type === 'output') as { path: string }).path,
  };
}

let t: { dir: string; done: () => void };
let original: string;
let pruned: string;

before(async () => {
  t = tempDir('measure-');
  original = copyPipeline(join(EXAMPLES, 'digits-uncond'), t.dir);
  pruned = join(t.dir, 'pipeline.pruned');
  await pruneModel({ input: original, selection: { mode: 'ops', ids: ['up_blocks.2.attentions.1', 'mid_block.resnets.1'] }, out: pruned, ep: 'cpu', metric: false, samples: 2, steps: 2, latencySeconds: 0.1, minRuns: 1 });
});

after(() => t.done());

test('measure a pruned pipeline: both metrics, the latent distance, quality.json; a second run gives the same numbers', () => {
  const r = cli(pruned, ...QUICK);
  assert.equal(r.code, 0, r.stderr);
  // the table: the original from the prune record, both FIDs with spread, difference, the indicative flag
  assert.match(r.stdout, new RegExp(`${pruned} measured against ${original}`));
  assert.match(r.stdout, /16 samples, seed 5 .* 3 DDIM steps/);
  // --ep defaults to auto, as score and prune do; the table and the record say which provider ran
  assert.match(r.stdout, /^execution provider: \w+ \(asked: auto\)$/m);
  assert.match(r.stdout, /FID \(n=16\)\s+\d+\.\d{3} ±\d+\.\d{3}\s+\d+\.\d{3} ±\d+\.\d{3}\s+[+−]\d+\.\d{3}/);
  assert.match(r.stdout, /latent distance \(avg\+std\)\s+\d/);
  assert.match(r.stdout, /indicative only: only 16 samples for 64 feature dimensions/);

  const file = join(pruned, 'quality.json');
  const q = JSON.parse(readFileSync(file, 'utf8')) as QualityRecord;
  assert.deepEqual(readQualityRecord(pruned), q);
  assert.equal(q.format, QUALITY_FORMAT);
  assert.equal(q.file, file);
  assert.equal(q.pipeline.pipeline, pruned);
  assert.equal(q.original.pipeline, original);
  assert.deepEqual([q.settings.n, q.settings.seed, q.settings.steps, q.settings.scheduler], [16, 5, 3, 'ddim']);
  assert.equal(q.metric!.name, 'FID');
  assert.equal(q.metric!.original.n, 16);
  assert.ok(q.metric!.original.spread! > 0 && q.metric!.measured.spread! > 0);
  assert.notEqual(q.metric!.original.value, q.metric!.measured.value, 'two blocks removed change the FID');
  assert.equal(q.metric!.difference, q.metric!.measured.value - q.metric!.original.value);
  assert.match(q.metric!.indicative ?? '', /only 16 samples/);
  assert.ok(q.latentDistance.score > 0 && !q.latentDistance.identical);
  assert.equal(q.latentDistance.samples, 16);
  assert.ok(q.machine.cpus > 0 && q.machine.node === process.version && !Number.isNaN(Date.parse(q.createdAt)));
  assert.equal(q.executionProvider!.requested, 'auto');
  assert.deepEqual(q.machine.executionProviders, [q.executionProvider!.used]);
  assert.equal(q.executionProvider!.attempts.at(-1)!.outcome, 'used');
  assert.equal(q.noMetric, undefined);
  assert.deepEqual(readdirSync(pruned).filter((f) => f.endsWith('.tmp')), [], 'written atomically: no temporary file left');

  // paired seeds: the same command again gives the same numbers; the job-runner form reports progress
  const j = jsonRun(pruned, ...QUICK);
  assert.equal(j.output, file);
  assert.deepEqual(j.record.metric, q.metric);
  assert.deepEqual(j.record.latentDistance, q.latentDistance);
  assert.ok(j.progress.length >= 4, 'progress lines');
  const fractions = j.progress.map((p) => p.fraction);
  assert.deepEqual(fractions, [...fractions].sort((a, b) => a - b), 'progress only moves forward');
  assert.ok(j.progress.some((p) => /^original pipeline/.test(p.message)) && j.progress.some((p) => /^measured pipeline/.test(p.message)));
});

test('a pipeline measured against itself: latent distance 0 and equal metrics', () => {
  const { record } = jsonRun(original, '--against', original, ...QUICK);
  assert.equal(record.latentDistance.score, 0);
  assert.equal(record.latentDistance.identical, true);
  assert.deepEqual(record.metric!.measured, record.metric!.original);
  assert.equal(record.metric!.difference, 0);
  assert.ok(existsSync(join(original, 'quality.json')));
});

test('a pipeline without metrics/metric.json reports only the latent distance and says why', () => {
  const bare = copyPipeline(pruned, join(t.dir, 'no-metric'));
  rmSync(join(bare, 'metrics'), { recursive: true });
  const r = cli(bare, '--against', original, ...QUICK);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /FID/);
  assert.match(r.stdout, /latent distance \(avg\+std\)\s+\d/);
  assert.match(r.stdout, /no metric: .*no-metric\/pipeline ships no metrics\/metric\.json, so only the latent distance is measured/);
  const q = readQualityRecord(bare)!;
  assert.equal(q.metric, undefined);
  assert.equal(q.accuracy, undefined);
  assert.match(q.noMetric!, /ships no metrics\/metric\.json/);
  assert.ok(q.latentDistance.score > 0);
});

test('bad input: a clear error naming the file, and nothing written', () => {
  // --ep takes the providers score and prune take
  let e = cli(pruned, '--ep', 'tensorrt', ...QUICK);
  assert.equal(e.code, 2, e.stderr);
  assert.match(e.stderr, /--ep 'tensorrt': expected one of auto, cpu, cuda, dml, webgpu, coreml/);
  // --against with another latent shape
  const audio = join(EXAMPLES, 'audio-digits');
  let r = cli(pruned, '--against', audio, ...QUICK);
  assert.equal(r.code, 2, "a user error exits 2");
  assert.match(r.stderr, /audio-digits\/unet\/model\.onnx: its latents are \[4,16,16\]|latents are \[4,8,8\].*audio-digits.*\[4,16,16\]/);
  assert.ok(!existsSync(join(audio, 'quality.json')));
  // not a pipeline
  r = cli(join(original, 'vae_decoder', 'model.onnx'), '--against', original, ...QUICK);
  assert.equal(r.code, 2, "a user error exits 2");
  assert.match(r.stderr, /vae_decoder\/model\.onnx: the pipeline to measure is a bare model, not a pipeline folder/);
  r = cli(pruned, '--against', join(t.dir, 'missing'), ...QUICK);
  assert.match(r.stderr, /missing: --against does not exist/);
  // no prune record, no --against: the original is unknown
  r = cli(original, ...QUICK);
  assert.equal(r.code, 2, "a user error exits 2");
  assert.match(r.stderr, /has no prune record \(.*unet\/model\.prune\.json\), so its original is unknown; give --against ORIGINAL/);
});
