// Loads models for the views: read (lazily: weights stay on disk) and analyze once per file version,
// shared by the model tree and every graph editor on the same file. Reads are async, so the extension
// host stays responsive while a large model is indexed.
import * as vscode from 'vscode';
import { promises as fs } from 'node:fs';
import { readModel } from '../../core/onnx/reader';
import { analyzeModel, type ModelAnalysis } from '../../core/graph';
import { perSampleInputShapes } from '../../core/graph/input-shapes';

interface Entry {
  /** mtime+size of the file this analysis was made from */
  version: string;
  analysis: Promise<ModelAnalysis>;
}

async function fileVersion(file: string): Promise<string> {
  const st = await fs.stat(file);
  return `${st.mtimeMs}:${st.size}`;
}

export class ModelService implements vscode.Disposable {
  private readonly cache = new Map<string, Entry>();
  private readonly changed = new vscode.EventEmitter<string>();
  /** a model file changed on disk (its path); views reload it */
  readonly onDidChangeModel = this.changed.event;
  private readonly watcher = vscode.workspace.createFileSystemWatcher('**/*.onnx', true, false, false);

  constructor() {
    const drop = (uri: vscode.Uri) => {
      if (this.cache.delete(uri.fsPath)) this.changed.fire(uri.fsPath);
    };
    this.watcher.onDidChange(drop);
    this.watcher.onDidDelete(drop);
  }

  /** The analysis of the model at `file` (absolute path), read again only when the file changed. */
  async analysis(file: string): Promise<ModelAnalysis> {
    const version = await fileVersion(file);
    const hit = this.cache.get(file);
    if (hit && hit.version === version) return hit.analysis;
    const analysis = readModel(file).then((m) => analyzeModel(m, { inputShapes: perSampleInputShapes(m) }));
    this.cache.set(file, { version, analysis });
    // a failed read is not cached: the user may fix the file and try again
    analysis.catch(() => {
      if (this.cache.get(file)?.analysis === analysis) this.cache.delete(file);
    });
    return analysis;
  }

  dispose(): void {
    this.watcher.dispose();
    this.changed.dispose();
    this.cache.clear();
  }
}
