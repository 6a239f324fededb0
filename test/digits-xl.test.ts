// The shipped SDXL-shaped pipeline (examples/digits-xl: text_encoder + text_encoder_2, tokenizer + tokenizer_2, a
// U-Net with text_embeds and time_ids, Euler) end to end through the CLI, as a user runs it: score, prune the k
// lowest candidates, sample the pruned pipeline, distill it (the trainer feeds SDXL's added conditions), sample
// the distilled pipeline. And the example is trained: its samples are the prompted digit far above chance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { trainerOutput } from './helpers/trainer-output';
import { readPipelineLayout } from '../src/core/pipeline/layout';
import { sdxlParts } from '../src/core/pipeline/sdxl-conditions';
import { readPruneRecord } from '../src/core/prune/record';

const ROOT = resolve(__dirname, '..');
const PYTHON = process.env.LD_SURGEON_PYTHON ?? '/usr/bin/python3';
const EXAMPLE = join(ROOT, 'examples', 'digits-xl');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** An SDXL pipeline folder as the runner reads it: both encoders and tokenizers, the U-Net's added inputs. */
function assertSdxlPipeline(folder: string) {
  const layout = readPipelineLayout(folder);
  assert.ok(sdxlParts(layout), `${folder}: text_encoder_2/ and tokenizer_2/`);
  assert.ok(layout.textEncoderPath && existsSync(layout.textEncoderPath), `${folder}: text_encoder/model.onnx`);
  assert.ok(existsSync(join(folder, 'unet', 'model.onnx')), `${folder}: unet/model.onnx`);
}

test('digits-xl: the example is a trained SDXL pipeline (its samples are the prompted digit well above chance)', { timeout: 120_000 }, () => {
  assertSdxlPipeline(EXAMPLE);
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-xl-acc-'));
  try {
    // the pipeline's own scheduler (Euler), prompts and guidance; 20 samples cycle the ten digits twice
    const s = cli('sample', EXAMPLE, '--n', '20', '--steps', '12', '--batch', '20', '--out', join(dir, 'samples'));
    assert.equal(s.code, 0, s.stderr);
    const m = /class accuracy ([\d.]+)% \((\d+) labelled\)/.exec(s.stdout);
    assert.ok(m, `the sample command reports class accuracy: ${s.stdout}`);
    assert.equal(Number(m[2]), 20);
    assert.ok(Number(m[1]) >= 50, `class accuracy ${m[1]}% (chance: 10%)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('digits-xl: CLI score → prune (2 lowest) → sample → distill → sample', { timeout: 4 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-xl-'));
  try {
    const pipeline = join(dir, 'digits-xl');
    cpSync(EXAMPLE, pipeline, { recursive: true });
    const s = cli('score', pipeline, '--samples', '2', '--steps', '2', '--ep', 'cpu', '--quiet');
    assert.equal(s.code, 0, s.stderr);
    const scoreFile = readdirSync(join(pipeline, 'unet')).find((n) => n.endsWith('.ldscores.json'));
    assert.ok(scoreFile, 'the score file is written beside unet/model.onnx');
    assert.match(readFileSync(join(pipeline, 'unet', scoreFile!), 'utf8'), /transformer_blocks\.1/, 'the depth-2 stack\'s blocks are scored');

    const p = cli('prune', pipeline, '--lowest', '2', '--ep', 'cpu', '--no-metric', '--quiet');
    assert.equal(p.code, 0, p.stderr);
    const pruned = join(dir, 'digits-xl.pruned');
    assertSdxlPipeline(pruned);
    const record = readPruneRecord(join(pruned, 'unet', 'model.prune.json'));
    assert.ok(record, 'the prune wrote its record in unet/');
    assert.equal(record.removed.length, 2);
    for (const c of record.checks) assert.notEqual(c.status, 'failed', `${c.name}: ${c.detail}`);

    const sp = cli('sample', pruned, '--n', '2', '--steps', '3', '--no-metrics', '--out', join(dir, 'pruned-samples'));
    assert.equal(sp.code, 0, sp.stderr);
    assert.ok(existsSync(join(dir, 'pruned-samples', 'samples.png')));

    const out = join(dir, 'distilled');
    const d = cli('distill', '--student', pruned, '--teacher', pipeline, '--out', out, '--python', PYTHON, '--device', 'cpu', '--json',
      '--steps', '4', '--batch', '4', '--seed', '0', '--data-samples', '8', '--data-steps', '3', '--eval-samples', '8', '--eval-steps', '3',
      '--eval-every', '0', '--checkpoint-every', '0', '--log-every', '1');
    assert.equal(d.code, 0, d.stderr);
    const { steps, done } = trainerOutput(d.stdout);
    assert.ok(done && steps.length >= 1, d.stdout.slice(-2000));
    assert.ok(steps.every((e) => Number.isFinite(e.loss)), 'finite losses');
    assert.ok(steps.some((e) => (e.loss_feat ?? 0) > 0), 'feature KD matched the remaining stages');
    assert.ok(done.output, 'the trainer exported the distilled U-Net');
    // the CLI moves it into a copy of the student's pipeline: unet/model.onnx is the distilled U-Net
    assertSdxlPipeline(out);
    assert.ok(statSync(join(out, 'unet', 'model.onnx')).size > 1e6);
    assert.ok(!existsSync(done.output!), 'the trainer\'s export was moved into the pipeline, not copied');

    const sd = cli('sample', out, '--n', '4', '--steps', '3', '--out', join(dir, 'distilled-samples'));
    assert.equal(sd.code, 0, sd.stderr);
    assert.ok(existsSync(join(dir, 'distilled-samples', 'samples.png')));
    assert.match(sd.stdout, /class accuracy/, 'the distilled pipeline samples through its metric');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
