// Keeps the context key `ldSurgeon.pipelineFolders` listing every workspace folder that holds a diffusers-style
// pipeline (a `model_index.json`), so the explorer shows "Score Operators" on those folders only
// (`resourcePath in ldSurgeon.pipelineFolders`).
import * as vscode from 'vscode';
import * as path from 'node:path';

export const PIPELINE_MARKER = 'model_index.json';
const EXCLUDE = '{**/node_modules/**,**/.git/**,**/.ld-surgeon/**}';

export class PipelineFolders implements vscode.Disposable {
  private folders: string[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<readonly string[]>();
  readonly onDidChange = this.changed.event;
  private pending?: NodeJS.Timeout;
  /** resolves once the first scan has set the context key */
  readonly ready: Promise<void>;

  constructor() {
    const watcher = vscode.workspace.createFileSystemWatcher(`**/${PIPELINE_MARKER}`, false, true, false);
    watcher.onDidCreate(() => this.rescanSoon(), undefined, this.disposables);
    watcher.onDidDelete(() => this.rescanSoon(), undefined, this.disposables);
    this.disposables.push(watcher, this.changed, vscode.workspace.onDidChangeWorkspaceFolders(() => this.rescanSoon()));
    this.ready = this.rescan();
  }

  /** Absolute paths of the pipeline folders (`resourcePath` form: the fsPath for file: resources). */
  list(): readonly string[] {
    return this.folders;
  }

  /** The pipeline folder holding `file` (the file itself when it is a pipeline folder), if any. */
  pipelineOf(file: string): string | undefined {
    let best: string | undefined;
    for (const f of this.folders) {
      if ((file === f || file.startsWith(f + path.sep)) && (!best || f.length > best.length)) best = f;
    }
    return best;
  }

  private rescanSoon(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = setTimeout(() => void this.rescan(), 300);
  }

  private async rescan(): Promise<void> {
    const markers = await vscode.workspace.findFiles(`**/${PIPELINE_MARKER}`, EXCLUDE);
    const folders = [...new Set(markers.map((u) => path.dirname(u.fsPath)))].sort();
    // resourcePath is a resource's fsPath for file: URIs and its path otherwise (a remote window's
    // vscode-remote: URIs); on Windows the two differ, so list both forms.
    const keys = [...new Set(markers.flatMap((u) => [path.dirname(u.fsPath), path.posix.dirname(u.path)]))];
    this.folders = folders;
    await vscode.commands.executeCommand('setContext', 'ldSurgeon.pipelineFolders', keys);
    this.changed.fire(folders);
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    for (const d of this.disposables) d.dispose();
  }
}
