// Scoring a shipped example pipeline through the real sampling loop: L_orig is reproducible bit for
// bit and equals the original U-Net's; a cancelled job leaves a valid file that resumes to the same
// final scores; shards merged equal one run. Few samples and steps keep it fast.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScoreJob, type ScoreJobResult } from '../src/core/scoring/job';
import { mergeScoreFiles } from '../src/core/scoring/merge';
import { readScoreFile, type ScoreFile } from '../src/core/scoring/score-file';
import type { ScoreSettings } from '../src/core/scoring/settings';
import { UserError } from '../src/core/errors';

const PIPELINE = 'examples/digits-cond';
const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-pipeline-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ONLY = ['down_blocks.0.resnets.1', 'down_blocks.1.attentions.0', 'mid_block.resnets.0', 'mid_block.attentions.0', 'up_blocks.0.resnets.2', 'up_blocks.1.upsamplers.0', 'up_blocks.2.attentions.2'];
const SETTINGS: Partial<ScoreSettings> = { samples: 4, steps: 3, granularity: 'block', ep: 'cpu', only: ONLY, seed: 11 };

const scores = (f: ScoreFile) => Object.fromEntries(f.candidates.filter((c) => c.status === 'scored').map((c) => [c.id, c.variants]));

let reference: Promise<ScoreJobResult> | undefined;
function referenceRun(): Promise<ScoreJobResult> {
  reference ??= runScoreJob({ target: PIPELINE, settings: { ...SETTINGS, verifyExact: true }, out: join(dir, 'reference.json') });
  return reference;
}

test('L_orig from the gated U-Net equals the original U-Net bit for bit, and a second run reproduces it and every score', async () => {
  const a = await referenceRun();
  assert.equal(a.state, 'done');
  const f = readScoreFile(a.scoreFile);
  assert.deepEqual(f.latents.exactCheck, { equal: true, maxAbsDiff: 0 });
  assert.deepEqual(f.latents.shape, [4, 4, 8, 8]);
  assert.equal(f.target.kind, 'pipeline');
  assert.equal(f.executionProvider.used, 'cpu');
  assert.equal((f.latents.source.conditions as { prompts: string[] }).prompts[7], 'a digit seven');
  const scored = f.candidates.filter((c) => c.status === 'scored');
  assert.deepEqual(scored.map((c) => c.id).sort(), [...ONLY].sort());
  for (const c of scored) {
    assert.ok(c.score! > 0, `${c.id}: every real block changes the latents`);
    assert.ok(c.latencyShare! > 0 && c.latencyShare! < 1, `${c.id}: latency share ${c.latencyShare}`);
  }
  assert.equal(f.candidates.filter((c) => c.status === 'skipped').length, f.candidates.length - ONLY.length);
  assert.equal(f.timing.sessionsCreated, 3, 'gated U-Net, text encoder, and the original U-Net for the exactness check');

  const b = await runScoreJob({ target: PIPELINE, settings: SETTINGS, out: join(dir, 'again.json') });
  assert.equal(b.file.latents.sha256, f.latents.sha256, 'L_orig is reproducible bit for bit');
  assert.deepEqual(scores(b.file), scores(f));
});

test('a job cancelled mid-run leaves a valid score file that resumes to the same final scores', async () => {
  const ref = readScoreFile((await referenceRun()).scoreFile);
  const out = join(dir, 'resumed.json');
  const abort = new AbortController();
  let results = 0;
  const first = await runScoreJob({
    target: PIPELINE, settings: SETTINGS, out, signal: abort.signal,
    onEvent: (e) => {
      if (e.type === 'result' && e.candidate.status === 'scored' && ++results === 3) abort.abort();
    },
  });
  assert.equal(first.state, 'cancelled');
  const partial = readScoreFile(out);
  assert.equal(partial.complete, false);
  const done = partial.candidates.filter((c) => c.status === 'scored').length;
  assert.ok(done >= 3 && done < ONLY.length, `${done} scored before the cancel`);

  let resumed = -1;
  const second = await runScoreJob({ target: PIPELINE, settings: SETTINGS, out, onEvent: (e) => e.type === 'started' && (resumed = e.resumed) });
  assert.equal(second.state, 'done');
  assert.equal(resumed, done, 'the resumed job skips what was scored');
  assert.equal(second.file.timing.evaluations, 1 + ONLY.length - done);
  assert.deepEqual(scores(second.file), scores(ref));
  assert.ok(second.file.complete);

  // other settings do not reuse the file
  let again = -1;
  await runScoreJob({ target: PIPELINE, settings: { ...SETTINGS, only: ONLY.slice(0, 1), seed: 12 }, out, onEvent: (e) => e.type === 'started' && (again = e.resumed) });
  assert.equal(again, 0);
});

