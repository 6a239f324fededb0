// What a killed distillation into a pipeline folder leaves beside it — the trainer's model under its hidden name,
// its external data, the trainer's temps of it — carries the run's pid and is removed by the next run into that
// folder once the run is gone; a live run's files are kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { planDistillOutput, planResumedOutput, removeStaleTrainerOutputs, trainerOutputFor } from '../src/core/distill/output';
import { copyPipeline, EXAMPLES, tempDir } from './pipeline-fixtures';

const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

test("the trainer's output is named after the run's process, and a dead run's leftovers go on the next run", () => {
  const t = tempDir('distill-output-');
  try {
    const pipeline = copyPipeline(join(EXAMPLES, 'digits-uncond'), join(t.dir, 'student'));
    const out = join(t.dir, 'distilled');
    const mine = trainerOutputFor(out);
    assert.match(basename(mine), new RegExp(`^\\.distilled\\.${process.pid}-[0-9a-f]{8}\\.distill-unet\\.onnx$`));

    const dead = deadPid();
    const left = [
      `.distilled.${dead}-0badf00d.distill-unet.onnx`,
      `.distilled.${dead}-0badf00d.distill-unet.onnx.data`,
      // the trainer's atomic write of it (write_model_atomic: .NAME.<pid>-<random>.tmp and its .data)
      `..distilled.${dead}-0badf00d.distill-unet.onnx.${dead}-x_9Ab.tmp`,
      `..distilled.${dead}-0badf00d.distill-unet.onnx.${dead}-x_9Ab.tmp.data`,
    ];
    const legacyOld = '.distilled.distill-unet.onnx';
    const live = `.distilled.${process.ppid}-0badf00d.distill-unet.onnx`;
    const liveTemp = `..distilled.${dead}-0badf00d.distill-unet.onnx.${process.ppid}-abc.tmp`;
    const other = `.other.${dead}-0badf00d.distill-unet.onnx`;
    for (const n of [...left, legacyOld, live, liveTemp, other]) writeFileSync(join(t.dir, n), 'x');
    const dayAgo = (Date.now() - 25 * 3600_000) / 1000;
    utimesSync(join(t.dir, legacyOld), dayAgo, dayAgo);

    const plan = planDistillOutput(pipeline, out);
    assert.equal(plan.kind, 'pipeline');
    const names = readdirSync(t.dir).sort();
    for (const n of [...left, legacyOld]) assert.ok(!names.includes(n), `${n} removed`);
    for (const n of [live, liveTemp, other]) assert.ok(names.includes(n), `${n} kept (a live run's, or another folder's)`);

    // a fresh legacy name (no pid) may be a run of an older version still going: kept until untouched for a day
    writeFileSync(join(t.dir, legacyOld), 'x');
    assert.deepEqual(removeStaleTrainerOutputs(out), []);
  } finally {
    t.done();
  }
});

test("a resumed pipeline run names its own trainer output and removes its first run's", () => {
  const t = tempDir('distill-resume-output-');
  try {
    const pipeline = copyPipeline(join(EXAMPLES, 'digits-uncond'), join(t.dir, 'student'));
    const runDir = join(t.dir, 'run');
    mkdirSync(runDir);
    const dead = deadPid();
    const first = join(t.dir, `.distilled.${dead}-0badf00d.distill-unet.onnx`);
    writeFileSync(first, 'x');
    writeFileSync(join(runDir, 'config.json'), JSON.stringify({ output: first, student: join(pipeline, 'unet', 'model.onnx') }));
    const plan = planResumedOutput(runDir, undefined);
    assert.equal(plan.kind, 'pipeline');
    if (plan.kind !== 'pipeline') return;
    assert.equal(plan.folder, join(t.dir, 'distilled'));
    assert.match(basename(plan.trainerOutput), new RegExp(`^\\.distilled\\.${process.pid}-[0-9a-f]{8}\\.distill-unet\\.onnx$`));
    assert.ok(!readdirSync(t.dir).includes(basename(first)), "the first run's output is gone");
    // a run folder from before the pid was in the name still resumes into its folder
    writeFileSync(join(runDir, 'config.json'), JSON.stringify({ output: join(t.dir, '.distilled.distill-unet.onnx'), student: join(pipeline, 'unet', 'model.onnx') }));
    const old = planResumedOutput(runDir, undefined);
    assert.equal(old.kind === 'pipeline' && old.folder, join(t.dir, 'distilled'));
  } finally {
    t.done();
  }
});
