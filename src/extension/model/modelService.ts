// Loads models for the views. The Model view's module tree (params, FLOPs, op types per module) comes
// from the model worker thread, which the graph editors share: a file open in a graph editor is not
// analysed twice, and reading/analysing an SD-scale U-Net never runs on the extension host's event
// loop. The full analysis (node details, tensor lookups) is still made on the host, on demand only.
import * as vscode from 'vscode';
import { promises as fs } from 'node:fs';
import { readModel } from '../../core/onnx/reader';
import { analyzeModel, moduleSummary, type ModelAnalysis, type ModuleSummary } from '../../core/graph';
import { perSampleInputShapes } from '../../core/graph/input-shapes';
import { ModelWorker } from '../../core/edit';

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
  private readonly cache = new Map<string, Entry<ModelAnalysis>>();
  private readonly summaries = new Map<string, Entry<ModuleSummary>>();
  private modelWorker: ModelWorker | undefined;
  private readonly changed = new vscode.EventEmitter<string>();
  /** a model file changed on disk (its path); views reload it */
  readonly onDidChangeModel = this.changed.event;
  private readonly watcher = vscode.workspace.createFileSystemWatcher('**/*.onnx', true, false, false);

  constructor(private readonly extensionUri: vscode.Uri) {
    const drop = (uri: vscode.Uri) => {
      const had = this.summaries.delete(uri.fsPath);
      if (this.cache.delete(uri.fsPath) || had) this.changed.fire(uri.fsPath);
    };
    this.watcher.onDidChange(drop);
    this.watcher.onDidDelete(drop);
  }

  /** The model worker thread (dist/model-worker.js), started on first use; the graph editors open their documents in it. */
  get worker(): ModelWorker {
    this.modelWorker ??= ModelWorker.start({ modulePath: vscode.Uri.joinPath(this.extensionUri, 'dist', 'model-worker.js').fsPath });
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

  /** The full analysis of the model at `file` (absolute path), on the host; read again only when the file changed. */
  analysis(file: string): Promise<ModelAnalysis> {
    return cached(this.cache, file, () => readModel(file).then((m) => analyzeModel(m, { inputShapes: perSampleInputShapes(m) })));
  }

  dispose(): void {
    this.watcher.dispose();
    this.changed.dispose();
    this.cache.clear();
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
