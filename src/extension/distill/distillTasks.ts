// Distillation as a VS Code task (`"type": "ld-surgeon-distill"` in tasks.json). The task's terminal runs the
// environment check, prints the interpreter, versions and devices, then starts the training through the
// JobManager (so the Jobs view, the run folder, the notification, the chart and the output channel all work
// as for a launch from the command) and mirrors the job's progress and log. Terminating the task cancels the
// job gracefully (the trainer writes a checkpoint, then stops); the task ends with the job's outcome:
// 0 done, 130 cancelled, 1 anything else.
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { originalOfPruned, readPruneRecord } from '../../core/prune/record';
import { recordPathFor } from '../../core/prune/output';
import type { RunningJob } from '../jobs/jobRunner';
import type { DistillJobSpec } from './distillJob';
import { checkDistillEnvironment, showEnvironmentProblem } from './distillEnvironment';
import { modelFileOf } from '../../core/pipeline/layout';
import {
  DISTILL_TASK_TYPE, definitionPath, resolveDefinition, specOf, taskLabel, type DistillTaskDefinition,
} from './distillTaskDefinition';
import { trainerRunAt, type TrainerRun } from './trainerRun';

export const TASK_SOURCE = 'LD Surgeon';
export const EXIT_DONE = 0;
export const EXIT_FAILED = 1;
/** the trainer's own exit code when it stops on a cancel */
export const EXIT_CANCELLED = 130;

/** What the task needs from the distillation workflow (distillWorkflow.ts). */
export interface DistillLauncher {
  pythonRoot: string;
  /** the output channel: the environment check is kept there beside the jobs' logs */
  log(line: string): void;
  /** a new training; `spec.python` is the checked interpreter; `beforeStart` sees the job before its first log line */
  start(spec: DistillJobSpec, beforeStart?: (job: RunningJob) => void): Promise<{ job: RunningJob; output?: string }>;
  /** continues `run` from its latest checkpoint (in its own Jobs view folder when it has one) */
  resume(
    run: TrainerRun, python: string, overrides: { flags: Record<string, string | number>; args: string[]; devices?: number },
    beforeStart?: (job: RunningJob) => void,
  ): Promise<{ job: RunningJob; output?: string }>;
}

const RESET = '\x1b[0m';
const BOLD = '\x1b[1m';
const RED = '\x1b[31m';
const GREEN = '\x1b[32m';
const YELLOW = '\x1b[33m';

/** One run of the task: a pseudoterminal that drives one distillation job. */
class DistillTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private job?: RunningJob;
  private stopRequested = false;
  private ended = false;
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly definition: Record<string, unknown>,
    private readonly folder: vscode.WorkspaceFolder | undefined,
    private readonly name: string,
    private readonly launcher: DistillLauncher,
    private readonly started: vscode.EventEmitter<RunningJob>,
  ) {}

  open(): void {
    void this.run().then(
      (code) => this.end(code),
      (e) => {
        this.line(`${RED}${e instanceof Error ? e.message : String(e)}${RESET}`);
        this.end(EXIT_FAILED);
      },
    );
  }

  /** The terminal was killed or the task terminated: stop the training gracefully (checkpoint, then stop). */
  close(): void {
    this.stopRequested = true;
    // a job whose process is not spawned yet is cancelled by run() once it is (a cancel before that would be lost)
    if (this.job && this.job.status.state === 'running' && this.job.status.pid !== undefined) this.job.cancel();
  }

  private line(text = ''): void {
    this.writeEmitter.fire(`${text.replace(/\r?\n/g, '\r\n')}\r\n`);
  }

  private end(code: number): void {
    if (this.ended) return;
    this.ended = true;
    for (const off of this.offs) off();
    this.closeEmitter.fire(code);
  }

  private fail(message: string): number {
    this.line(`${RED}${message}${RESET}`);
    void vscode.window.showErrorMessage(`${this.name}: ${message}`);
    return EXIT_FAILED;
  }

  private async run(): Promise<number> {
    this.line(`${BOLD}LD Surgeon distillation: ${this.name}${RESET}`);
    const where = `task '${this.name}'${this.folder ? ` in ${this.folder.name}` : ''}`;
    const { resolved, problems } = resolveDefinition(this.definition, this.folder?.uri.fsPath, where);
    if (!resolved) return this.fail(problems.join('\n'));

    // what to train: a new run, or a run to continue
    let run: TrainerRun | undefined;
    let teacher: string | undefined;
    if (resolved.resume) {
      const r = trainerRunAt(resolved.resume);
      if ('problem' in r) return this.fail(r.problem);
      if (path.resolve(modelFileOf(resolved.student)) !== path.resolve(r.student)) {
        return this.fail(`${where}: 'resume' names a run that distills ${r.student}, not ${resolved.student}`);
      }
      run = r;
      this.line(`Resuming ${r.dir} (${r.checkpoints.length ? `latest checkpoint: step ${r.checkpoints[r.checkpoints.length - 1]}` : 'no checkpoint yet: it starts over, keeping its training data'})`);
    } else {
      if (!existsSync(resolved.student)) return this.fail(`${resolved.student}: the student model does not exist (${where}, 'student')`);
      teacher = resolved.teacher ?? originalOfPruned(resolved.student);
      if (!teacher) {
        return this.fail(`${resolved.student} has no prune record naming its original (${recordPathFor(modelFileOf(resolved.student))}); set 'teacher' in ${where}`);
      }
      if (!existsSync(teacher)) return this.fail(`${teacher}: the teacher model does not exist (${where})`);
      this.line(`Student: ${resolved.student}`);
      this.line(`Teacher: ${teacher}${resolved.teacher ? '' : ' (from the prune record)'}`);
    }

    this.line('Checking the Python environment…');
    const env = await checkDistillEnvironment(vscode.Uri.file(resolved.student), this.launcher.pythonRoot);
    this.launcher.log(`${this.name}: distillation environment`);
    for (const l of env.lines) {
      this.line(`  ${env.ok ? l : `${RED}${l}${RESET}`}`);
      this.launcher.log(`  ${l}`);
    }
    if (!env.ok) {
      showEnvironmentProblem(env.problem);
      this.line(`${RED}Not started: the environment check failed.${RESET}`);
      return EXIT_FAILED;
    }
    if (this.stopRequested) return EXIT_CANCELLED;

    // mirror the job from its first log line (its run folder and command line) on
    const mirror = (job: RunningJob) => {
      this.job = job;
      this.line('');
      this.offs.push(job.onLog((l) => this.line(l)));
      let shown = '';
      this.offs.push(job.onDidChange((s) => {
        if (s.state === 'running' && s.progressMessage && s.progressMessage !== shown) {
          shown = s.progressMessage;
          this.line(`${YELLOW}${shown}${RESET}`);
        }
      }));
    };
    const overrides = { flags: resolved.flags, args: resolved.args, devices: this.definition.devices === undefined ? undefined : resolved.devices };
    const { job } = run
      ? await this.launcher.resume(run, env.choice.python, overrides, mirror)
      : await this.launcher.start(specOf(resolved, teacher!, env.choice.python), mirror);
    this.started.fire(job);
    // a terminate that arrived while the job was starting
    if (this.stopRequested) job.cancel();
    const s = await job.finished;
    if (s.state === 'done') {
      this.line(`${GREEN}${BOLD}Done:${RESET} ${s.outputs?.join(', ') || '(no model exported)'}`);
      return EXIT_DONE;
    }
    if (s.state === 'cancelled') {
      this.line(`${YELLOW}Cancelled. Resume it from the Jobs view, or with "resume": "${definitionPath(job.dir, this.folder?.uri.fsPath)}" in the task.${RESET}`);
      return EXIT_CANCELLED;
    }
    this.line(`${RED}Failed: ${s.error ?? 'unknown error'}${RESET}`);
    return EXIT_FAILED;
  }
}

