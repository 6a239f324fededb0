// Distillation as a VS Code task (`ld-surgeon-distill`): the environment check that stops a launch, a tasks.json
// run to the distilled model (watched in the terminal, the Jobs view and the chart), and a run terminated
// mid-training that leaves a checkpoint and no model, then Resume from the Jobs view finishing it.
// Runs after the prune suite, which leaves digits-cond.pruned with its prune record naming the original.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { suite, suiteSetup, suiteTeardown, test } from './tdd';
import { api, closeAllEditors, launchDistillation, pipelineDir, unetPath, waitFor, workspaceRoot } from './helpers';
import type { LdSurgeonApi } from '../../../src/extension/api';
import type { RunningJob } from '../../../src/extension/jobs/jobRunner';
import type { EnvironmentCheck } from '../../../src/extension/distill/distillEnvironment';
import { DISTILL_TASK_TYPE, type DistillTaskDefinition } from '../../../src/extension/distill/distillTaskDefinition';
import { saveTask } from '../../../src/extension/distill/tasksJson';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const STUDENT = 'digits-cond.pruned/unet/model.onnx';
/** a tiny run: four teacher samples of two DDIM steps, batches of two, a step event per step */
const TINY = ['--data-samples', '4', '--data-steps', '2', '--eval-samples', '4', '--eval-steps', '2', '--eval-every', '0', '--log-every', '1', '--checkpoint-every', '0'];

