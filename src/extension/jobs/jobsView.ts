// The "Jobs" view: one row per run folder (scoring, prune, distillation), newest first, with state,
// duration and execution provider; context actions come from package.json menus keyed on contextValue.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { JobManager } from './jobManager';
import { LOG_FILE, type JobKind, type JobState, type JobStatus, type RunRecord } from './runFolder';
import { formatDuration } from '../format';

const KIND_LABEL: Record<JobKind, string> = { score: 'Score', prune: 'Prune', distill: 'Distill', measure: 'Measure quality' };

const STATE_ICON: Record<JobState, vscode.ThemeIcon> = {
  running: new vscode.ThemeIcon('sync~spin'),
  done: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  cancelled: new vscode.ThemeIcon('circle-slash'),
};

export class JobItem extends vscode.TreeItem {
  /** `resumable`: an ended job its process can continue (a distillation: see distill/trainerRun.ts resumableRun) */
  constructor(readonly record: RunRecord, resumable = false) {
    const s = record.status;
    super(`${KIND_LABEL[s.kind]}: ${displayTarget(s.target)}`, vscode.TreeItemCollapsibleState.None);
    this.id = record.dir;
    this.iconPath = STATE_ICON[s.state];
    this.description = describe(record);
    // e.g. ldSurgeon.job.cancelled.distill.resumable.output — menus match on the state (first), the kind and
    // resumability (middle) and on having something to open (last)
    const kind = s.kind === 'distill' ? '.distill' : '';
    this.contextValue = `ldSurgeon.job.${s.state}${kind}${resumable ? '.resumable' : ''}${s.outputs?.length ? '.output' : ''}`;
    this.tooltip = tooltip(record);
    this.command = { command: 'ldSurgeon.jobs.openLog', title: 'Open Log', arguments: [this] };
  }
}

function displayTarget(target: string): string {
  const rel = vscode.workspace.asRelativePath(target, false);
  return rel === target ? path.basename(target) : rel;
}

function elapsed(r: RunRecord): number {
  const start = Date.parse(r.status.startedAt);
  const end = r.status.endedAt ? Date.parse(r.status.endedAt) : Date.now();
  return Math.max(0, end - start);
}

function describe(r: RunRecord): string {
  const s = r.status;
  const parts: string[] = [];
  if (s.state === 'running') {
    parts.push(typeof s.progress === 'number' ? `${Math.floor(s.progress * 100)}%` : 'running');
  } else {
    parts.push(s.error?.startsWith('interrupted') ? 'interrupted' : s.state);
  }
  parts.push(formatDuration(elapsed(r)));
  if (s.executionProvider) parts.push(s.executionProvider);
  return parts.join(' · ');
}

function tooltip(r: RunRecord): vscode.MarkdownString {
  const s = r.status;
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${s.title}**\n\n`);
  md.appendMarkdown(`State: ${s.state}${s.progressMessage && s.state === 'running' ? ` — ${s.progressMessage}` : ''}\n\n`);
  md.appendMarkdown(`Started: ${new Date(s.startedAt).toLocaleString()}`);
  if (s.endedAt) md.appendMarkdown(` · ended ${new Date(s.endedAt).toLocaleString()}`);
  md.appendMarkdown(` (${formatDuration(elapsed(r))})\n\n`);
  if (s.executionProvider) md.appendMarkdown(`Execution provider: ${s.executionProvider}\n\n`);
  if (s.error) md.appendText(`Error: ${s.error}\n\n`);
  md.appendMarkdown(`Run folder: \`${r.dir}\``);
  return md;
}

export class JobsViewProvider implements vscode.TreeDataProvider<JobItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<JobItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;
  private ticker?: NodeJS.Timeout;
  /**
   * Whether each ended job can be resumed, by run folder and the ending it was read for: finding out
   * reads the trainer's files, and the view is rebuilt every second while any job runs.
   */
  private readonly resumable = new Map<string, { ending: string; value: boolean }>();

  /** `canResume`: whether an ended job can be continued (the capability that knows its files decides) */
  constructor(private readonly jobs: JobManager, private readonly canResume: (dir: string, status: JobStatus) => boolean = () => false) {
    this.subscription = jobs.onDidChange(() => this.changed.fire(undefined));
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(item: JobItem): JobItem {
    return item;
  }

  async getChildren(parent?: JobItem): Promise<JobItem[]> {
    if (parent) return [];
    const records = await this.jobs.list();
    this.tickWhileRunning(records.some((r) => r.status.state === 'running'));
    return records.map((r) => new JobItem(r, this.isResumable(r)));
  }

  private isResumable(r: RunRecord): boolean {
    const ending = `${r.status.state} ${r.status.endedAt ?? ''}`;
    const known = this.resumable.get(r.dir);
    if (known?.ending === ending) return known.value;
    const value = this.canResume(r.dir, r.status);
    this.resumable.set(r.dir, { ending, value });
    return value;
  }

  /** Durations of running jobs keep counting even when their process is quiet. */
  private tickWhileRunning(anyRunning: boolean): void {
    if (anyRunning && !this.ticker) {
      this.ticker = setInterval(() => this.changed.fire(undefined), 1000);
    } else if (!anyRunning && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  dispose(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.subscription.dispose();
    this.changed.dispose();
  }
}

export function logFileOf(item: JobItem): string {
  return path.join(item.record.dir, LOG_FILE);
}
