// `ld-surgeon sample` end to end on the committed conditional example: the files it writes
// and what they contain, agreement with the library call, and errors for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { encodeNpy, readNpyFloat32 } from '../src/core/npy';
import { PipelineRunner } from '../src/core/pipeline/runner';
import { resolveConditions } from '../src/core/pipeline/conditions';
import { createScheduler } from '../src/core/pipeline/schedulers';
import { GaussianStream } from '../src/core/pipeline/noise';
import { copyPipeline, DIGITS_COND, tempDir } from './pipeline-fixtures';

const ROOT = resolve(__dirname, '..');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('sample writes the grid, arrays, conditions and metrics; latents equal the library run', async () => {
  const t = tempDir('sample-cli-');
  try {
    const out = join(t.dir, 'nested', 'out');
    const r = cli('sample', DIGITS_COND, '--n', '6', '--steps', '4', '--batch', '4', '--seed', '3',
      '--prompt', 'a digit seven', '--prompt', 'A digit ONE', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^FID \d+\.\d{3} ±\d+\.\d{3} \(n=6\), class accuracy \d+\.\d% \(6 labelled\)/m);
    assert.match(r.stdout, /indicative only/, 'an FID on 6 samples is flagged');
    assert.match(r.stdout, /wrote 5 files/);
    // --ep defaults to auto, as score and prune do, and the output says which provider ran
    assert.match(r.stdout, /^execution provider: \w+/m);

    const lat = readNpyFloat32(join(out, 'latents.npy'));
    assert.deepEqual(lat.shape, [6, 4, 8, 8]);
    const samples = readNpyFloat32(join(out, 'samples.npy'));
    assert.deepEqual(samples.shape, [6, 1, 32, 32]);

    const cond = JSON.parse(readFileSync(join(out, 'conditions.json'), 'utf8'));
    assert.deepEqual(cond.seeds, [3, 4, 5, 6, 7, 8]);
    assert.deepEqual(cond.conditions.prompts, ['a digit seven', 'A digit ONE']);
    assert.deepEqual(cond.conditions.labels, [7, 1], 'prompts matched to the pipeline\'s labelled prompts');
    assert.deepEqual(cond.scheduler.timesteps, [751, 501, 251, 1]);
    assert.equal(cond.guidance, 3, 'the pipeline\'s default guidance');
    assert.deepEqual(cond.samples[5], { index: 5, seed: 8, condition: 1, prompt: 'A digit ONE', label: 1 });
    assert.equal(cond.executionProvider.requested, 'auto');
    assert.deepEqual(cond.executionProviders, [cond.executionProvider.used]);
    assert.match(r.stdout, new RegExp(`^execution provider: ${cond.executionProvider.used}$`, 'm'));

    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    assert.equal(metrics.metric, 'FID');
    assert.ok(Number.isFinite(metrics.value) && metrics.value > 0);
    assert.equal(metrics.labelled, 6);

    // the same run through the library gives the same bits
    const runner = PipelineRunner.open(DIGITS_COND);
    try {
      const { conditioning } = await resolveConditions(runner, { kind: 'prompts', prompts: ['a digit seven', 'A digit ONE'] }, 3);
      const scheduler = createScheduler('ddim', runner.layout.schedulerConfig, { steps: 4 });
      const gen = await runner.generate({ n: 6, seed: 3, scheduler, conditioning, guidance: 3, batchSize: 4 });
      assert.ok(Buffer.from(gen.latents.buffer).equals(Buffer.from(lat.data.buffer)));
    } finally {
      await runner.release();
    }

    // the grid: ⌈√6⌉ = 3 columns, 2 rows of 32 px tiles shown at 2×, 2 px gaps; [-1, 1] → [0, 255]
    const png = PNG.sync.read(readFileSync(join(out, 'samples.png')));
    assert.equal(png.width, 3 * 64 + 2 * 2);
    assert.equal(png.height, 2 * 64 + 2);
    const sample = 4; // row 1, column 1
    const [y, x] = [10, 17];
    const v = samples.data[sample * 1024 + y * 32 + x];
    const px = png.data[((66 + 2 * y) * png.width + 66 + 2 * x) * 4];
    assert.equal(px, Math.round((Math.min(Math.max(v, -1), 1) + 1) * 127.5));
  } finally {
    t.done();
  }
});