test('shards scored separately and merged equal a single run', async () => {
  const ref = readScoreFile((await referenceRun()).scoreFile);
  const parts: { path: string; file: ScoreFile }[] = [];
  for (const index of [0, 1]) {
    const r = await runScoreJob({ target: PIPELINE, settings: { ...SETTINGS, shard: { index, count: 2 } }, out: join(dir, `shard${index}.json`) });
    assert.equal(r.state, 'done');
    parts.push({ path: r.scoreFile, file: readScoreFile(r.scoreFile) });
  }
  assert.ok(parts.every((p) => p.file.candidates.filter((c) => c.status === 'scored').length < ONLY.length));
  const merged = mergeScoreFiles(parts);
  assert.deepEqual(scores(merged), scores(ref));
  assert.equal(merged.shard, undefined);
  assert.throws(() => mergeScoreFiles([parts[0], parts[0]]), (e: Error) => e instanceof UserError && /same shard is given twice/.test(e.message));
  assert.throws(() => mergeScoreFiles([parts[0], { path: 'other.json', file: { ...parts[1].file, compatibilityKey: 'x' } }]), /other settings/);
});

test('an unconditional pipeline scores without conditions; prompts for it are a user error', async () => {
  const r = await runScoreJob({ target: 'examples/digits-uncond', settings: { samples: 3, steps: 2, granularity: 'layer', ep: 'cpu', only: ['mid_block.attentions.0.transformer_blocks.0.attn1', 'up_blocks.2.resnets.0.conv1'], profile: false }, out: join(dir, 'uncond.json') });
  const f = r.file;
  assert.equal((f.latents.source.conditions as { kind: string }).kind, 'none');
  assert.equal(f.candidates.find((c) => c.id === 'up_blocks.2.resnets.0.conv1')!.method, 'resample');
  assert.ok(f.candidates.filter((c) => c.status === 'scored').every((c) => c.score! > 0));
  await assert.rejects(
    runScoreJob({ target: 'examples/digits-uncond', settings: { samples: 3, steps: 2, ep: 'cpu', conditions: { kind: 'prompts', prompts: ['a digit one'] } }, out: join(dir, 'bad.json') }),
    (e: Error) => e instanceof UserError && /unconditional/.test(e.message),
  );
});

test("the score file's settings.scheduler is the sampler that ran, from the pipeline's scheduler config (not 'pipeline')", async () => {
  // digits-xl ships an EulerDiscreteScheduler config; the request leaves the scheduler to the pipeline
  const xl = await runScoreJob({ target: 'examples/digits-xl', settings: { samples: 2, steps: 2, granularity: 'block', ep: 'cpu', only: ['down_blocks.0.resnets.0'], profile: false }, out: join(dir, 'xl.json') });
  assert.equal(xl.file.settings.scheduler, 'euler');
  assert.equal(xl.file.latents.source.schedulerClass, 'EulerDiscreteScheduler');
  assert.equal(readScoreFile(join(dir, 'xl.json')).settings.scheduler, 'euler', 'as written to disk');
  // an explicit choice is recorded as given, and a resume with the same request still matches
  const ddpm = await runScoreJob({ target: 'examples/digits-xl', settings: { samples: 2, steps: 2, granularity: 'block', ep: 'cpu', only: ['down_blocks.0.resnets.0'], profile: false, scheduler: 'ddpm' }, out: join(dir, 'xl-ddpm.json') });
  assert.equal(ddpm.file.settings.scheduler, 'ddpm');
  let resumed = -1;
  await runScoreJob({ target: 'examples/digits-xl', settings: { samples: 2, steps: 2, granularity: 'block', ep: 'cpu', only: ['down_blocks.0.resnets.0'], profile: false }, out: join(dir, 'xl.json'), onEvent: (e) => e.type === 'started' && (resumed = e.resumed) });
  assert.equal(resumed, 1, 'the default request resumes its own file');
});
