// LD Surgeon's VS Code layer: wires the views, the graph editor, the jobs and the commands together.
// It stays thin: models are read and analyzed by src/core, heavy work runs in job processes.
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { GraphEditorProvider } from './graph/graphEditor';
import { JobManager } from './jobs/jobManager';
import { JobsViewProvider, type JobItem } from './jobs/jobsView';
import { JobProgressUi } from './jobs/jobProgress';
import { registerJobCommands } from './jobs/jobCommands';
import { ModelService } from './model/modelService';
import { ModelTreeProvider, type ModuleItem } from './model/modelTree';
import { PipelineFolders } from './model/pipelineFolders';
import { ScoreStore } from './score/scoreStore';
import { resolveModel } from './model/targets';
import { activeGraphModel } from './graph/graphTabs';
import { graphActions } from './graph/graphActions';
import { NODE_SCHEME, NodeDocumentProvider } from './graph/nodeDocument';
import { scoreWorkflow } from './score/scoreWorkflow';
import { pruneWorkflow } from './prune/pruneWorkflow';
import { distillWorkflow } from './distill/distillWorkflow';
import { measureWorkflow } from './prune/measureWorkflow';
import { command } from './commands';
import { followVsCodeTelemetry } from './runtimeTelemetry';
import type { ExtensionServices } from './services';
import type { LdSurgeonApi } from './api';
import { DistillChartPanels } from './distill/distillChart';
import { resumableRun } from './distill/trainerRun';
import { pendingScores } from './score/scoreResume';

/** workspaceState: the model the Model view showed last */
const LAST_MODEL_KEY = 'ldSurgeon.modelView.model';

let jobsToInterrupt: JobManager | undefined;

export function activate(context: vscode.ExtensionContext): LdSurgeonApi {
  // first, before any model is opened: onnxruntime's telemetry as VS Code's setting says
  context.subscriptions.push(followVsCodeTelemetry());
  const output = vscode.window.createOutputChannel('LD Surgeon');
  const pipelines = new PipelineFolders();
  const models = new ModelService(context.extensionUri);
  const scores = new ScoreStore();
  const jobs = new JobManager(context.globalStorageUri);
  jobsToInterrupt = jobs;
  const graphs = new GraphEditorProvider(context.extensionUri, models, scores, output);
  const modelTree = new ModelTreeProvider(models, scores);
  // a distillation with its trainer run, or a scoring job whose score file has candidates left
  const jobsView = new JobsViewProvider(jobs, (dir, status) => !!resumableRun(dir, status) || pendingScores(dir, status) > 0);

  const modelView = vscode.window.createTreeView<ModuleItem>('ldSurgeon.modelTree', { treeDataProvider: modelTree, showCollapseAll: true });
  const jobsTreeView = vscode.window.createTreeView<JobItem>('ldSurgeon.jobs', { treeDataProvider: jobsView });

  const updateModelViewMessage = () => {
    const file = modelTree.model;
    modelView.description = file ? vscode.workspace.asRelativePath(file, false) : undefined;
    modelView.message = modelTree.statusMessage();
  };

  // Selecting a module shows it in the graph (opening the graph when needed).
  modelView.onDidChangeSelection((e) => {
    const item = e.selection[0];
    if (item && item.module.parent) void graphs.reveal(item.modelPath, item.module.id).catch((err) => output.appendLine(`reveal failed: ${err}`));
  });

  const charts = new DistillChartPanels(context.extensionUri, (line) => output.appendLine(line));
  // not at activation: the Model view analyses its model on this thread, so only once the view is shown
  const lastModel = context.workspaceState.get<string>(LAST_MODEL_KEY);
  const restoreLastModel = () => {
    if (lastModel && existsSync(lastModel) && !modelTree.model) void modelTree.show(lastModel);
  };
  if (modelView.visible) restoreLastModel();
  else {
    const once = modelView.onDidChangeVisibility((e) => {
      if (!e.visible) return;
      once.dispose();
      restoreLastModel();
    });
    context.subscriptions.push(once);
  }

  const services: ExtensionServices = { context, output, jobs, graphs, models, scores, modelTree, pipelines, charts };
  const score = scoreWorkflow(services);
  const prune = pruneWorkflow(services);
  const distill = distillWorkflow(services);
  const measure = measureWorkflow(services);
  graphs.actions = graphActions(models, score);

  context.subscriptions.push(
    output, pipelines, models, scores, jobs, graphs, modelTree, jobsView, modelView, jobsTreeView, charts,
    new JobProgressUi(jobs, output),
    graphs.register(),
    graphs.onDidActivate((panel) => void modelTree.show(panel.modelPath)),
    modelTree.onDidChangeTreeData(updateModelViewMessage),
    // the Model view shows the same model after a window reload (its scores come back from the score file)
    modelTree.onDidChangeModel((file) => void context.workspaceState.update(LAST_MODEL_KEY, file)),
    ...registerJobCommands(jobs, jobsView, jobsTreeView),
    vscode.workspace.registerTextDocumentContentProvider(NODE_SCHEME, new NodeDocumentProvider(models)),
    ...score.disposables,
    ...prune.disposables,
    ...distill.disposables,
    ...measure.disposables,
    command('ldSurgeon.openGraph', async (arg?: unknown) => {
      const file = await resolveModel(arg, 'LD Surgeon: Open Graph', pipelines.list());
      if (!file) return;
      void modelTree.show(file);
      await graphs.open(file);
    }),
    vscode.commands.registerCommand('ldSurgeon.modelTree.reveal', async (item?: ModuleItem) => {
      const target = item ?? modelView.selection[0];
      if (target) await graphs.reveal(target.modelPath, target.module.id);
    }),
    vscode.commands.registerCommand('ldSurgeon.modelTree.refresh', () => {
      const file = modelTree.model ?? activeGraphModel();
      if (file) void modelTree.show(file, true);
    }),
  );

  return {
    jobs, jobsView, modelTree, graphs, pipelines, scores, charts,
    workflows: { graphActions: graphs.actions, score: score.score, prune: prune.start, distill: distill.start, distillTasks: distill.tasks, measure: measure.start },
  };
}

export function deactivate(): void {
  // Jobs cannot outlive the window that watches them: record them as interrupted now, synchronously.
  jobsToInterrupt?.dispose();
  jobsToInterrupt = undefined;
}
