// Distillation in VS Code: Launch Distillation… (a pruned model → an `ld-surgeon-distill` task, teacher from the
// prune record), the task provider, Resume and Show Distillation Chart in the Jobs view, and the API's start().
// Every launch checks the Python environment first (distillEnvironment.ts).
import * as vscode from 'vscode';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { findPython, environmentReport } from '../../core/distill';
import { UserError } from '../../core/errors';
import type { RunningJob } from '../jobs/jobRunner';
import { distillJobRequest, distillResumeRequest, type DistillJobSpec } from './distillJob';
import { JobItem } from '../jobs/jobsView';
import { SETTINGS_FILE } from '../jobs/runFolder';
import { checkDistillEnvironment, registerEnvironmentCommand, showEnvironmentProblem } from './distillEnvironment';
import { DISTILL_TASK_TYPE, definitionPath, taskLabel, type DistillTaskDefinition } from './distillTaskDefinition';
import { EVENTS_FILE, TRAINER_DIR, trainerRunAt, resumableRun } from './trainerRun';
import { DistillTaskProvider, type DistillLauncher } from './distillTasks';
import { originalOfPruned } from '../../core/prune/record';
import { modelFileOf } from '../../core/pipeline/layout';
import { saveTask } from './tasksJson';
import { readSettings } from '../settings';
import { argPath, resolveModel } from '../model/targets';
import { requireDenoiser } from '../../core/pipeline/model-role';
import { pendingScores } from '../score/scoreResume';
import { command, rel } from '../commands';
import { distillConditions } from '../conditions';
import type { ExtensionServices } from '../services';

export interface DistillWorkflow {
  /** starts a training now (the interpreter checked first); the Launch command runs it as a task instead */
  start(spec: DistillJobSpec): Promise<{ job: RunningJob; output: string }>;
  tasks: DistillTaskProvider;
  disposables: vscode.Disposable[];
}

/** A run folder from a command argument: a Jobs view row, or the folder itself. */
function dirOf(arg: unknown): string | undefined {
  if (arg instanceof JobItem) return arg.record.dir;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  return typeof arg === 'string' ? arg : undefined;
}

