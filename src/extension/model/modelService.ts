// Loads models for the views. Everything that reads or analyses a model runs in the model worker
// threads the graph editors use (core/edit/worker-client: a thread per open document, one shared for
// files no editor has open): the Model view's module tree, "open node" and the inspector's weight
// statistics. A file open in a graph editor is not analysed twice, and reading or analysing an
// SD-scale U-Net never runs on the extension host's event loop. Each request has a time limit (the
// setting ldSurgeon.modelWorkerTimeoutSeconds), so a stuck worker turns into an error, never a wait.
import * as vscode from 'vscode';
import { promises as fs } from 'node:fs';
import { moduleSummary, type ModuleSummary } from '../../core/graph';
import type { WeightStats } from '../../core/graph/tensor-stats';
import { DEFAULT_REQUEST_TIMEOUT_MS, ModelWorker } from '../../core/edit';

/** The model worker's time limit per step, from the setting (read for every request). */
export function workerTimeoutMs(): number {
  const s = vscode.workspace.getConfiguration('ldSurgeon').get<number>('modelWorkerTimeoutSeconds', DEFAULT_REQUEST_TIMEOUT_MS / 1000);
  return Number.isFinite(s) && s > 0 ? Math.max(1, s) * 1000 : DEFAULT_REQUEST_TIMEOUT_MS;
}

interface Entry<T> {
  /** mtime+size of the file this result was made from */
  version: string;
  value: Promise<T>;
}

async function fileVersion(file: string): Promise<string> {
  const st = await fs.stat(file);
  return `${st.mtimeMs}:${st.size}`;
}

export class ModelService implements vscode.Disposable {
  private readonly summaries = new Map<string, Entry<ModuleSummary>>();
  private modelWorker: ModelWorker | undefined;
  private readonly changed = new vscode.EventEmitter<string>();
  /** a model file changed on disk (its path); views reload it */
  readonly onDidChangeModel = this.changed.event;
  private readonly watcher = vscode.workspace.createFileSystemWatcher('**/*.onnx', true, false, false);

  constructor(private readonly extensionUri: vscode.Uri) {
    const drop = (uri: vscode.Uri) => {
      if (this.summaries.delete(uri.fsPath)) this.changed.fire(uri.fsPath);
    };
    this.watcher.onDidChange(drop);
    this.watcher.onDidDelete(drop);
  }

  /** The model worker threads (dist/model-worker.js), started on first use; the graph editors open their documents in them. */
  get worker(): ModelWorker {
    this.modelWorker ??= ModelWorker.start({ modulePath: vscode.Uri.joinPath(this.extensionUri, 'dist', 'model-worker.js').fsPath, timeoutMs: workerTimeoutMs });
    return this.modelWorker;
  }

  /**
   * The module tree of the model at `file` for the Model view, made in the model worker (from the
   * graph editor's document when one is open on the file); asked again only when the file or that
   * document changed.
   */
  modules(file: string): Promise<ModuleSummary> {
    return cached(this.summaries, file, () => this.worker.modules(file).then(moduleSummary));
  }

  /** The graph editor's document on `file` changed (an edit, undo, redo, revert): the tree asks the worker again. */
  documentChanged(file: string): void {
    this.summaries.delete(file);
    this.changed.fire(file);
  }

  /** "Open node": the definition of a node of `file` (as edited, when a graph editor has it open), made in the worker. */
  node(file: string, nodeId: string): Promise<Record<string, unknown>> {
    return this.worker.node(file, nodeId);
  }

  /** The inspector's statistics of a constant tensor of `file`, its bytes read in the worker. */
  weightStats(file: string, tensorName: string): Promise<WeightStats> {
    return this.worker.weightStats(file, tensorName);
  }

  dispose(): void {
    this.watcher.dispose();
    this.changed.dispose();
    this.summaries.clear();
    void this.modelWorker?.dispose();
  }
}

async function cached<T>(cache: Map<string, Entry<T>>, file: string, make: () => Promise<T>): Promise<T> {
  const version = await fileVersion(file);
  const hit = cache.get(file);
  if (hit && hit.version === version) return hit.value;
  const value = make();
  cache.set(file, { version, value });
  // a failed read is not cached: the user may fix the file and try again
  value.catch(() => {
    if (cache.get(file)?.value === value) cache.delete(file);
  });
  return value;
}