test('sample with --noise reproduces given initial latents; conflicting flags are refused', () => {
  const t = tempDir('sample-noise-');
  try {
    const per = 4 * 8 * 8;
    const noise = new Float32Array(2 * per);
    new GaussianStream(40).fill(noise, 0, per);
    new GaussianStream(41).fill(noise, per, per);
    const file = join(t.dir, 'noise.npy');
    writeFileSync(file, encodeNpy(noise, [2, 4, 8, 8]));
    const a = cli('sample', DIGITS_COND, '--noise', file, '--steps', '3', '--no-metrics', '--out', join(t.dir, 'a'));
    const b = cli('sample', DIGITS_COND, '--n', '2', '--seed', '40', '--steps', '3', '--no-metrics', '--out', join(t.dir, 'b'));
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.ok(readFileSync(join(t.dir, 'a', 'latents.npy')).equals(readFileSync(join(t.dir, 'b', 'latents.npy'))));
    assert.ok(!existsSync(join(t.dir, 'a', 'metrics.json')), '--no-metrics');
    const wrong = join(t.dir, 'wrong.npy');
    writeFileSync(wrong, encodeNpy(new Float32Array(2 * 4 * 4 * 4), [2, 4, 4, 4]));
    const w = cli('sample', DIGITS_COND, '--noise', wrong, '--out', join(t.dir, 'c'));
    assert.equal(w.code, 2);
    assert.match(w.stderr, /wrong\.npy: initial noise must be \[N, 4,8,8\], it is \[2,4,4,4\]/);
    const both = cli('sample', DIGITS_COND, '--prompt', 'a digit one', '--condition-ids', '1,2', '--out', join(t.dir, 'd'));
    assert.equal(both.code, 2);
    assert.match(both.stderr, /only one of --prompt, --prompts-file, --condition-ids, --conditions/);
    const sched = cli('sample', DIGITS_COND, '--scheduler', 'lms', '--out', join(t.dir, 'e'));
    assert.match(sched.stderr, /--scheduler 'lms': expected one of pipeline, ddim, ddpm, euler, dpm\+\+/);
    const ep = cli('sample', DIGITS_COND, '--ep', 'cpu,cuda', '--out', join(t.dir, 'f'));
    assert.equal(ep.code, 2);
    assert.match(ep.stderr, /--ep 'cpu,cuda': expected one of auto, cpu, cuda, dml, webgpu, coreml/);
    assert.ok(!existsSync(join(t.dir, 'c')) && !existsSync(join(t.dir, 'd')) && !existsSync(join(t.dir, 'f')), 'failed runs create nothing');
  } finally {
    t.done();
  }
});

test('a pipeline folder missing a component is a user error naming it, with nothing written', () => {
  const t = tempDir('sample-bad-');
  try {
    const p = copyPipeline(DIGITS_COND, t.dir);
    rmSync(join(p, 'vae_decoder', 'model.onnx'));
    const r = cli('sample', p, '--n', '2', '--out', join(t.dir, 'out'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /vae_decoder\/model\.onnx is missing \(the VAE decoder/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(!existsSync(join(t.dir, 'out')));
    rmSync(join(p, 'model_index.json'));
    assert.match(cli('sample', p, '--out', join(t.dir, 'out')).stderr, /not a pipeline folder: model_index\.json is missing/);
    assert.match(cli('sample', join(t.dir, 'nope'), '--out', join(t.dir, 'out')).stderr, /nope: not a pipeline folder \(it does not exist/);
    writeFileSync(join(p, 'model_index.json'), '{}');
    writeFileSync(join(p, 'vae_decoder', 'model.onnx'), 'not onnx');
    const broken = cli('sample', p, '--n', '2', '--out', join(t.dir, 'out'));
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /vae_decoder\/model\.onnx: onnxruntime could not create a session with execution providers \[cpu\]/);
    assert.ok(!existsSync(join(t.dir, 'out')));
  } finally {
    t.done();
  }
});
