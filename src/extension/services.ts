// The extension's live services, built once in activate() and handed to each capability's workflow.
import type * as vscode from 'vscode';
import type { GraphEditorProvider } from './graph/graphEditor';
import type { JobManager } from './jobs/jobManager';
import type { ModelService } from './model/modelService';
import type { ModelTreeProvider } from './model/modelTree';
import type { PipelineFolders } from './model/pipelineFolders';
import type { ScoreStore } from './score/scoreStore';
import type { DistillChartPanels } from './distill/distillChart';

export interface ExtensionServices {
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