/** An interpreter at `rel` in a fresh temp folder (like a venv's bin/python) that runs the system Python with `flags`. */
function interpreterAt(rel: string, ...flags: string[]): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'ld-python-')), rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `#!/bin/sh\nexec ${[PYTHON, ...flags].join(' ')} "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

function folder(): vscode.WorkspaceFolder {
  return vscode.workspace.workspaceFolders![0];
}

/** Records every task process end from now on, so an end that comes before the test waits is not missed. */
function taskEnds(): { wait(name: string, timeoutMs: number): Promise<number | undefined>; dispose(): void } {
  const ends: { name: string; code: number | undefined }[] = [];
  const sub = vscode.tasks.onDidEndTaskProcess((e) => ends.push({ name: e.execution.task.name, code: e.exitCode }));
  return {
    wait: async (name, timeoutMs) => (await waitFor(`the end of task '${name}'`, () => ends.find((e) => e.name === name), timeoutMs)).code,
    dispose: () => sub.dispose(),
  };
}

suite('distillation task', () => {
  let a: LdSurgeonApi;

  suiteSetup(async () => {
    a = await api();
    // Launch Distillation… opens the chart beside the graph; start from a clean editor area
    await closeAllEditors();
  });
  suiteTeardown(async () => {
    await vscode.workspace.getConfiguration('ldSurgeon').update('pythonPath', undefined, vscode.ConfigurationTarget.Workspace);
    await closeAllEditors();
  });

  test('an interpreter without torch: the check names the missing package and its fix, and the task starts no job', async function () {
    this.timeout(2 * 60_000);
    assert.ok(existsSync(path.join(workspaceRoot(), STUDENT)), 'the prune suite left a pruned model');
    // the system Python without its site packages: it runs the trainer's check, but torch and onnx are gone
    const fake = interpreterAt('python-without-torch', '-S');
    await vscode.workspace.getConfiguration('ldSurgeon').update('pythonPath', fake, vscode.ConfigurationTarget.Workspace);
    try {
      const check = await vscode.commands.executeCommand<EnvironmentCheck>('ldSurgeon.checkDistillEnvironment');
      assert.equal(check.ok, false);
      if (check.ok) return;
      assert.match(check.problem.message, new RegExp(`^${fake.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(the ldSurgeon.pythonPath setting`));
      assert.match(check.problem.message, /lacks torch/);
      assert.equal(check.problem.fixes.length, 1);
      assert.match(check.problem.fixes[0], /(pip install|apt-get install -y) .*torch/);

      const before = (await a.jobs.list()).length;
      let started: RunningJob | undefined;
      const sub = a.workflows.distillTasks.onDidStartJob((j) => (started = j));
      const ends = taskEnds();
      try {
        const def: DistillTaskDefinition = { type: DISTILL_TASK_TYPE, student: STUDENT, steps: 2, device: 'cpu', args: TINY };
        await vscode.tasks.executeTask(a.workflows.distillTasks.createTask(def, folder(), 'e2e no torch'));
        assert.equal(await ends.wait('e2e no torch', 60_000), 1, 'the task fails');
      } finally {
        ends.dispose();
        sub.dispose();
      }
      assert.equal(started, undefined, 'no job was started');
      assert.equal((await a.jobs.list()).length, before, 'no run folder was created');
    } finally {
      await vscode.workspace.getConfiguration('ldSurgeon').update('pythonPath', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test("the check takes the Python extension's selected interpreter; ldSurgeon.pythonPath still wins over it", async function () {
    this.timeout(2 * 60_000);
    // the e2e server has a stand-in for ms-python.python (test/e2e/fixtures/python-extension-standin) that reports
    // python.defaultInterpreterPath as the selected interpreter, through the same API as the real extension
    assert.ok(vscode.extensions.getExtension('ms-python.python'), 'the Python extension stand-in is installed');
    const selected = interpreterAt('bin/python');
    const python = vscode.workspace.getConfiguration('python');
    const ld = vscode.workspace.getConfiguration('ldSurgeon');
    await python.update('defaultInterpreterPath', selected, vscode.ConfigurationTarget.Workspace);
    try {
      const check = await vscode.commands.executeCommand<EnvironmentCheck>('ldSurgeon.checkDistillEnvironment');
      assert.ok(check.ok, check.lines.join('\n'));
      if (!check.ok) return;
      assert.equal(check.choice.python, selected);
      assert.match(check.choice.source, /Python extension/);
      assert.ok(check.lines.some((l) => l.includes(selected)), 'the report names the interpreter it used');

      await ld.update('pythonPath', PYTHON, vscode.ConfigurationTarget.Workspace);
      const explicit = await vscode.commands.executeCommand<EnvironmentCheck>('ldSurgeon.checkDistillEnvironment');
      assert.ok(explicit.ok && explicit.choice.python === PYTHON, 'the setting is used over the selected interpreter');
      assert.match(explicit.choice.source, /ldSurgeon\.pythonPath/);
    } finally {
      await ld.update('pythonPath', undefined, vscode.ConfigurationTarget.Workspace);
      await python.update('defaultInterpreterPath', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('an older Python extension (no environments API): the check takes its execution command', async function () {
    this.timeout(2 * 60_000);
    const selected = interpreterAt('bin/python3');
    const python = vscode.workspace.getConfiguration('python');
    const standin = vscode.workspace.getConfiguration('ldSurgeonE2e');
    await python.update('defaultInterpreterPath', selected, vscode.ConfigurationTarget.Workspace);
    await standin.update('pythonApi', 'legacy', vscode.ConfigurationTarget.Workspace);
    try {
      const ext = vscode.extensions.getExtension<{ environments?: unknown }>('ms-python.python')!;
      assert.equal((await ext.activate()).environments, undefined, 'the stand-in now looks like a release before the environments API');
      const check = await vscode.commands.executeCommand<EnvironmentCheck>('ldSurgeon.checkDistillEnvironment');
      assert.ok(check.ok, check.lines.join('\n'));
      if (!check.ok) return;
      assert.equal(check.choice.python, selected);
      assert.match(check.choice.source, /Python extension/);
    } finally {
      await standin.update('pythonApi', undefined, vscode.ConfigurationTarget.Workspace);
      await python.update('defaultInterpreterPath', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('Launch Distillation… runs the pruned model as an ld-surgeon-distill task, teacher from its prune record', async function () {
    this.timeout(2 * 60_000);
    const { job, execution, def } = await launchDistillation(a, path.join(workspaceRoot(), STUDENT));
    assert.deepEqual(
      { student: def.student, teacher: def.teacher, steps: def.steps, device: def.device },
      // workspace-relative, as it would be saved to tasks.json; cpu from ldSurgeon.executionProvider
      { student: STUDENT, teacher: 'digits-cond/unet/model.onnx', steps: 1000, device: 'cpu' },
    );
    assert.equal(job!.status.target, path.join(workspaceRoot(), STUDENT));
    execution.terminate();
    const s = await job!.finished;
    assert.equal(s.state, 'cancelled', s.error);
    assert.ok(!s.outputs?.length, 'no model from a cancelled run');
  });

  test('a tasks.json distillation runs to the distilled model, with its Jobs view row and a chart of its steps', async function () {
    this.timeout(4 * 60_000);
    const student = path.join(workspaceRoot(), STUDENT);
    const studentSha = sha(student);
    const teacherSha = sha(unetPath());
    // teacher left out: it comes from the student's prune record
    const label = 'e2e distill from tasks.json';
    await saveTask(workspaceRoot(), { label, type: DISTILL_TASK_TYPE, student: STUDENT, steps: 3, batch: 2, device: 'cpu', args: TINY });
    const task = await waitFor('the tasks.json task', async () => (await vscode.tasks.fetchTasks({ type: DISTILL_TASK_TYPE })).find((t) => t.name === label), 30_000);

    let job: RunningJob | undefined;
    const sub = a.workflows.distillTasks.onDidStartJob((j) => (job ??= j));
    const ends = taskEnds();
    try {
      await vscode.tasks.executeTask(task);
      assert.equal(await ends.wait(label, 3 * 60_000), 0, 'the task succeeds');
    } finally {
      ends.dispose();
      sub.dispose();
    }
    assert.ok(job, 'the task ran a job');
    const s = await job.finished;
    assert.equal(s.state, 'done', s.error);
    const output = s.outputs?.[0];
    assert.ok(output && existsSync(output), `the distilled model ${output} exists`);
    assert.match(path.basename(output), /^model\.distilled(-\d+)?\.onnx$/);
    assert.equal(path.dirname(output), path.dirname(student));
    assert.equal(sha(student), studentSha, 'the student is untouched');
    assert.equal(sha(unetPath()), teacherSha, 'the teacher is untouched');
    const config = JSON.parse(readFileSync(path.join(job.dir, 'trainer', 'config.json'), 'utf8'));
    assert.equal(config.teacher, unetPath(), 'the teacher came from the prune record');
    assert.equal(config.batch_size, 2);

    const row = (await a.jobsView.getChildren()).find((r) => r.record.dir === job!.dir);
    assert.ok(row, 'the run has a Jobs view row');
    assert.match(String(row.description), /^done · /);
    assert.match(String(row.contextValue), /^ldSurgeon\.job\.done\.distill\.output$/);

    // the chart the job opened has drawn every logged step (it reads trainer/events.jsonl)
    const snap = await waitFor('the chart with three loss points', () => {
      const sn = a.charts.snapshot(job!.dir);
      return sn && (sn.points['loss.total'] ?? 0) >= 3 && sn.state === 'done' ? sn : undefined;
    }, 60_000);
    assert.equal(snap.points['loss.total'], 3);
    assert.equal(snap.step, 3);

    // Show Distillation Chart… also charts a CLI run (<student>.distill-runs/<time>/events.jsonl)
    const cliRun = path.join(path.dirname(student), 'model.distill-runs', '20261126-000000');
    mkdirSync(cliRun, { recursive: true });
    for (const f of ['config.json', 'events.jsonl']) copyFileSync(path.join(job.dir, 'trainer', f), path.join(cliRun, f));
    await vscode.commands.executeCommand('ldSurgeon.showDistillChart', cliRun);
    const cliSnap = await waitFor('the CLI run chart', () => {
      const sn = a.charts.snapshot(cliRun);
      return sn && sn.state === 'done' ? sn : undefined;
    }, 60_000);
    assert.equal(cliSnap.points['loss.total'], 3);
  });

  test('terminating the task checkpoints and stops without a model; Resume in the Jobs view finishes it', async function () {
    this.timeout(4 * 60_000);
    const output = path.join(pipelineDir() + '.pruned', 'unet', 'model.resumed.onnx');
    const def: DistillTaskDefinition = { type: DISTILL_TASK_TYPE, student: STUDENT, steps: 150, batch: 2, device: 'cpu', output: path.relative(workspaceRoot(), output), args: TINY };
    let job: RunningJob | undefined;
    const sub = a.workflows.distillTasks.onDidStartJob((j) => (job ??= j));
    try {
      const execution = await vscode.tasks.executeTask(a.workflows.distillTasks.createTask(def, folder(), 'e2e cancel and resume'));
      await waitFor('training steps', () => job && /^step \d+\/150/.test(job.status.progressMessage ?? ''), 2 * 60_000);
      execution.terminate();
    } finally {
      sub.dispose();
    }
    const cancelled = await job!.finished;
    assert.equal(cancelled.state, 'cancelled', cancelled.error);
    const trainerDir = path.join(job!.dir, 'trainer');
    // the trainer keeps the untrained student as ckpt-0; the cancel adds the checkpoint of the step it stopped at
    const checkpoints = readdirSync(trainerDir).map((f) => /^ckpt-(\d+)\.pt$/.exec(f)).filter((m) => m).map((m) => Number(m![1]));
    const stoppedAt = Math.max(...checkpoints);
    assert.ok(stoppedAt >= 1 && stoppedAt < 150, `stopped mid-training, at step ${stoppedAt}`);
    assert.ok(!existsSync(output), 'a cancelled training writes no model');

    const row = await waitFor('the resumable Jobs view row', async () => (await a.jobsView.getChildren()).find((r) => r.record.dir === job!.dir && /\.resumable/.test(String(r.contextValue))));
    assert.match(String(row.contextValue), /^ldSurgeon\.job\.cancelled\.distill\.resumable/);

    // Resume continues in the same run folder (the same Jobs view row and chart) from the checkpoint
    const dir = job!.dir;
    await vscode.commands.executeCommand('ldSurgeon.jobs.resume', row);
    const resumed = await waitFor('the resumed job', () => a.jobs.get(dir), 2 * 60_000);
    const s = await resumed.finished;
    assert.equal(s.state, 'done', s.error);
    assert.deepEqual(s.outputs, [output]);
    assert.ok(existsSync(output), `${output} written`);
    const events = readFileSync(path.join(trainerDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.filter((e) => e.event === 'resume').map((e) => e.step), [stoppedAt], 'it continued from the checkpoint');
    assert.equal(events.filter((e) => e.event === 'done').length, 1);
    const rows = (await a.jobsView.getChildren()).filter((r) => r.record.dir === dir);
    assert.equal(rows.length, 1);
    assert.match(String(rows[0].description), /^done · /);
    const snap = await waitFor('the chart marking the resume', () => {
      const sn = a.charts.snapshot(dir);
      return sn && sn.state === 'done' && sn.resumes.length ? sn : undefined;
    }, 60_000);
    assert.deepEqual(snap.resumes, [stoppedAt]);
  });
});
