// The scoring worker in its own process (as the CLI and the extension run it): typed events in order,
// cancel, and a worker that dies (as on out-of-memory) failing the job without taking the host along.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ScoringClient, type ScoringClientOptions } from '../src/worker/client';
import { readScoreFile } from '../src/core/scoring/score-file';
import type { ScoreSettings } from '../src/core/scoring/settings';
import type { ScoringEvent } from '../src/protocol/worker';

const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-worker-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// the TypeScript worker through tsx, so the test does not depend on a build
const WORKER: ScoringClientOptions = { modulePath: resolve('src/worker/worker.ts'), execArgv: ['--import', 'tsx'], cancelGraceMs: 20000 };
const SETTINGS: Partial<ScoreSettings> = {
  samples: 3, steps: 2, granularity: 'block', ep: 'cpu', profile: false,
  only: ['mid_block.resnets.0', 'mid_block.attentions.0', 'up_blocks.0.resnets.1', 'down_blocks.1.resnets.1'],
};

test('the worker reports started, one result per candidate, progress, then done', async () => {
  const out = join(dir, 'scores.json');
  const client = ScoringClient.start({ target: 'examples/digits-uncond', settings: SETTINGS, out }, WORKER);
  const events: ScoringEvent[] = [];
  client.onEvent((e) => events.push(e));
  const outcome = await client.finished;
  assert.equal(outcome.state, 'done');
  assert.equal(outcome.scoreFile, out);
  assert.equal(outcome.summary!.scored, 4);
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'log');
  assert.ok(types.indexOf('started') < types.indexOf('result'));
  assert.equal(types[types.length - 1], 'done');
  const results = events.filter((e): e is Extract<ScoringEvent, { type: 'result' }> => e.type === 'result' && e.candidate.status === 'scored');
  assert.deepEqual(results.map((r) => r.candidate.id).sort(), [...SETTINGS.only!].sort());
  for (const r of results) assert.ok(typeof r.candidate.score === 'number' && r.candidate.variants!['avg+std'] === r.candidate.score);
  const progress = events.filter((e): e is Extract<ScoringEvent, { type: 'progress' }> => e.type === 'progress');
  assert.equal(progress.at(-1)!.done, progress.at(-1)!.total);
  assert.ok(progress.at(-1)!.evalsPerSec > 0);
  assert.equal(readScoreFile(out).complete, true);
});

test('cancel stops the worker after the current evaluation with a valid, resumable file', async () => {
  const out = join(dir, 'cancelled.json');
  const client = ScoringClient.start({ target: 'examples/digits-uncond', settings: SETTINGS, out }, WORKER);
  client.on('result', (e) => e.candidate.status === 'scored' && client.cancel());
  const outcome = await client.finished;
  assert.equal(outcome.state, 'cancelled');
  const f = readScoreFile(out);
  assert.equal(f.complete, false);
  assert.ok(f.candidates.some((c) => c.status === 'scored') && f.candidates.some((c) => c.status === 'pending'));
});

test('a worker that dies fails the job with a clear error; the host carries on', async () => {
  const out = join(dir, 'killed.json');
  const work = join(dir, 'work');
  const client = ScoringClient.start({ target: 'examples/digits-uncond', settings: SETTINGS, out, workDir: work }, WORKER);
  // as the kernel's OOM killer would: from outside, without a cancel
  client.on('started', () => process.kill(client.pid!, 'SIGKILL'));
  await assert.rejects(client.finished, /scoring worker was killed \(SIGKILL, possibly out of memory\) before finishing/);
  // the file written before the kill is valid and resumable; the killed worker's eval model is gone
  const f = readScoreFile(out);
  assert.equal(f.format, 'ld-surgeon.scores/1');
  assert.deepEqual(readdirSync(work), []);
  const bad = ScoringClient.start({ target: join(dir, 'nothing-here'), settings: SETTINGS }, WORKER);
  await assert.rejects(bad.finished, /nothing-here: does not exist/);
});
