// Operator scores per model file, as the views show them: streamed in while a scoring job runs, and read
// back from the score file next to the model afterwards (so they survive a reload).
import * as vscode from 'vscode';
import type { CandidateResult } from '../protocol/webview';

export class ScoreStore implements vscode.Disposable {
  private readonly byModel = new Map<string, Map<string, CandidateResult>>();
  private readonly changed = new vscode.EventEmitter<string>();
  /** scores of a model (its path) changed */
  readonly onDidChange = this.changed.event;

  get(modelPath: string): ReadonlyMap<string, CandidateResult> | undefined {
    return this.byModel.get(modelPath);
  }

  all(modelPath: string): CandidateResult[] {
    return [...(this.byModel.get(modelPath)?.values() ?? [])];
  }

  /** Adds (or replaces, by id) results; `reset` drops the model's earlier results first. */
  merge(modelPath: string, results: readonly CandidateResult[], reset = false): void {
    let m = this.byModel.get(modelPath);
    if (!m || reset) this.byModel.set(modelPath, (m = new Map()));
    for (const r of results) m.set(r.id, r);
    this.changed.fire(modelPath);
  }

  clear(modelPath: string): void {
    if (this.byModel.delete(modelPath)) this.changed.fire(modelPath);
  }

  dispose(): void {
    this.changed.dispose();
  }
}
