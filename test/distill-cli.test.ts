// `ld-surgeon distill` as a shell or CI step sees it: a bad model is a one-line error naming the file with exit
// code 2, and Ctrl+C while the trainer is still setting up stops it at once with exit code 130, leaving no model
// and no checkpoint, only what a --resume reuses. Without --teacher the original comes from the prune record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEvent, type TrainerEvent } from '../src/core/distill';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'bin', 'ld-surgeon.js');
const PYTHON = process.env.LD_SURGEON_PYTHON ?? '/usr/bin/python3';
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function work(): { dir: string; pipeline: string; teacher: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-distill-cli-'));
  const pipeline = join(dir, 'digits-cond');
  cpSync(join(ROOT, 'examples', 'digits-cond'), pipeline, { recursive: true });
  return { dir, pipeline, teacher: join(pipeline, 'unet', 'model.onnx') };
}

test('a student that is not an ONNX model: exit 2 and one line naming the file', { timeout: 5 * 60_000 }, () => {
  const { dir, teacher } = work();
  try {
    const student = join(dir, 'broken.onnx');
    writeFileSync(student, 'not a model');
    const r = spawnSync(process.execPath, [CLI, 'distill', '--student', student, '--teacher', teacher, '--python', PYTHON, '--device', 'cpu'], {
      cwd: ROOT, encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stderr);
    const last = r.stderr.trim().split('\n').pop()!;
    assert.match(last, /^ld-surgeon: /);
    assert.ok(last.includes(student), `the error names ${student}: ${last}`);
    assert.ok(!readdirSync(dir).some((f) => f.includes('distilled')), 'no model was written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Ctrl+C while the trainer generates its data: exit 130 at once, no model, no checkpoint', { timeout: 10 * 60_000 }, async () => {
  const { dir, pipeline, teacher } = work();
  try {
    // a student that differs from the teacher: one attention block bypassed, no scoring needed
    const pruneRun = spawnSync(process.execPath, [CLI, 'prune', pipeline, '--ops', 'mid_block.attentions.0', '--ep', 'cpu', '--no-metric', '--latency-seconds', '1', '--quiet'], {
      cwd: ROOT, encoding: 'utf8',
    });
    assert.equal(pruneRun.status, 0, pruneRun.stderr);
    const student = join(dir, 'digits-cond.pruned', 'unet', 'model.onnx');
    const hashes = [sha(student), sha(teacher)];
    const runDir = join(dir, 'run');
    // the default 256 teacher samples: far longer than the wait for the cancel below
    const child = spawn(process.execPath, [CLI, 'distill', '--student', student, '--python', PYTHON, '--device', 'cpu', '--run-dir', runDir, '--json'], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalledAt = 0;
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      // generating the training latents has begun: Ctrl+C
      if (!signalledAt && /"event":\s*"setup"/.test(stdout)) {
        signalledAt = Date.now();
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const waited = Date.now() - signalledAt;
    assert.ok(signalledAt, `the trainer reached its setup event:\n${stderr.slice(-2000)}`);
    assert.equal(code, 130, stderr.slice(-2000));
    // generous: one batch of teacher samples, then the step-0 evaluations, would take far longer
    assert.ok(waited < 15_000, `stopped ${waited} ms after Ctrl+C`);
    const events = stdout.split('\n').map(parseEvent).filter((e): e is TrainerEvent => !!e);
    assert.deepEqual(events.at(-1), { event: 'cancelled', step: 0, checkpoint: null });
    assert.ok(!events.some((e) => e.event === 'step' || e.event === 'data'), 'no data was finished and no step trained');
    assert.deepEqual(readdirSync(runDir).sort(), ['config.json', 'events.jsonl'], 'no checkpoint and no partial file');
    assert.ok(!existsSync(join(dir, 'digits-cond.pruned', 'unet', 'model.distilled.onnx')), 'no model was written');
    assert.deepEqual([sha(student), sha(teacher)], hashes, 'student and teacher untouched');
    assert.ok(stderr.includes(`teacher: ${teacher} (from the student's prune record)`), 'no --teacher: the original from the prune record');
    assert.equal(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).teacher, teacher);
    assert.match(stderr, /ld-surgeon: cancelled/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('distill --out DIR on a pipeline writes a distilled pipeline folder; --out must fit the student', { timeout: 10 * 60_000 }, () => {
  const { dir, pipeline } = work();
  try {
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'distill', ...args], { cwd: ROOT, encoding: 'utf8' });
    // what --out means is checked before anything runs
    const asFile = run('--student', pipeline, '--out', join(dir, 'd.onnx'), '--python', PYTHON);
    assert.equal(asFile.status, 2, asFile.stderr);
    assert.match(asFile.stderr, /d\.onnx: the student .*digits-cond is a pipeline, so --out names the distilled pipeline folder, not an \.onnx file/);
    const asFolder = run('--student', join(pipeline, 'unet', 'model.onnx'), '--teacher', join(ROOT, 'examples', 'digits-cond', 'unet', 'model.onnx'), '--out', join(dir, 'd'), '--python', PYTHON);
    assert.equal(asFolder.status, 2, asFolder.stderr);
    assert.match(asFolder.stderr, /is a model, so --out names an \.onnx file/);
    const inside = run('--student', pipeline, '--out', join(pipeline, 'd'), '--python', PYTHON);
    assert.equal(inside.status, 2, inside.stderr);
    assert.match(inside.stderr, /cannot be the student pipeline or inside it/);

    const before = readdirSync(pipeline, { recursive: true }).map(String).sort();
    const studentHash = sha(join(pipeline, 'unet', 'model.onnx'));
    const out = join(dir, 'distilled');
    // what an earlier run killed while assembling its folder left: swept once its process is gone
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    mkdirSync(join(dir, `.distilled.staging-${deadPid}-0badf00d`, 'unet'), { recursive: true });
    // and what one killed while training or exporting left: its trainer output (named after its pid) and that one's data
    writeFileSync(join(dir, `.distilled.${deadPid}-0badf00d.distill-unet.onnx`), 'x');
    writeFileSync(join(dir, `.distilled.${deadPid}-0badf00d.distill-unet.onnx.data`), 'x');
    const r = run('--student', pipeline, '--teacher', join(ROOT, 'examples', 'digits-cond', 'unet', 'model.onnx'), '--out', out, '--python', PYTHON, '--device', 'cpu',
      '--steps', '1', '--batch', '2', '--data-samples', '2', '--data-steps', '1', '--eval-samples', '2', '--eval-steps', '1', '--run-dir', join(dir, 'run'));
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    assert.match(r.stdout, new RegExp(`distilled pipeline: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `));
    // a pipeline folder: the student's components, the distilled U-Net, nothing that describes the student
    for (const f of ['model_index.json', 'scheduler/scheduler_config.json', 'vae_decoder/model.onnx', 'text_encoder/model.onnx', 'metrics/metric.json', 'unet/config.json', 'unet/model.onnx']) {
      assert.ok(existsSync(join(out, f)), `${f} in the distilled pipeline`);
    }
    assert.ok(!existsSync(join(out, 'samples.png')), "the student's sample sheet is not the distilled model's");
    assert.notEqual(sha(join(out, 'unet', 'model.onnx')), studentHash, 'the U-Net is the distilled one');
    // the student is untouched; nothing hidden or half-made is left beside the output
    assert.deepEqual(readdirSync(pipeline, { recursive: true }).map(String).sort(), before);
    assert.equal(sha(join(pipeline, 'unet', 'model.onnx')), studentHash);
    assert.deepEqual(readdirSync(dir).sort(), ['digits-cond', 'distilled', 'run']);

    // a resumed run (one more step) still ends in a pipeline folder, not the trainer's hidden model
    rmSync(out, { recursive: true });
    const resumed = run('--student', pipeline, '--resume', join(dir, 'run'), '--steps', '2', '--python', PYTHON, '--device', 'cpu');
    assert.equal(resumed.status, 0, resumed.stderr.slice(-2000));
    assert.match(resumed.stdout, /distilled pipeline: /);
    assert.ok(existsSync(join(out, 'unet', 'model.onnx')) && existsSync(join(out, 'model_index.json')));
    assert.deepEqual(readdirSync(dir).sort(), ['digits-cond', 'distilled', 'run']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
