// The user-facing workflows: Score Operators, Prune Model…, Launch Distillation…, and the graph
// editor's requests. Each resolves its target, reads the settings, and starts a job; results flow back
// into the score store (model tree and graph editors) and the explorer.
import * as vscode from 'vscode';
import type { GraphActions, GraphEditorProvider } from './graphEditor';
import type { JobManager } from './jobs/jobManager';
import type { ModelService } from './modelService';
import type { ModelTreeProvider } from './modelTree';
import type { PipelineFolders } from './pipelineFolders';
import type { ScoreStore } from './scoreStore';
import type { ToWebview } from '../protocol/webview';
import { NODE_SCHEME, NodeDocumentProvider, openNode } from './nodeDocument';
import { findTensor, tensorStats } from './tensorStats';

export interface WorkflowDeps {
  context: vscode.ExtensionContext;
  output: vscode.OutputChannel;
  jobs: JobManager;
  graphs: GraphEditorProvider;
  models: ModelService;
  scores: ScoreStore;
  modelTree: ModelTreeProvider;
  pipelines: PipelineFolders;
}

export interface WorkflowsApi {
  graphActions: GraphActions;
}

export function registerWorkflows(d: WorkflowDeps): { disposables: vscode.Disposable[]; api: WorkflowsApi } {
  const graphActions: GraphActions = {
    scoreOperators: async (modelPath) => {
      await vscode.commands.executeCommand('ldSurgeon.scoreOperators', vscode.Uri.file(modelPath));
    },
    cancelScoring: async (modelPath) => {
      for (const job of d.jobs.runningJobs()) {
        if (job.status.kind === 'score' && job.status.target === modelPath) job.cancel();
      }
    },
    prune: async (modelPath, ids) => {
      await vscode.commands.executeCommand('ldSurgeon.prune', vscode.Uri.file(modelPath), ids);
    },
    distill: async (_modelPath, prunedPath) => {
      await vscode.commands.executeCommand('ldSurgeon.distill', vscode.Uri.file(prunedPath));
    },
    weightStats: async (modelPath, tensorName) => {
      const a = await d.models.analysis(modelPath);
      const t = findTensor(a, tensorName);
      if (!t) throw new Error(`${modelPath} has no constant tensor '${tensorName}'`);
      return tensorStats(t, modelPath);
    },
    openNode: (modelPath, nodeId) => openNode(modelPath, nodeId),
    initialState: (modelPath) => {
      const out: ToWebview[] = [];
      const running = d.jobs.runningJobs().find((j) => j.status.kind === 'score' && j.status.target === modelPath);
      if (running) out.push({ type: 'scoringState', state: 'running', message: running.status.progressMessage });
      return out;
    },
  };
  d.graphs.actions = graphActions;

  const disposables: vscode.Disposable[] = [
    vscode.workspace.registerTextDocumentContentProvider(NODE_SCHEME, new NodeDocumentProvider(d.models)),
  ];
  return { disposables, api: { graphActions } };
}
