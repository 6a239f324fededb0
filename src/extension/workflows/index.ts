// The user-facing workflows (Score Operators, Prune Model…, Launch Distillation…) and the graph editor's
// requests, wired to the jobs, the score store and the views.
import * as vscode from 'vscode';
import type { GraphActions } from '../graphEditor';
import type { ToWebview } from '../../protocol/webview';
import type { RunningJob } from '../jobs/jobRunner';
import type { PruneJobSpec } from '../jobs/pruneJob';
import type { DistillJobSpec } from '../jobs/distillJob';
import type { DistillTaskProvider } from '../distillTasks';
import { NODE_SCHEME, NodeDocumentProvider, openNode } from '../nodeDocument';
import { findTensor, tensorStats } from '../tensorStats';
import type { WorkflowDeps } from './common';
import { scoreWorkflow } from './score';
import { pruneWorkflow } from './prune';
import { distillWorkflow } from './distill';

export type { WorkflowDeps } from './common';

export interface WorkflowsApi {
  graphActions: GraphActions;
  /** starts scoring `target` (a pipeline folder or .onnx) with the settings that apply to it */
  score(target: string): Promise<RunningJob>;
  /** prunes `ids` out of `input`; resolves once the job has started */
  prune(spec: PruneJobSpec): Promise<{ job: RunningJob; outputModel: string }>;
  distill(spec: DistillJobSpec): Promise<{ job: RunningJob; output: string }>;
  /** the `ld-surgeon-distill` task provider (createTask builds a runnable task from a definition) */
  distillTasks: DistillTaskProvider;
}

export function registerWorkflows(d: WorkflowDeps): { disposables: vscode.Disposable[]; api: WorkflowsApi } {
  const score = scoreWorkflow(d);
  const prune = pruneWorkflow(d);
  const distill = distillWorkflow(d);

  const graphActions: GraphActions = {
    scoreOperators: async (modelPath) => {
      await vscode.commands.executeCommand('ldSurgeon.scoreOperators', vscode.Uri.file(modelPath));
    },
    cancelScoring: async (modelPath) => score.runningFor(modelPath)?.cancel(),
    prune: async (modelPath, ids) => {
      await vscode.commands.executeCommand('ldSurgeon.prune', vscode.Uri.file(modelPath), ids);
    },
    distill: async (_modelPath, prunedPath) => {
      await vscode.commands.executeCommand('ldSurgeon.distill', vscode.Uri.file(prunedPath));
    },
    weightStats: async (modelPath, tensorName) => {
      const t = findTensor(await d.models.analysis(modelPath), tensorName);
      if (!t) throw new Error(`${modelPath} has no constant tensor '${tensorName}'`);
      return tensorStats(t, modelPath);
    },
    openNode: (modelPath, nodeId) => openNode(modelPath, nodeId),
    initialState: (modelPath) => {
      const out: ToWebview[] = [];
      const running = score.runningFor(modelPath);
      if (running) out.push({ type: 'scoringState', state: 'running', message: running.status.progressMessage });
      return out;
    },
  };
  d.graphs.actions = graphActions;

  return {
    disposables: [
      vscode.workspace.registerTextDocumentContentProvider(NODE_SCHEME, new NodeDocumentProvider(d.models)),
      ...score.disposables,
      ...prune.disposables,
      ...distill.disposables,
    ],
    api: { graphActions, score: score.score, prune: prune.start, distill: distill.start, distillTasks: distill.tasks },
  };
}