export class DistillTaskProvider implements vscode.TaskProvider, vscode.Disposable {
  private readonly started = new vscode.EventEmitter<RunningJob>();
  /** a task run started its job (tests and the Launch command follow the job through it) */
  readonly onDidStartJob = this.started.event;

  constructor(private readonly launcher: DistillLauncher) {}

  register(): vscode.Disposable {
    return vscode.tasks.registerTaskProvider(DISTILL_TASK_TYPE, this);
  }

  /** The task for a definition; relative paths in it resolve against `scope`'s folder. */
  createTask(definition: DistillTaskDefinition, scope: vscode.WorkspaceFolder | vscode.TaskScope.Workspace, name = taskLabel(definition), detail?: string): vscode.Task {
    const folder = typeof scope === 'object' ? scope : undefined;
    const task = new vscode.Task(
      definition,
      scope,
      name,
      TASK_SOURCE,
      // the definition VS Code hands back has ${workspaceFolder} and other variables substituted
      new vscode.CustomExecution(async (resolved) => new DistillTerminal(resolved as Record<string, unknown>, folder, name, this.launcher, this.started)),
    );
    task.detail = detail ?? (definition.resume ? `continue ${definition.resume}` : definition.teacher ? `from ${definition.teacher}` : 'teacher from the prune record');
    return task;
  }

  /** One task per pruned model in the workspace that has a prune record naming its original. */
  async provideTasks(token?: vscode.CancellationToken): Promise<vscode.Task[]> {
    const records = await vscode.workspace.findFiles('**/*.prune.json', '{**/node_modules/**,**/.git/**,**/.ld-surgeon/**}', 200, token);
    const tasks: vscode.Task[] = [];
    for (const uri of records.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
      const record = readPruneRecord(uri.fsPath);
      if (!record) continue;
      const student = record.output?.model && existsSync(record.output.model) ? record.output.model : uri.fsPath.replace(/\.prune\.json$/i, '.onnx');
      if (!existsSync(student) || !existsSync(record.source.model)) continue;
      const folder = vscode.workspace.getWorkspaceFolder(uri);
      const def: DistillTaskDefinition = {
        type: DISTILL_TASK_TYPE,
        student: definitionPath(student, folder?.uri.fsPath),
        teacher: definitionPath(record.source.model, folder?.uri.fsPath),
      };
      tasks.push(this.createTask(def, folder ?? vscode.TaskScope.Workspace));
    }
    return tasks;
  }

  /** A tasks.json entry: the same definition, with this extension's execution. */
  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const def = task.definition as DistillTaskDefinition;
    if (def.type !== DISTILL_TASK_TYPE) return undefined;
    const scope = typeof task.scope === 'object' ? task.scope : vscode.TaskScope.Workspace;
    // VS Code requires the very same definition object back
    return this.createTask(def, scope, task.name || taskLabel(def), task.detail);
  }

  dispose(): void {
    this.started.dispose();
  }
}
