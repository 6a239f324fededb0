// What every workflow gets, and how its commands report failures.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { GraphEditorProvider } from '../graphEditor';
import type { JobManager } from '../jobs/jobManager';
import type { ModelService } from '../modelService';
import type { ModelTreeProvider } from '../modelTree';
import type { PipelineFolders } from '../pipelineFolders';
import type { ScoreStore } from '../scoreStore';
import type { DistillChartPanels } from '../distillChart';

export interface WorkflowDeps {
  context: vscode.ExtensionContext;
  output: vscode.OutputChannel;
  jobs: JobManager;
  graphs: GraphEditorProvider;
  models: ModelService;
  scores: ScoreStore;
  modelTree: ModelTreeProvider;
  pipelines: PipelineFolders;
  /** the loss/metric charts of distillation runs (one panel per run) */
  charts: DistillChartPanels;
}

/** A message for a user, from anything thrown. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A path as the workspace shows it. */
export function rel(p: string): string {
  return vscode.workspace.asRelativePath(p, false);
}

/** Registers a command whose failure becomes an error notification instead of a silent rejection. */
export function command(id: string, fn: (...args: unknown[]) => Promise<unknown>): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      await fn(...args);
    } catch (e) {
      void vscode.window.showErrorMessage(errorText(e));
    }
  });
}
