// The `ld-surgeon-distill` task definition without VS Code: checking a tasks.json entry, resolving its relative
// paths against the workspace folder, the trainer command it becomes, resuming a run, and saving to tasks.json.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse } from 'jsonc-parser';
import { definitionPath, resolveDefinition, specOf } from '../../src/extension/distill/distillTaskDefinition';
import { resumableRun, trainerRunAt } from '../../src/extension/distill/trainerRun';
import { distillJobRequest, distillResumeRequest } from '../../src/extension/distill/distillJob';
import { saveTask, withTask } from '../../src/extension/distill/tasksJson';
import { UserError } from '../../src/core/errors';

const WS = path.resolve('/work/ws');

test('relative paths in a definition resolve against the workspace folder; absolute ones stay', () => {
  const { resolved, problems } = resolveDefinition(
    { type: 'ld-surgeon-distill', student: 'digits-cond.pruned/unet/model.onnx', teacher: '/models/orig.onnx', data: './data', resume: '.ld-surgeon/runs/x', output: 'out/distilled.onnx' },
    WS, "task 'd'",
  );
  assert.deepEqual(problems, []);
  assert.equal(resolved!.student, path.join(WS, 'digits-cond.pruned', 'unet', 'model.onnx'));
  assert.equal(resolved!.teacher, path.resolve('/models/orig.onnx'));
  assert.equal(resolved!.data, path.join(WS, 'data'));
  assert.equal(resolved!.resume, path.join(WS, '.ld-surgeon', 'runs', 'x'));
  assert.equal(resolved!.output, path.join(WS, 'out', 'distilled.onnx'));
  // and back: a path inside the folder is written relative (tasks.json survives moving the folder)
  assert.equal(definitionPath(path.join(WS, 'a', 'b.onnx'), WS), 'a/b.onnx');
  assert.equal(definitionPath('/elsewhere/b.onnx', WS), '/elsewhere/b.onnx');
});

test('a relative path without a workspace folder, a missing student and bad values are named with their property', () => {
  const noFolder = resolveDefinition({ type: 'ld-surgeon-distill', student: 'a.onnx' }, undefined, "task 'x'");
  assert.equal(noFolder.resolved, undefined);
  assert.match(noFolder.problems[0], /task 'x': 'student' is the relative path 'a\.onnx'.*no workspace folder/);

  assert.match(resolveDefinition({ type: 'ld-surgeon-distill' }, WS, "task 'x'").problems[0], /'student' .*is required/);

  const bad = resolveDefinition(
    { type: 'ld-surgeon-distill', student: 's.onnx', steps: 0, lr: 'fast', device: 'gpu', devices: 1.5, args: ['--run-dir', '/tmp/x', '--warmup-steps', '5'] },
    WS, "task 'x'",
  );
  assert.equal(bad.resolved, undefined);
  const text = bad.problems.join('\n');
  assert.match(text, /'steps' must be a whole number ≥ 1, not 0/);
  assert.match(text, /'lr' must be a number ≥ 0, not "fast"/);
  assert.match(text, /'device' must be one of auto, cpu, cuda, not "gpu"/);
  assert.match(text, /'devices' must be a whole number ≥ 1/);
  assert.match(text, /'args' has --run-dir, which is set by the job/);
  assert.doesNotMatch(text, /warmup/, 'flags the definition has no property for pass through args');
});

test('a definition becomes the trainer command: properties as flags, args appended, the job owns the run folder', () => {
  const { resolved } = resolveDefinition(
    { type: 'ld-surgeon-distill', student: 'p/unet/model.onnx', steps: 300, lr: 1e-4, batch: 4, lambdaTask: 0.5, lambdaOut: 2, lambdaFeat: 0, data: 'data', device: 'cpu', args: ['--warmup-steps', '10'] },
    WS, "task 'd'",
  );
  const spec = specOf(resolved!, '/models/orig.onnx', '/usr/bin/python3');
  const { request, output } = distillJobRequest('/ext/python', spec, 'Distill');
  assert.equal(output, path.join(WS, 'p', 'unet', 'model.distilled.onnx'));
  const p = request.process('/runs/r1');
  assert.equal(p.type, 'spawn');
  if (p.type !== 'spawn') return;
  assert.equal(p.command, '/usr/bin/python3');
  const flag = (name: string) => p.args[p.args.indexOf(name) + 1];
  assert.deepEqual(p.args.slice(0, 2), ['-m', 'ld_surgeon_distill']);
  assert.equal(flag('--student'), path.join(WS, 'p', 'unet', 'model.onnx'));
  assert.equal(flag('--teacher'), '/models/orig.onnx');
  assert.equal(flag('--run-dir'), path.join('/runs/r1', 'trainer'));
  assert.equal(flag('--output'), output);
  assert.equal(flag('--data'), path.join(WS, 'data'));
  assert.equal(flag('--steps'), '300');
  assert.equal(flag('--lr'), '0.0001');
  assert.equal(flag('--batch-size'), '4');
  assert.equal(flag('--lambda-task'), '0.5');
  assert.equal(flag('--lambda-out'), '2');
  assert.equal(flag('--lambda-feat'), '0');
  assert.equal(flag('--device'), 'cpu');
  assert.deepEqual(p.args.slice(-2), ['--warmup-steps', '10']);
  assert.equal(p.cancelSignal, 'SIGINT', 'a cancel asks the trainer for a checkpoint');
  // what Re-run reads back
  assert.deepEqual(request.settings.options.flags, { lr: 1e-4, 'batch-size': 4, 'lambda-task': 0.5, 'lambda-out': 2, 'lambda-feat': 0 });

  const ddp = specOf(resolveDefinition({ type: 'ld-surgeon-distill', student: '/s.onnx', devices: 2 }, WS, 't').resolved!, '/t.onnx', 'py');
  const dp = distillJobRequest('/ext/python', ddp, 'x').request.process('/r');
  assert.ok(dp.type === 'spawn' && dp.args.join(' ').startsWith('-m ld_surgeon_distill.torchrun --nproc_per_node=2 -m ld_surgeon_distill'), 'devices > 1 runs under torchrun');
});

