// How each job kind reads its process and names its outputs, without VS Code.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startJob } from '../../src/extension/jobs/jobRunner';
import { distillJobRequest, distillOutput } from '../../src/extension/distill/distillJob';
import { pruneOutput } from '../../src/extension/prune/pruneJob';
import { workerProtocol } from '../../src/extension/score/scoreJob';
import { candidateResult } from '../../src/core/scoring/events';
import { perSampleInputShapes } from '../../src/core/graph/input-shapes';
import { readModel } from '../../src/core/onnx/reader';

const EXAMPLE = path.resolve('examples/digits-cond');

test('the trainer\'s JSON events become progress, execution provider and output', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'ld-surgeon-distill-'));
  try {
    const student = path.join(root, 'student.onnx');
    writeFileSync(student, '');
    // a stand-in trainer: prints what python -m ld_surgeon_distill prints
    const fake = path.join(root, 'fake-trainer.mjs');
    writeFileSync(fake, [
      'import { writeFileSync } from "node:fs";',
      'const out = process.argv[process.argv.indexOf("--output") + 1];',
      'const say = (o) => console.log(JSON.stringify(o));',
      'say({ event: "start", steps: 4, device: "cpu", device_name: "cpu", resumed: false });',
      'for (let s = 1; s <= 4; s++) say({ event: "step", step: s, loss: 1 / s });',
      'writeFileSync(out, "onnx");',
      'say({ event: "done", output: out });',
    ].join('\n'));
    const { request, output } = distillJobRequest(root, { student, teacher: '/t.onnx', steps: 4, device: 'cpu', python: process.execPath }, 'distill');
    assert.equal(output, path.join(root, 'student.distilled.onnx'));
    // the same command line and protocol, with node running the stand-in instead of python -m ld_surgeon_distill
    const job = await startJob(root, {
      ...request,
      process: (dir) => {
        const spec = request.process(dir);
        assert.equal(spec.type, 'spawn');
        return spec.type === 'spawn' ? { ...spec, args: [fake, ...spec.args.slice(2)] } : spec;
      },
    });
    const progress: number[] = [];
    job.onDidChange((s) => progress.push(s.progress ?? -1));
    const s = await job.finished;
    assert.equal(s.state, 'done', s.error);
    assert.equal(s.executionProvider, 'torch cpu');
    assert.deepEqual(s.outputs, [output]);
    assert.ok(progress.includes(0.5), `step 2 of 4 is half way: ${progress.join(',')}`);
    assert.equal(distillOutput(student), path.join(root, 'student.distilled-2.onnx'), 'an existing output is never overwritten');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('prune outputs go beside the source and never overwrite an earlier prune', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'ld-surgeon-prune-'));
  try {
    const pipeline = path.join(root, 'pipe');
    cpSync(path.join(EXAMPLE, 'model_index.json'), path.join(pipeline, 'model_index.json'));
    mkdirSync(path.join(pipeline, 'unet'));
    writeFileSync(path.join(pipeline, 'unet', 'model.onnx'), '');
    const first = pruneOutput(path.join(pipeline, 'unet', 'model.onnx'));
    assert.deepEqual(first, { kind: 'pipeline', out: `${pipeline}.pruned`, model: path.join(`${pipeline}.pruned`, 'unet', 'model.onnx'), record: path.join(`${pipeline}.pruned`, 'unet', 'model.prune.json') });
    mkdirSync(first.out);
    assert.equal(pruneOutput(pipeline).out, `${pipeline}.pruned-2`);
    const bare = path.join(root, 'm.onnx');
    writeFileSync(bare, '');
    assert.deepEqual(pruneOutput(bare), { kind: 'model', out: path.join(root, 'm.pruned.onnx'), model: path.join(root, 'm.pruned.onnx'), record: path.join(root, 'm.pruned.prune.json') });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('worker messages become job events; results stream as data', () => {
  const p = workerProtocol;
  const progress = p.interpret({ type: 'progress', phase: 'candidates', done: 3, total: 12, evalsPerSec: 1, etaS: 9 });
  assert.equal(progress[0].type === 'progress' && progress[0].fraction, 0.25);
  assert.match(progress[0].type === 'progress' ? progress[0].message ?? '' : '', /candidates: 3\/12 evaluations, 9s left/);
  const started = p.interpret({ type: 'started', scoreFile: '/p/unet/model.ldscores.json', executionProvider: { requested: 'auto', used: 'cpu', attempts: [] }, candidates: 30, toScore: 20, resumed: 10, sessionsCreated: 1 });
  assert.deepEqual(started.slice(0, 2), [{ type: 'executionProvider', name: 'cpu' }, { type: 'output', path: '/p/unet/model.ldscores.json' }]);
  assert.deepEqual(p.interpret({ type: 'error', message: 'bad input', userError: true, stack: 'Error: ...' }), [{ type: 'error', message: 'bad input' }]);
  assert.deepEqual(p.interpret('not a message'), []);
  const r = candidateResult({ id: 'a', level: 'block', kind: 'resnet', status: 'scored', score: null, nonFinite: true, params: 1, macs: 1, flops: 2, replacementFlops: 0, uncountedOps: 0, modification: 'remove' });
  assert.equal(r.score, null);
  assert.match(r.reason ?? '', /non-finite/);
});

test('the views analyze the shipped U-Net per sample: batch 1, latent size from its config', async () => {
  const model = await readModel(path.join(EXAMPLE, 'unet', 'model.onnx'));
  const shapes = perSampleInputShapes(model);
  assert.deepEqual(shapes.sample?.[0], 1);
  assert.equal(shapes.sample?.length, 4);
  for (const dims of Object.values(shapes)) assert.equal(dims[0], 1);
});
