// The Measure Quality job without VS Code: the extension's job request runs the CLI's `measure --json` on a
// pruned copy of digits-uncond; its progress lines drive the job, the record comes back as data and
// becomes the prune result card's numbers; a cancel stops it before quality.json is written.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startJob, type JobRequest } from '../../src/extension/jobs/jobRunner';
import { measureJobRequest, qualityCard } from '../../src/extension/prune/measureJob';
import { pruneModel } from '../../src/core/prune';
import { readQualityRecord, type QualityRecord } from '../../src/core/pipeline/quality-record';

const ROOT = path.resolve(__dirname, '..', '..');
let dir: string;
let original: string;
let pruned: string;

/** the request as the extension builds it, run with the TypeScript CLI instead of the dist/cli.js bundle */
function fromSource(request: JobRequest): JobRequest {
  return {
    ...request,
    process: (runDir) => {
      const spec = request.process(runDir);
      assert.equal(spec.type, 'spawn');
      if (spec.type !== 'spawn') return spec;
      assert.equal(spec.args[1], 'measure');
      return { ...spec, args: ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'main.ts'), ...spec.args.slice(1)], cwd: ROOT };
    },
  };
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ld-surgeon-measure-job-'));
  original = path.join(dir, 'digits');
  cpSync(path.join(ROOT, 'examples', 'digits-uncond'), original, { recursive: true });
  pruned = path.join(dir, 'digits.pruned');
  await pruneModel({ input: original, selection: { mode: 'ops', ids: ['up_blocks.2.attentions.1'] }, out: pruned, ep: 'cpu', metric: false, samples: 2, steps: 2, latencySeconds: 0.1, minRuns: 1 });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('a measure job reports progress, outputs quality.json and hands back the record the card shows', async () => {
  const cli = path.join(ROOT, 'package.json'); // any existing file: the request only checks that the CLI is there
  const request = measureJobRequest(cli, { pipeline: pruned, n: 16, steps: 3 }, 'Measure quality: digits.pruned');
  assert.equal(request.kind, 'measure');
  assert.deepEqual(request.settings, { kind: 'measure', target: pruned, options: { n: 16, steps: 3 } });
  const job = await startJob(path.join(dir, 'runs'), fromSource(request));
  const progress: number[] = [];
  job.onDidChange((s) => s.progress !== undefined && progress.push(s.progress));
  let record: QualityRecord | undefined;
  job.onData((p) => (record = p as QualityRecord));
  const s = await job.finished;
  assert.equal(s.state, 'done', s.error);
  assert.deepEqual(s.outputs, [path.join(pruned, 'quality.json')]);
  assert.ok(progress.some((p) => p > 0 && p < 0.5) && progress.some((p) => p >= 0.5 && p < 1), `progress through both pipelines: ${progress.join(',')}`);
  assert.ok(record, 'the record comes back as data');
  assert.deepEqual(readQualityRecord(pruned), record);
  assert.equal(record.original.pipeline, original, "the prune record's original");
  // no --ep: auto, as scoring and pruning; the Jobs view names the provider that ran
  assert.equal(record.executionProvider!.requested, 'auto');
  assert.equal(s.executionProvider, record.executionProvider!.used);

  const card = qualityCard(record);
  assert.equal(card.metric, 'FID');
  assert.equal(card.n, 16);
  assert.equal(card.original, record.metric!.original.value);
  assert.equal(card.measured, record.metric!.measured.value);
  assert.ok(card.originalSpread! > 0 && card.measuredSpread! > 0);
  assert.match(card.indicative ?? '', /only 16 samples/);
  assert.ok(card.latentDistance > 0);
  assert.equal(card.file, path.join(pruned, 'quality.json'));
});

test('a cancelled measure job writes no quality.json', async () => {
  const target = path.join(dir, 'again');
  cpSync(pruned, target, { recursive: true });
  rmSync(path.join(target, 'quality.json'), { force: true });
  const request = measureJobRequest(path.join(ROOT, 'package.json'), { pipeline: target, against: original, n: 400, steps: 25 }, 'Measure quality: again');
  const job = await startJob(path.join(dir, 'runs'), fromSource(request));
  // cancel once sampling is under way
  await new Promise<void>((resolve) => {
    const off = job.onDidChange((s) => {
      if ((s.progress ?? 0) > 0) {
        off();
        resolve();
      }
    });
  });
  job.cancel();
  const s = await job.finished;
  assert.equal(s.state, 'cancelled', s.error);
  assert.ok(!existsSync(path.join(target, 'quality.json')));
});
