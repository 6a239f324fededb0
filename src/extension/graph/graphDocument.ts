// The model behind a graph editor tab, as VS Code's custom-editor document: it lives in the model
// worker thread (src/core/edit), so opening, analysing and editing never run on the extension host.
// Every applied edit becomes one VS Code edit (undo/redo callbacks into the worker), so Undo/Redo,
// the dirty dot, Save, Save As, Revert and hot exit behave as in any editor.
import * as vscode from 'vscode';
import { promises as fs } from 'node:fs';
import type { ChangeSummary, ModelEdit, ModelWorker, WorkerDocument } from '../../core/edit';

/** What a hot-exit backup holds: the edits that turn the original file into the edited model. */
interface Backup {
  format: 'ld-surgeon.graph-edits/1';
  edits: ModelEdit[];
}

export class GraphDocument implements vscode.CustomDocument {
  private readonly changed = new vscode.EventEmitter<ChangeSummary | undefined>();
  /** the model changed (an edit, undo, redo, revert): views redraw from `indexJson` */
  readonly onDidChangeModel = this.changed.event;

  private constructor(readonly uri: vscode.Uri, private readonly doc: WorkerDocument) {}

  static async open(uri: vscode.Uri, worker: ModelWorker, backupId: string | undefined): Promise<GraphDocument> {
    let replay: ModelEdit[] = [];
    if (backupId) {
      const b = JSON.parse(await fs.readFile(vscode.Uri.parse(backupId).fsPath, 'utf8')) as Backup;
      if (b.format === 'ld-surgeon.graph-edits/1' && Array.isArray(b.edits)) replay = b.edits;
    }
    // the worker reads the model and picks per-sample input shapes (batch 1, the U-Net's config.json)
    return new GraphDocument(uri, await worker.open({ path: uri.fsPath, replay }));
  }

  get modelPath(): string {
    return this.uri.fsPath;
  }

  get indexJson(): string {
    return this.doc.indexJson;
  }

  get dirty(): boolean {
    return this.doc.state.dirty;
  }

  get edits(): ModelEdit[] {
    return this.doc.state.edits;
  }

  /** Applies the edit in the worker; throws EditRefused (with the reason) when it is not applied. */
  async apply(edit: ModelEdit): Promise<ChangeSummary> {
    const summary = await this.doc.apply(edit);
    this.changed.fire(summary);
    return summary;
  }

  async undo(): Promise<void> {
    this.changed.fire(await this.doc.undo());
  }

  async redo(): Promise<void> {
    this.changed.fire(await this.doc.redo());
  }

  async revert(): Promise<void> {
    this.changed.fire(await this.doc.revert());
  }

  /** Save: beside the original (`<name>.edited.onnx`), never over it. */
  save(): Promise<string> {
    return this.doc.save().then((r) => r.path);
  }

  /** Save As: where the user chose; over the original only because they chose it (a backup is kept). */
  async saveAs(target: vscode.Uri): Promise<{ path: string; backup?: string }> {
    const overOriginal = target.fsPath === this.uri.fsPath;
    const r = await this.doc.save(target.fsPath, overOriginal);
    return { path: r.path, backup: r.backup };
  }

  async backup(destination: vscode.Uri): Promise<vscode.CustomDocumentBackup> {
    const b: Backup = { format: 'ld-surgeon.graph-edits/1', edits: this.edits };
    await fs.mkdir(vscode.Uri.joinPath(destination, '..').fsPath, { recursive: true });
    await fs.writeFile(destination.fsPath, JSON.stringify(b));
    return { id: destination.toString(), delete: () => void fs.rm(destination.fsPath, { force: true }) };
  }

  dispose(): void {
    this.changed.dispose();
    void this.doc.close().catch(() => undefined);
  }
}
