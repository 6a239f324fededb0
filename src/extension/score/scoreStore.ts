// Operator scores per model file, as the views show them: read from the score file beside the model
// (MODEL.ldscores.json, written by scoring jobs and the CLI) and streamed in while a scoring job runs.
import * as vscode from 'vscode';
import { defaultScoreFile } from '../../core/scoring/target';
import { readScoreFileIfPresent } from '../../core/scoring/score-file';
import { candidateResult, type CandidateResult } from '../../core/scoring/events';

export class ScoreStore implements vscode.Disposable {
  private readonly byModel = new Map<string, Map<string, CandidateResult>>();
  /** models whose scores are streaming in from a job of this window: their file is not re-read meanwhile */
  private readonly streaming = new Set<string>();
  private readonly changed = new vscode.EventEmitter<string>();
  /** scores of a model (its path) changed */
  readonly onDidChange = this.changed.event;
  private readonly watcher = vscode.workspace.createFileSystemWatcher('**/*.ldscores.json');

  constructor() {
    const reread = (uri: vscode.Uri) => {
      const model = uri.fsPath.replace(/\.ldscores\.json$/, '.onnx');
      if (this.byModel.has(model) && !this.streaming.has(model)) this.load(model);
    };
    this.watcher.onDidCreate(reread);
    this.watcher.onDidChange(reread);
    this.watcher.onDidDelete(reread);
  }

  get(modelPath: string): ReadonlyMap<string, CandidateResult> | undefined {
    this.ensure(modelPath);
    return this.byModel.get(modelPath);
  }

  all(modelPath: string): CandidateResult[] {
    this.ensure(modelPath);
    return [...(this.byModel.get(modelPath)?.values() ?? [])];
  }

  /** Reads the model's score file the first time its scores are asked for. */
  private ensure(modelPath: string): void {
    if (!this.byModel.has(modelPath)) this.load(modelPath, false);
  }

  /** (Re)reads MODEL.ldscores.json; a missing or unreadable file means no scores. */
  load(modelPath: string, notify = true): void {
    const file = readScoreFileIfPresent(defaultScoreFile(modelPath));
    this.byModel.set(modelPath, new Map((file?.candidates ?? []).map((c) => [c.id, candidateResult(c)])));
    if (notify) this.changed.fire(modelPath);
  }

  /** Adds (or replaces, by id) results; `reset` drops the model's earlier results first. */
  merge(modelPath: string, results: readonly CandidateResult[], reset = false): void {
    let m = this.byModel.get(modelPath);
    if (!m || reset) this.byModel.set(modelPath, (m = new Map()));
    for (const r of results) m.set(r.id, r);
    this.changed.fire(modelPath);
  }

  /** While a job streams results for `modelPath`, file changes are its own writes: skip re-reading. */
  setStreaming(modelPath: string, on: boolean): void {
    if (on) this.streaming.add(modelPath);
    else this.streaming.delete(modelPath);
  }

  dispose(): void {
    this.watcher.dispose();
    this.changed.dispose();
  }
}
