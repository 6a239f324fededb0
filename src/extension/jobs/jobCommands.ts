// The Jobs view's actions: cancel, re-run, open log, open output, open run folder, refresh.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { JobManager } from './jobManager';
import type { JobsViewProvider } from './jobsView';
import { JobItem } from './jobsView';
import { LOG_FILE } from './runFolder';
import { command } from '../commands';
import { openInEditor } from '../graph/graphTabs';

/** A job's run folder from a command argument: a Jobs view item or the folder path itself. */
function runDirOf(arg: unknown): string | undefined {
  if (arg instanceof JobItem) return arg.record.dir;
  if (typeof arg === 'string') return arg;
  return undefined;
}

async function requireDir(arg: unknown, jobs: JobManager, view: vscode.TreeView<JobItem>): Promise<string | undefined> {
  const dir = runDirOf(arg) ?? view.selection[0]?.record.dir;
  if (dir) return dir;
  const records = await jobs.list();
  const choice = await vscode.window.showQuickPick(
    records.map((r) => ({ label: r.status.title, description: `${r.status.state} · ${path.basename(r.dir)}`, dir: r.dir })),
    { placeHolder: 'Pick a job' },
  );
  return choice?.dir;
}

export function registerJobCommands(jobs: JobManager, provider: JobsViewProvider, view: vscode.TreeView<JobItem>): vscode.Disposable[] {
  const cmd = (id: string, fn: (arg?: unknown) => unknown) => command(id, (arg?: unknown) => fn(arg));
  return [
    cmd('ldSurgeon.jobs.cancel', async (arg) => {
      const dir = await requireDir(arg, jobs, view);
      if (dir) await jobs.cancel(dir);
    }),
    cmd('ldSurgeon.jobs.rerun', async (arg) => {
      const dir = await requireDir(arg, jobs, view);
      if (dir) await jobs.rerun(dir);
    }),
    cmd('ldSurgeon.jobs.openLog', async (arg) => {
      const dir = await requireDir(arg, jobs, view);
      if (!dir) return;
      await vscode.window.showTextDocument(vscode.Uri.file(path.join(dir, LOG_FILE)), { preview: true });
    }),
    cmd('ldSurgeon.jobs.openOutput', async (arg) => {
      const dir = await requireDir(arg, jobs, view);
      if (!dir) return;
      const outputs = (await jobs.status(dir))?.outputs ?? [];
      if (!outputs.length) {
        void vscode.window.showInformationMessage(`${path.basename(dir)} has produced no output yet.`);
        return;
      }
      const file = outputs.length === 1
        ? outputs[0]
        : (await vscode.window.showQuickPick(outputs.map((o) => ({ label: path.basename(o), description: vscode.workspace.asRelativePath(o, false), file: o })), { placeHolder: 'Open which output?' }))?.file;
      if (file) await openInEditor(file);
    }),
    cmd('ldSurgeon.jobs.openFolder', async (arg) => {
      const dir = await requireDir(arg, jobs, view);
      if (!dir) return;
      const uri = vscode.Uri.file(dir);
      // inside the workspace the explorer is the native place; outside it, the OS file manager
      if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
      else await vscode.commands.executeCommand('revealFileInOS', uri);
    }),
    cmd('ldSurgeon.jobs.refresh', () => provider.refresh()),
  ];
}
