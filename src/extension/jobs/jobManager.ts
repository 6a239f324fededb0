// Knows every job: those this window runs (in memory) and those recorded in run folders on disk
// (finished ones, failed ones, and ones another window runs). The jobs view and the job commands read it.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { startJob, startJobIn, type JobRequest, type RunningJob } from './jobRunner';
import { listRuns, readStatus, settleOrphan, isProcessAlive, writeJsonAtomic, SETTINGS_FILE, STATUS_FILE, type JobKind, type JobStatus, type RunRecord } from './runFolder';
import { promises as fs } from 'node:fs';

export const RUNS_DIR = path.join('.ld-surgeon', 'runs');

/** Starts a job again from its settings.json (re-run), wired the way its kind's command wires it. */
export type JobRestarter = (settings: { target: string; options: Record<string, unknown> }) => Promise<RunningJob>;

export class JobManager implements vscode.Disposable {
  private readonly running = new Map<string, RunningJob>();
  private readonly restarters = new Map<JobKind, JobRestarter>();
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly started = new vscode.EventEmitter<RunningJob>();
  private readonly disposables: vscode.Disposable[] = [this.changed, this.started];
  private refreshTimer?: NodeJS.Timeout;

  /** the job list changed (a job started, progressed, ended, or a run folder changed on disk) */
  readonly onDidChange = this.changed.event;
  /** this window started a job */
  readonly onDidStart = this.started.event;

  constructor(private readonly globalStorage: vscode.Uri) {
    const watcher = vscode.workspace.createFileSystemWatcher(`**/${RUNS_DIR.split(path.sep).join('/')}/*/${STATUS_FILE}`);
    watcher.onDidChange(() => this.changedSoon(), undefined, this.disposables);
    watcher.onDidCreate(() => this.changedSoon(), undefined, this.disposables);
    watcher.onDidDelete(() => this.changedSoon(), undefined, this.disposables);
    this.disposables.push(watcher, vscode.workspace.onDidChangeWorkspaceFolders(() => this.changedSoon()));
  }

  registerKind(kind: JobKind, restart: JobRestarter): void {
    this.restarters.set(kind, restart);
  }

  /** Where a job on `target` keeps its run folder: its workspace folder, else the extension's storage. */
  runsRootFor(target: vscode.Uri): string {
    const folder = vscode.workspace.getWorkspaceFolder(target) ?? vscode.workspace.workspaceFolders?.[0];
    return folder && folder.uri.scheme === 'file'
      ? path.join(folder.uri.fsPath, RUNS_DIR)
      : path.join(this.globalStorage.fsPath, 'runs');
  }

  private roots(): string[] {
    const roots = (vscode.workspace.workspaceFolders ?? [])
      .filter((f) => f.uri.scheme === 'file')
      .map((f) => path.join(f.uri.fsPath, RUNS_DIR));
    roots.push(path.join(this.globalStorage.fsPath, 'runs'));
    return [...new Set(roots)];
  }

  /**
   * Starts a job in a new run folder, or in `opts.dir` (a job continuing in its own folder, e.g. a resumed
   * distillation). `opts.beforeStart` sees the job before its first log line (e.g. a task terminal mirroring it).
   */
  async start(request: JobRequest, opts: { dir?: string; beforeStart?: (job: RunningJob) => void } = {}): Promise<RunningJob> {
    if (opts.dir && this.running.has(opts.dir)) throw new Error(`${opts.dir}: its job is still running`);
    const track = (j: RunningJob) => {
      this.running.set(j.dir, j);
      const unsubscribe = j.onDidChange(() => this.changed.fire());
      void j.finished.then(() => {
        unsubscribe();
        this.running.delete(j.dir);
        this.changed.fire();
      });
      opts.beforeStart?.(j);
      this.started.fire(j);
    };
    const job = opts.dir ? await startJobIn(opts.dir, request, track) : await startJob(this.runsRootFor(vscode.Uri.file(request.target)), request, track);
    this.changed.fire();
    return job;
  }

  get(dir: string): RunningJob | undefined {
    return this.running.get(dir);
  }

  runningJobs(): RunningJob[] {
    return [...this.running.values()];
  }

  /** All jobs, newest first. Jobs whose process died unobserved are reported as failed (interrupted). */
  async list(): Promise<RunRecord[]> {
    const onDisk = (await Promise.all(this.roots().map((r) => listRuns(r)))).flat();
    const byDir = new Map<string, RunRecord>();
    for (const r of onDisk) byDir.set(r.dir, { dir: r.dir, status: settleOrphan(r.status) });
    for (const job of this.running.values()) byDir.set(job.dir, { dir: job.dir, status: job.status });
    return [...byDir.values()].sort((a, b) => b.status.startedAt.localeCompare(a.status.startedAt) || b.dir.localeCompare(a.dir));
  }

  async status(dir: string): Promise<JobStatus | undefined> {
    const live = this.running.get(dir);
    if (live) return live.status;
    const s = await readStatus(dir);
    return s && settleOrphan(s);
  }

  async cancel(dir: string): Promise<void> {
    const live = this.running.get(dir);
    if (live) {
      live.cancel();
      return;
    }
    // a job another window (or a crashed one) started: stop its process and record the cancel ourselves
    const s = await readStatus(dir);
    if (!s || s.state !== 'running') return;
    if (isProcessAlive(s.pid)) {
      try {
        process.kill(s.pid!, 'SIGTERM');
      } catch {
        // it ended meanwhile
      }
    }
    await writeJsonAtomic(path.join(dir, STATUS_FILE), { ...s, state: 'cancelled', endedAt: new Date().toISOString() });
    this.changed.fire();
  }

  async rerun(dir: string): Promise<RunningJob> {
    let settings: { kind?: JobKind; target?: string; options?: Record<string, unknown> };
    try {
      settings = JSON.parse(await fs.readFile(path.join(dir, SETTINGS_FILE), 'utf8'));
    } catch (e) {
      throw new Error(`cannot re-run: ${path.join(dir, SETTINGS_FILE)} is missing or not JSON (${(e as Error).message})`);
    }
    const restart = settings.kind && this.restarters.get(settings.kind);
    if (!restart || typeof settings.target !== 'string') {
      throw new Error(`cannot re-run: ${path.join(dir, SETTINGS_FILE)} does not describe a job this version can run`);
    }
    return restart({ target: settings.target, options: settings.options ?? {} });
  }

  private changedSoon(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.changed.fire();
    }, 200);
  }

  dispose(): void {
    // The window is closing: jobs cannot report to anyone any more. Stop them and record why.
    for (const job of this.running.values()) job.interruptSync();
    this.running.clear();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const d of this.disposables) d.dispose();
  }
}