export function distillWorkflow(d: ExtensionServices): DistillWorkflow {
  const pythonRoot = vscode.Uri.joinPath(d.context.extensionUri, 'python').fsPath;

  /** Shows a started training everywhere it belongs: both graphs (pruned and original) and the chart. */
  function follow(job: RunningJob, student: string, teacher: string, output: string | undefined, trainerDir: string): void {
    const models = [modelFileOf(student), teacher];
    for (const m of models) d.graphs.broadcast(m, { type: 'distillState', state: 'running', message: 'starting' });
    const off = job.onDidChange((st) => {
      if (st.state === 'running') for (const m of models) d.graphs.broadcast(m, { type: 'distillState', state: 'running', message: st.progressMessage });
    });
    void job.finished.then((st) => {
      off();
      const state = st.state === 'done' ? 'done' : 'failed';
      const message = st.state === 'cancelled' ? 'cancelled' : st.error;
      const outputPath = st.state === 'done' ? st.outputs?.[0] ?? output : undefined;
      for (const m of models) d.graphs.broadcast(m, { type: 'distillState', state, message, outputPath });
    });
    d.charts.show({ id: job.dir, title: job.status.title, eventsFile: path.join(trainerDir, EVENTS_FILE) });
  }

  async function startChecked(spec: DistillJobSpec, beforeStart?: (job: RunningJob) => void): Promise<{ job: RunningJob; output: string }> {
    const conditions = await distillConditions(spec.teacher);
    const title = `Distill: ${rel(spec.student)}${conditions ? ` (conditions: ${conditions.line})` : ''}`;
    const { request, output } = distillJobRequest(pythonRoot, conditions ? { ...spec, conditions } : spec, title);
    const job = await d.jobs.start(request, { beforeStart });
    follow(job, spec.student, spec.teacher, output, path.join(job.dir, TRAINER_DIR));
    return { job, output };
  }

  /** The interpreter the environment check picks for `resource`; a failed check is shown and stops the launch. */
  async function checkedPython(resource: string): Promise<string> {
    const env = await checkDistillEnvironment(vscode.Uri.file(resource), pythonRoot);
    for (const l of env.lines) d.output.appendLine(`  ${l}`);
    if (!env.ok) {
      showEnvironmentProblem(env.problem);
      throw new UserError(`distillation not started: ${env.problem.message}${env.problem.fixes[0] ? ` Fix: ${env.problem.fixes[0]}` : ''}`);
    }
    return env.choice.python;
  }

  async function start(spec: DistillJobSpec): Promise<{ job: RunningJob; output: string }> {
    let python = spec.python;
    if (python) {
      const choice = await findPython({ explicit: { python, source: 'the caller' } }, pythonRoot);
      for (const l of environmentReport(choice)) d.output.appendLine(`  ${l}`);
    } else {
      python = await checkedPython(spec.student);
    }
    return startChecked({ ...spec, python });
  }

  const launcher: DistillLauncher = {
    pythonRoot,
    log: (line) => d.output.appendLine(line),
    start: startChecked,
    async resume(run, python, overrides, beforeStart) {
      let settings: { kind: 'distill'; target: string; options: Record<string, unknown> } = {
        kind: 'distill', target: run.student, options: { teacher: run.teacher, resume: run.dir },
      };
      if (run.jobDir) {
        const live = await d.jobs.status(run.jobDir);
        if (live?.state === 'running') throw new UserError(`${run.jobDir}: this training is still running (in this or another window); cancel it before resuming`);
        try {
          // the job keeps its own settings: a later Re-run starts this training afresh, as first asked
          settings = JSON.parse(await fs.readFile(path.join(run.jobDir, SETTINGS_FILE), 'utf8'));
        } catch {
          // a run folder without settings.json (written by hand): re-run then resumes, which is still right
        }
      }
      const { request, output } = distillResumeRequest(
        pythonRoot,
        { run, python, settings, flags: overrides.flags, trainerArgs: overrides.args, devices: overrides.devices },
        `Distill: ${rel(run.student)}`,
      );
      const job = await d.jobs.start(request, { dir: run.jobDir, beforeStart });
      follow(job, run.student, run.teacher, output, run.dir);
      return { job, output };
    },
  };

  const tasks = new DistillTaskProvider(launcher);

  /** Runs a definition as a task in the folder that holds `target`. */
  async function runTask(def: DistillTaskDefinition, target: string, name?: string): Promise<vscode.WorkspaceFolder | undefined> {
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(target));
    await vscode.tasks.executeTask(tasks.createTask(def, folder ?? vscode.TaskScope.Workspace, name));
    return folder;
  }

  function definitionFor(folder: vscode.WorkspaceFolder | undefined, fields: Omit<DistillTaskDefinition, 'type'>): DistillTaskDefinition {
    const f = folder?.uri.fsPath;
    const def: DistillTaskDefinition = { type: DISTILL_TASK_TYPE, ...fields, student: definitionPath(fields.student, f) };
    if (fields.teacher) def.teacher = definitionPath(fields.teacher, f);
    if (fields.resume) def.resume = definitionPath(fields.resume, f);
    return def;
  }

  async function resumeJob(dir: string): Promise<void> {
    const status = await d.jobs.status(dir);
    if (!status) throw new UserError(`${dir}: not a job run folder (no readable status.json)`);
    // scoring resumes from its score file: the same settings score only what is still pending
    if (pendingScores(dir, status) > 0) {
      await d.jobs.rerun(dir);
      return;
    }
    const run = resumableRun(dir, status);
    if (!run) {
      const why = status.kind !== 'distill' ? 'it is not a distillation'
        : status.state === 'failed' ? 'it failed before writing a checkpoint (use Re-run)'
        : status.state === 'cancelled' ? 'it was cancelled before the trainer set up its run (use Re-run)'
        : `it is ${status.state}`;
      throw new UserError(`${dir}: cannot resume, ${why}`);
    }
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(dir));
    const def = definitionFor(folder, { student: run.student, resume: dir });
    await runTask(def, dir, `resume ${rel(dir)}`);
  }

  function showChart(dir: string, title: string, trainerDir: string): void {
    const eventsFile = path.join(trainerDir, EVENTS_FILE);
    if (!existsSync(eventsFile)) throw new UserError(`${eventsFile}: this run has no training events yet`);
    d.charts.show({ id: dir, title, eventsFile });
  }

  /** Jobs view distillations and CLI runs (`<student>.distill-runs/<time>/`) that have events to chart. */
  async function pickRun(): Promise<{ id: string; title: string; trainerDir: string } | undefined> {
    type Item = vscode.QuickPickItem & { run?: { id: string; title: string; trainerDir: string } };
    const items: Item[] = [];
    for (const r of await d.jobs.list()) {
      if (r.status.kind !== 'distill' || !existsSync(path.join(r.dir, TRAINER_DIR, EVENTS_FILE))) continue;
      items.push({ label: r.status.title, description: `${r.status.state} · ${path.basename(r.dir)}`, run: { id: r.dir, title: r.status.title, trainerDir: path.join(r.dir, TRAINER_DIR) } });
    }
    const cli = await vscode.workspace.findFiles('**/*.distill-runs/*/events.jsonl', '{**/node_modules/**,**/.git/**}', 200);
    for (const uri of cli.sort((a, b) => b.fsPath.localeCompare(a.fsPath))) {
      const dir = path.dirname(uri.fsPath);
      const run = trainerRunAt(dir);
      const student = 'problem' in run ? path.basename(path.dirname(dir)).replace(/\.distill-runs$/, '') : rel(run.student);
      items.push({ label: `Distill: ${student}`, description: `CLI run · ${path.basename(dir)}`, detail: rel(dir), run: { id: dir, title: `Distill: ${student} (${path.basename(dir)})`, trainerDir: dir } });
    }
    if (!items.length) {
      void vscode.window.showInformationMessage('No distillation runs with training events in this workspace yet. Launch one with LD Surgeon: Launch Distillation….');
      return undefined;
    }
    return (await vscode.window.showQuickPick(items, { placeHolder: 'Show the loss and metric chart of which distillation run?', matchOnDescription: true, matchOnDetail: true }))?.run;
  }

  d.jobs.registerKind('distill', async ({ target, options }) => {
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
    if (typeof options.resume === 'string') {
      // a resumed CLI run re-runs as a resume of that run (its own folder holds what it needs)
      const run = trainerRunAt(options.resume);
      if ('problem' in run) throw new UserError(run.problem);
      return (await launcher.resume(run, await checkedPython(target), { flags: {}, args: [] })).job;
    }
    return (await start({
      student: target,
      teacher: String(options.teacher),
      steps: num(options.steps),
      device: (options.device as DistillJobSpec['device']) ?? 'auto',
      python: '',
      trainerArgs: Array.isArray(options.trainerArgs) ? options.trainerArgs.map(String) : undefined,
      flags: options.flags && typeof options.flags === 'object' ? (options.flags as Record<string, string | number>) : undefined,
      data: typeof options.data === 'string' ? options.data : undefined,
      devices: num(options.devices),
      output: typeof options.output === 'string' ? options.output : undefined,
    })).job;
  });

  return {
    start,
    tasks,
    disposables: [
      tasks,
      tasks.register(),
      registerEnvironmentCommand(pythonRoot, d.output),
      command('ldSurgeon.distill', async (arg) => {
        const student = argPath(arg) ?? (await resolveModel(undefined, 'LD Surgeon: Launch Distillation… — pick the pruned (student) model', d.pipelines.list(), { denoiserFor: 'distillation' }));
        if (!student) return;
        // a VAE decoder or text encoder is refused here, not after the trainer has loaded for a while
        if (student.toLowerCase().endsWith('.onnx')) requireDenoiser(student, 'distillation');
        const teacher = originalOfPruned(student) ?? (await resolveModel(undefined, `Distill ${rel(student)}: pick the original (teacher) model`, d.pipelines.list(), { denoiserFor: 'distillation' }));
        if (!teacher) return;
        const stepsText = await vscode.window.showInputBox({
          title: `Distill ${rel(student)} from ${rel(teacher)}`,
          prompt: 'Optimizer steps (BK-SDM-style distillation: task + output + feature losses)',
          value: '1000',
          validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 ? undefined : 'a whole number of steps, at least 1'),
        });
        if (!stepsText) return;
        const s = readSettings(vscode.Uri.file(student));
        const device = s.executionProvider === 'cuda' ? 'cuda' : s.executionProvider === 'cpu' ? 'cpu' : 'auto';
        const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(student));
        const def = definitionFor(folder, { student, teacher, steps: Number(stepsText), device });
        await runTask(def, student);
        if (!folder) return;
        // keeping the run in tasks.json lets it be re-run (Run Task) or edited (lr, λs, data) later
        const label = `LD Surgeon: ${taskLabel(def)}`;
        const choice = await vscode.window.showInformationMessage(`Distilling ${rel(student)} as the task "${taskLabel(def)}".`, 'Save to tasks.json');
        if (choice !== 'Save to tasks.json') return;
        const file = await saveTask(folder.uri.fsPath, { label, ...def });
        await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
      }),
      command('ldSurgeon.jobs.resume', async (arg) => {
        const dir = dirOf(arg) ?? (await pickResumable());
        if (dir) await resumeJob(dir);
      }),
      command('ldSurgeon.jobs.showChart', async (arg) => {
        const dir = dirOf(arg);
        if (!dir) return vscode.commands.executeCommand('ldSurgeon.showDistillChart');
        const status = await d.jobs.status(dir);
        showChart(dir, status?.title ?? `Distill: ${path.basename(dir)}`, existsSync(path.join(dir, TRAINER_DIR)) ? path.join(dir, TRAINER_DIR) : dir);
      }),
      command('ldSurgeon.showDistillChart', async (arg) => {
        const dir = dirOf(arg);
        if (dir) return vscode.commands.executeCommand('ldSurgeon.jobs.showChart', dir);
        const run = await pickRun();
        if (run) showChart(run.id, run.title, run.trainerDir);
      }),
    ],
  };

  async function pickResumable(): Promise<string | undefined> {
    const items = (await d.jobs.list())
      .filter((r) => resumableRun(r.dir, r.status) || pendingScores(r.dir, r.status) > 0)
      .map((r) => ({ label: r.status.title, description: `${r.status.state} · ${path.basename(r.dir)}`, dir: r.dir }));
    if (!items.length) {
      void vscode.window.showInformationMessage('No cancelled scoring job with candidates left, and no cancelled or failed distillation with a checkpoint, to resume.');
      return undefined;
    }
    return (await vscode.window.showQuickPick(items, { placeHolder: 'Resume which distillation?' }))?.dir;
  }
}