test('a cancelled distillation resumes in its own run folder from the trainer\'s config and checkpoint', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'ld-surgeon-resume-'));
  try {
    const job = path.join(root, '20261126-120000-distill');
    const trainer = path.join(job, 'trainer');
    mkdirSync(trainer, { recursive: true });
    writeFileSync(path.join(job, 'status.json'), '{}');
    writeFileSync(path.join(trainer, 'config.json'), JSON.stringify({ student: '/m/s.onnx', teacher: '/m/t.onnx', output: '/m/s.distilled.onnx', steps: 400 }));

    // cancelled before the first checkpoint: resumable (it starts over but keeps its generated data)
    assert.ok(resumableRun(job, { kind: 'distill', state: 'cancelled' }));
    assert.equal(resumableRun(job, { kind: 'distill', state: 'failed' }), undefined, 'a failure without a checkpoint is re-run, not resumed');
    writeFileSync(path.join(trainer, 'ckpt-12.pt'), '');
    writeFileSync(path.join(trainer, 'ckpt-3.pt'), '');
    const run = resumableRun(job, { kind: 'distill', state: 'failed' });
    assert.ok(run);
    assert.deepEqual(run.checkpoints, [3, 12]);
    assert.equal(run.jobDir, job);
    assert.equal(resumableRun(job, { kind: 'distill', state: 'done' }), undefined);
    assert.equal(resumableRun(job, { kind: 'score', state: 'cancelled' }), undefined);

    // the trainer folder itself and a CLI run folder name the same kind of run
    assert.equal((trainerRunAt(trainer) as { jobDir?: string }).jobDir, job);
    const cli = path.join(root, 's.onnx.distill-runs', '20261126-1');
    mkdirSync(cli, { recursive: true });
    writeFileSync(path.join(cli, 'config.json'), JSON.stringify({ student: '/m/s.onnx', teacher: '/m/t.onnx' }));
    const cliRun = trainerRunAt(cli);
    assert.ok(!('problem' in cliRun) && cliRun.jobDir === undefined && cliRun.dir === cli);
    assert.match((trainerRunAt(root) as { problem: string }).problem, /not a distillation run folder/);

    const { request, output } = distillResumeRequest('/ext/python', { run, python: 'py', settings: { kind: 'distill', target: '/m/s.onnx', options: {} }, flags: { steps: 500 } }, 'Distill');
    assert.equal(output, '/m/s.distilled.onnx', 'the output the run was started with');
    const p = request.process(job);
    assert.ok(p.type === 'spawn');
    if (p.type !== 'spawn') return;
    assert.equal(p.args[p.args.indexOf('--resume') + 1], trainer);
    assert.equal(p.args[p.args.indexOf('--steps') + 1], '500');
    assert.ok(!p.args.includes('--run-dir') && !p.args.includes('--teacher') && !p.args.includes('--output'), p.args.join(' '));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('saving to tasks.json keeps comments, replaces a task of the same label and writes valid JSONC', async () => {
  const task = { label: 'LD Surgeon: distill p.onnx', type: 'ld-surgeon-distill', student: 'p.onnx', steps: 10 };
  const created = withTask('', task, 'tasks.json');
  assert.deepEqual(parse(created), { version: '2.0.0', tasks: [task] });

  const mine = '{\n  // my build\n  "version": "2.0.0",\n  "tasks": [\n    { "label": "build", "type": "shell", "command": "make" },\n  ]\n}\n';
  const added = withTask(mine, task, 'tasks.json');
  assert.match(added, /\/\/ my build/);
  assert.deepEqual(parse(added).tasks.map((t: { label: string }) => t.label), ['build', task.label]);
  const replaced = withTask(added, { ...task, steps: 20 }, 'tasks.json');
  assert.deepEqual(parse(replaced).tasks.map((t: { steps?: number }) => t.steps), [undefined, 20]);

  assert.throws(() => withTask('{ "tasks": [', task, '/w/.vscode/tasks.json'), (e: unknown) => e instanceof UserError && /\/w\/\.vscode\/tasks\.json: cannot add the task/.test(e.message));
  assert.throws(() => withTask('{ "tasks": {} }', task, 'f'), /"tasks" is not a list/);

  const root = mkdtempSync(path.join(tmpdir(), 'ld-surgeon-tasksjson-'));
  try {
    const file = await saveTask(root, task);
    assert.equal(file, path.join(root, '.vscode', 'tasks.json'));
    assert.deepEqual(parse(readFileSync(file, 'utf8')).tasks, [task]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
