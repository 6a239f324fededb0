// How a running job shows itself: a cancellable progress notification, a status bar item while any job
// runs, its log in the "LD Surgeon" output channel, and a message when it ends.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { JobManager } from './jobManager';
import type { RunningJob } from './jobRunner';
import { formatDuration } from '../format';

export class JobProgressUi implements vscode.Disposable {
  private readonly statusBar = vscode.window.createStatusBarItem('ldSurgeon.jobs', vscode.StatusBarAlignment.Left, 10);
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly jobs: JobManager, private readonly output: vscode.OutputChannel) {
    this.statusBar.name = 'LD Surgeon Jobs';
    this.statusBar.command = 'ldSurgeon.jobs.focus';
    this.disposables.push(
      this.statusBar,
      jobs.onDidStart((job) => this.follow(job)),
      jobs.onDidChange(() => this.updateStatusBar()),
    );
  }

  private follow(job: RunningJob): void {
    this.output.appendLine('');
    const offLog = job.onLog((line) => this.output.appendLine(line));
    void job.finished.then((s) => {
      offLog();
      const took = s.endedAt ? formatDuration(Date.parse(s.endedAt) - Date.parse(s.startedAt)) : '';
      const where = s.executionProvider ? `, ${s.executionProvider}` : '';
      if (s.state === 'done') {
        const actions = s.outputs?.length ? ['Open Output', 'Show Log'] : ['Show Log'];
        void vscode.window.showInformationMessage(`${s.title}: done (${took}${where}).`, ...actions).then((a) => this.act(a, job));
      } else if (s.state === 'cancelled') {
        void vscode.window.showInformationMessage(`${s.title}: cancelled after ${took}.`, 'Show Log').then((a) => this.act(a, job));
      } else {
        void vscode.window.showErrorMessage(`${s.title} failed: ${s.error ?? 'unknown error'}`, 'Show Log').then((a) => this.act(a, job));
      }
    });
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: job.status.title, cancellable: true },
      (progress, token) => {
        token.onCancellationRequested(() => job.cancel());
        let reported = 0;
        const off = job.onDidChange((s) => {
          const now = Math.round((s.progress ?? 0) * 100);
          progress.report({ message: s.progressMessage, increment: Math.max(0, now - reported) });
          reported = Math.max(reported, now);
        });
        return job.finished.then(() => off());
      },
    );
  }

  private act(action: string | undefined, job: RunningJob): void {
    if (action === 'Show Log') {
      void vscode.commands.executeCommand('ldSurgeon.jobs.openLog', job.dir);
    } else if (action === 'Open Output') {
      void vscode.commands.executeCommand('ldSurgeon.jobs.openOutput', job.dir);
    }
  }

  private updateStatusBar(): void {
    const running = this.jobs.runningJobs();
    if (!running.length) {
      this.statusBar.hide();
      return;
    }
    const latest = running[running.length - 1].status;
    const pct = typeof latest.progress === 'number' ? ` ${Math.floor(latest.progress * 100)}%` : '';
    const more = running.length > 1 ? ` (+${running.length - 1})` : '';
    this.statusBar.text = `$(sync~spin) LD Surgeon: ${latest.kind}${pct}${more}`;
    this.statusBar.tooltip = running
      .map((j) => `${j.status.title} — ${Math.floor((j.status.progress ?? 0) * 100)}%${j.status.progressMessage ? ` (${j.status.progressMessage})` : ''}\n${path.basename(j.dir)}`)
      .join('\n\n');
    this.statusBar.show();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
