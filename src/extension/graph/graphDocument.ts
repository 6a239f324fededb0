// The model behind a graph editor tab, as VS Code's custom-editor document: it lives in the model
// worker thread (src/core/edit), so opening, analysing and editing never run on the extension host.
// Every applied edit becomes one VS Code edit (undo/redo callbacks into the worker), so Undo/Redo,
// the dirty dot, Save, Save As, Revert and hot exit behave as in any editor.
import * as vscode from 'vscode';
import { promises as fs } from 'node:fs';
import { ModelWorkerStopped, type ChangeSummary, type ModelEdit, type ModelWorker, type WorkerDocument } from '../../core/edit';
import type { GraphIndexPatch } from '../../core/graph/index-patch';
import type { EditCheckResult } from '../../core/edit/check-model';

/** What a hot-exit backup holds: the edits that turn the original file into the edited model. */
interface Backup {
  format: 'ld-surgeon.graph-edits/1';
  edits: ModelEdit[];
}

export class GraphDocument implements vscode.CustomDocument {
  private readonly changed = new vscode.EventEmitter<ChangeSummary | undefined>();
  /** the model changed (an edit, undo, redo, revert): views redraw from `indexJson` */
  readonly onDidChangeModel = this.changed.event;
  private readonly closed = new vscode.EventEmitter<void>();
  /** the editor closed and the worker let the document go (its edits no longer count for the Model view) */
  readonly onDidClose = this.closed.event;

  private constructor(
    readonly uri: vscode.Uri,
    private doc: WorkerDocument | undefined,
    /** why the file could not be read (a truncated or foreign file): the editor shows it, with Reopen */
    private error: string | undefined,
    private readonly worker: ModelWorker,
  ) {}

  /** A file the worker cannot read still opens, as a document that holds the reader's error. */
  static async open(uri: vscode.Uri, worker: ModelWorker, backupId: string | undefined): Promise<GraphDocument> {
    let replay: ModelEdit[] = [];
    if (backupId) {
      const b = JSON.parse(await fs.readFile(vscode.Uri.parse(backupId).fsPath, 'utf8')) as Backup;
      if (b.format === 'ld-surgeon.graph-edits/1' && Array.isArray(b.edits)) replay = b.edits;
    }
    const doc = new GraphDocument(uri, undefined, undefined, worker);
    await doc.load(replay);
    return doc;
  }

  /** edits a hot-exit backup asked for, kept until an open succeeds (so Reopen after a failed open still restores them) */
  private replay: ModelEdit[] = [];

  private async load(replay: ModelEdit[]): Promise<void> {
    this.replay = replay;
    try {
      // the worker reads the model and picks per-sample input shapes (batch 1, the U-Net's config.json);
      // a worker that does not answer within the time limit is stopped and this fails, so the editor
      // shows an error with Reopen instead of "Loading graph…" for good
      this.doc = await this.worker.open({ path: this.uri.fsPath, replay });
      this.error = undefined;
      this.replay = [];
    } catch (e) {
      this.doc = undefined;
      this.error = e instanceof Error ? e.message : String(e);
      if (e instanceof ModelWorkerStopped && e.timedOut) {
        this.error += '. Reopen tries again; the time limit is the setting ldSurgeon.modelWorkerTimeoutSeconds.';
      }
    }
  }

  /** The reader's error when the file could not be read, else undefined. */
  get loadError(): string | undefined {
    return this.error;
  }

  /** Reads the file again (after the user fixed or replaced it); views redraw either way. */
  async reopen(): Promise<void> {
    const old = this.doc;
    await this.load(old ? [] : this.replay);
    if (old && old !== this.doc) void old.close().catch(() => undefined);
    this.changed.fire(undefined);
  }

  private get model(): WorkerDocument {
    if (!this.doc) throw new Error(`${this.uri.fsPath}: ${this.error ?? 'not read yet'}`);
    return this.doc;
  }

  get modelPath(): string {
    return this.uri.fsPath;
  }

  get indexJson(): string {
    return this.model.indexJson;
  }

  /** What the last change (edit, undo, redo, revert) changed in the index; undefined after a (re)open. */
  get lastPatch(): GraphIndexPatch | undefined {
    return this.doc?.lastPatch;
  }

  get dirty(): boolean {
    return this.doc?.state.dirty ?? false;
  }

  get edits(): ModelEdit[] {
    return this.doc?.state.edits ?? [];
  }

  /** Applies the edit in the worker; throws EditRefused (with the reason) when it is not applied. */
  async apply(edit: ModelEdit): Promise<ChangeSummary> {
    const summary = await this.model.apply(edit);
    this.changed.fire(summary);
    return summary;
  }

  async undo(): Promise<void> {
    this.changed.fire(await this.model.undo());
  }

  async redo(): Promise<void> {
    this.changed.fire(await this.model.redo());
  }

  async revert(): Promise<void> {
    this.changed.fire(await this.model.revert());
  }

  /** "Check model": the pruned-model checks on the document as it is now, run in the worker. */
  check(): Promise<EditCheckResult> {
    return this.model.check();
  }

  /** Save: beside the original (`<name>.edited.onnx`), never over it. */
  save(): Promise<string> {
    return this.model.save().then((r) => r.path);
  }

  /** Save As: where the user chose; over the original only because they chose it (a backup is kept). */
  async saveAs(target: vscode.Uri): Promise<{ path: string; backup?: string }> {
    const overOriginal = target.fsPath === this.uri.fsPath;
    const r = await this.model.save(target.fsPath, overOriginal);
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
    void (this.doc?.close() ?? Promise.resolve()).catch(() => undefined).finally(() => {
      this.closed.fire();
      this.closed.dispose();
    });
  }
}
