// Distilling a user's pipeline whose tokenizer is in the Hugging Face fast layout (tokenizer.json),
// which the Python trainer cannot read: `ld-surgeon distill` encodes the pipeline's default prompts in
// TypeScript into the run folder's conditions.npy and the trainer trains on them. Without that the
// trainer stops with "cannot make conditions". Also: --prompt gives the trainer those prompts instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseNpy } from '../src/core/npy';
import { defaultPrompts } from '../src/core/pipeline/conditions';
import { PipelineRunner } from '../src/core/pipeline/runner';
import { copyPipeline, DIGITS_COND, tempDir } from './pipeline-fixtures';

const ROOT = resolve(__dirname, '..');
const PYTHON = process.env.LD_SURGEON_PYTHON ?? '/usr/bin/python3';
const FAST = join(__dirname, 'fixtures', 'tokenizers', 'digits-wordlevel');

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
}

const SMALL = ['--steps', '2', '--batch', '2', '--data-samples', '4', '--data-steps', '2', '--eval-samples', '2', '--eval-steps', '2',
  '--python', PYTHON, '--device', 'cpu', '--json'];

test('distill on a pipeline with tokenizer.json: the default prompts are encoded into the run folder and training ends', {
  skip: !existsSync(DIGITS_COND) && 'examples/digits-cond is not there', timeout: 10 * 60_000,
}, async () => {
  const t = tempDir('distill-hf-tok-');
  try {
    const p = copyPipeline(DIGITS_COND, t.dir);
    rmSync(join(p, 'tokenizer'), { recursive: true });
    cpSync(FAST, join(p, 'tokenizer'), { recursive: true });
    rmSync(join(p, 'tokenizer', 'reference.json'));
    const pruned = cli('prune', p, '--ops', 'mid_block.attentions.0', '--ep', 'cpu', '--no-metric', '--latency-seconds', '1', '--quiet');
    assert.equal(pruned.status, 0, pruned.stderr);
    const student = join(`${p}.pruned`, 'unet', 'model.onnx');
    const teacher = join(p, 'unet', 'model.onnx');

    const runDir = join(t.dir, 'run');
    const out = join(t.dir, 'distilled.onnx');
    const r = cli('distill', '--student', student, '--teacher', teacher, '--run-dir', runDir, '--out', out, ...SMALL);
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.match(r.stderr, /conditions: the pipeline's default prompts/);
    assert.ok(existsSync(out), 'the distilled model was written');

    // the defaults as the scoring side encodes them with the example's own word-level files
    const runner = PipelineRunner.open(DIGITS_COND);
    try {
      const prompts = defaultPrompts(runner).prompts;
      const ref = await runner.encodePrompts(prompts);
      const npy = parseNpy(readFileSync(join(runDir, 'conditions.npy')));
      assert.deepEqual(npy.shape, [prompts.length, ref.seqLen, ref.dim]);
      assert.deepEqual(Array.from(npy.data as Float32Array), Array.from(ref.embeddings.subarray(0, prompts.length * ref.seqLen * ref.dim)));
    } finally {
      await runner.release();
    }
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
    assert.equal(config.conditions, join(runDir, 'conditions.npy'));

    // --prompt: those prompts, through the same encoder
    const runDir2 = join(t.dir, 'run-prompts');
    const r2 = cli('distill', '--student', student, '--teacher', teacher, '--run-dir', runDir2, '--out', join(t.dir, 'd2.onnx'),
      '--prompt', 'a digit seven', '--prompt', 'a digit two', ...SMALL);
    assert.equal(r2.status, 0, r2.stderr.slice(-3000));
    assert.match(r2.stderr, /conditions: 2 prompts/);
    assert.deepEqual(parseNpy(readFileSync(join(runDir2, 'conditions.npy'))).shape.slice(0, 1), [2]);
  } finally {
    t.done();
  }
});
