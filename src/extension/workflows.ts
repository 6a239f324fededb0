// The user-facing workflows: Score Operators, Prune Model…, Launch Distillation…, and the graph
// editor's requests. Each resolves its target, reads the settings, and starts a job; results flow back
// into the score store (model tree and graph editors) and the explorer.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import type { GraphActions, GraphEditorProvider } from './graphEditor';
import type { JobManager } from './jobs/jobManager';
import type { ModelService } from './modelService';
import type { ModelTreeProvider } from './modelTree';
import type { PipelineFolders } from './pipelineFolders';
import type { ScoreStore } from './scoreStore';
import type { ScoringPhase, ToWebview } from '../protocol/webview';
import type { WorkerToHost } from '../protocol/worker';
import { resolveTarget as resolveScoreTargetFile } from '../core/scoring/target';
import type { RunningJob } from './jobs/jobRunner';
import { NODE_SCHEME, NodeDocumentProvider, openNode } from './nodeDocument';
import { findTensor, tensorStats } from './tensorStats';
import { readSettings } from './settings';
import { scoreJobRequest, workerSettings, type ScoreJobSpec } from './scoring';
import { pruneJobRequest, type PruneJobSpec } from './pruning';
import { checkPython, distillJobRequest, pythonCommand, type DistillJobSpec } from './distilling';
import { resolveModel, resolveScoreTarget, argPath } from './targets';
import { openResult } from './jobs/jobCommands';
import { readPruneRecord } from '../core/prune/record';
import { recordPathFor } from '../core/prune/output';
import type { PruneRecord } from '../core/prune/types';
import type { EpRequest } from '../core/scoring/settings';
import { humanCount } from '../core/graph';

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
  /** starts scoring `target` (a pipeline folder or .onnx) with the current settings */
  score(target: string): Promise<RunningJob>;
  /** prunes `ids` out of `input`; resolves once the job has started */
  prune(spec: PruneJobSpec): Promise<{ job: RunningJob; outputModel: string }>;
  distill(spec: DistillJobSpec): Promise<{ job: RunningJob; output: string }>;
}

/** Messages for a user, from anything thrown. */
function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Runs a command body; a failure becomes an error notification instead of a silent rejection. */
function command(id: string, fn: (...args: unknown[]) => Promise<unknown>): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      await fn(...args);
    } catch (e) {
      void vscode.window.showErrorMessage(errorText(e));
    }
  });
}

export function registerWorkflows(d: WorkflowDeps): { disposables: vscode.Disposable[]; api: WorkflowsApi } {
  const workerPath = vscode.Uri.joinPath(d.context.extensionUri, 'dist', 'worker.js').fsPath;
  const rel = (p: string) => vscode.workspace.asRelativePath(p, false);

  /** Streams a scoring job's results into the score store and its state into the graph editors. */
  function followScoreJob(job: RunningJob, modelPath: string): void {
    const state = (s: ScoringPhase, extra: Partial<Extract<ToWebview, { type: 'scoringState' }>> = {}) =>
      d.graphs.broadcast(modelPath, { type: 'scoringState', state: s, ...extra });
    d.scores.setStreaming(modelPath, true);
    state('running', { message: 'starting' });
    const off = job.onData((payload) => {
      const m = payload as WorkerToHost;
      if (m.type === 'started') {
        // a resumed run keeps earlier results: start from what the score file already holds
        d.scores.load(modelPath);
        state('running', { done: 0, total: m.toScore, message: job.status.progressMessage });
      } else if (m.type === 'result') {
        d.scores.merge(modelPath, [m.candidate]);
      } else if (m.type === 'progress') {
        state('running', { done: m.done, total: m.total, message: job.status.progressMessage });
      }
    });
    void job.finished.then((s) => {
      off();
      d.scores.setStreaming(modelPath, false);
      d.scores.load(modelPath);
      state(s.state === 'running' ? 'failed' : s.state, { message: s.error });
    });
  }

  async function startScore(spec: ScoreJobSpec): Promise<RunningJob> {
    const t = resolveScoreTargetFile(spec.target);
    const running = d.jobs.runningJobs().find((j) => j.status.kind === 'score' && j.status.target === spec.target);
    if (running) throw new Error(`${rel(spec.target)} is already being scored (${path.basename(running.dir)}); cancel it first or wait.`);
    const title = `Score operators: ${rel(spec.target)}`;
    const job = await d.jobs.start(scoreJobRequest(workerPath, spec, title));
    followScoreJob(job, t.modelPath);
    void d.modelTree.show(t.modelPath);
    // watch the blocks colour in as results arrive; keep focus where the user is
    void d.graphs.open(t.modelPath, { preserveFocus: true }).catch((e) => d.output.appendLine(`graph: ${errorText(e)}`));
    return job;
  }

  d.jobs.registerKind('score', async ({ target, options }) => startScore({ target, settings: (options.settings ?? {}) as ScoreJobSpec['settings'] }));

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

  const score = async (target: string) => startScore({ target, settings: workerSettings(readSettings(vscode.Uri.file(target))) });

  // ---- prune ------------------------------------------------------------------------------------

  const cliPath = vscode.Uri.joinPath(d.context.extensionUri, 'dist', 'cli.js').fsPath;

  function pruneResultMessage(modelPath: string, ok: boolean, record: PruneRecord | undefined, error: string | undefined): ToWebview {
    const params = d.modelTree.current()?.modelPath === modelPath ? d.modelTree.current()!.analysis.total.get(d.modelTree.current()!.analysis.tree.root)!.params : 0;
    const lat = record?.latency;
    return {
      type: 'pruneResult',
      ok,
      checks: (record?.checks ?? []).map((c) => ({ name: c.name, ok: c.ok || !!c.skipped, detail: c.detail })),
      speedup: lat && lat.prunedMs > 0 ? lat.originalMs / lat.prunedMs : undefined,
      latencyBeforeMs: lat?.originalMs,
      latencyAfterMs: lat?.prunedMs,
      paramsBefore: record?.before.params ?? params,
      paramsAfter: record?.after.params ?? params,
      removedIds: record?.removed.map((r) => r.id) ?? [],
      outputPath: ok ? record?.output.model : undefined,
      error,
    };
  }

  async function startPrune(spec: PruneJobSpec): Promise<{ job: RunningJob; outputModel: string }> {
    const modelPath = resolveScoreTargetFile(spec.input).modelPath;
    const title = `Prune ${spec.ids.length} operator${spec.ids.length === 1 ? '' : 's'}: ${rel(spec.input)}`;
    const { request, output } = pruneJobRequest(cliPath, spec, title);
    const job = await d.jobs.start(request);
    d.graphs.broadcast(modelPath, { type: 'pruneState', state: 'running', message: `removing ${spec.ids.join(', ')}` });
    let record: PruneRecord | undefined;
    job.onData((payload) => (record = payload as PruneRecord));
    void job.finished.then(async (s) => {
      if (s.state === 'cancelled') {
        d.graphs.broadcast(modelPath, { type: 'pruneState', state: 'cancelled' });
        return;
      }
      d.graphs.broadcast(modelPath, pruneResultMessage(modelPath, s.state === 'done', record, s.error));
      if (s.state === 'done' && existsSync(output.model)) {
        // the new model is in the workspace: show it where the user looks for files, and open it
        await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(output.model)).then(undefined, () => undefined);
        await openResult(output.model);
      }
    });
    return { job, outputModel: output.model };
  }

  /** Lets the user tick candidates, lowest score first; the graph's current selection is pre-ticked. */
  async function pickCandidates(modelPath: string): Promise<string[] | undefined> {
    const all = d.scores.all(modelPath);
    const prunable = all.filter((c) => c.modification !== 'none' && c.score !== null).sort((a, b) => a.score! - b.score!);
    if (!prunable.length) {
      const act = await vscode.window.showWarningMessage(
        `${rel(modelPath)} has no operator scores yet: score it first, then pick the least important operators to prune.`,
        'Score Operators',
      );
      if (act) await vscode.commands.executeCommand('ldSurgeon.scoreOperators', vscode.Uri.file(modelPath));
      return undefined;
    }
    const selected = new Set(d.graphs.panelsFor(modelPath)[0]?.selection ?? []);
    const items = prunable.map((c, i) => ({
      label: c.id,
      description: `score ${c.score!.toPrecision(3)} · ${humanCount(c.params)} params · ${humanCount(c.flops)} FLOPs${c.latencyShare !== undefined ? ` · ${(c.latencyShare * 100).toFixed(1)}% latency` : ''}`,
      detail: `#${i + 1} least important · ${c.modification}${c.reason ? ` — ${c.reason}` : ''}`,
      picked: selected.has(c.id),
    }));
    const picked = await vscode.window.showQuickPick(items, {
      canPickMany: true,
      title: `Prune ${rel(modelPath)}`,
      placeHolder: 'Tick the operators to remove (lowest score = least important first)',
      matchOnDescription: true,
    });
    return picked?.map((p) => p.label);
  }

  d.jobs.registerKind('prune', async ({ target, options }) =>
    (await startPrune({ input: target, ids: (options.ids as string[]) ?? [], ep: (options.ep as EpRequest) ?? 'auto' })).job);

  // ---- distill ----------------------------------------------------------------------------------

  const pythonRoot = vscode.Uri.joinPath(d.context.extensionUri, 'python').fsPath;

  async function startDistill(spec: DistillJobSpec): Promise<{ job: RunningJob; output: string }> {
    const check = await checkPython(spec.python, pythonRoot);
    if (!check.ok) {
      const fixes = (check.missing ?? []).map((m) => `${m.package}: ${m.fix}`).join('; ');
      throw new Error(`${check.python ?? spec.python} lacks what the trainer needs (${fixes}). Install it, or set "ldSurgeon.pythonPath" to a Python that has it.`);
    }
    const { request, output } = distillJobRequest(pythonRoot, spec, `Distill: ${rel(spec.student)}`);
    const job = await d.jobs.start(request);
    const modelOf = (p: string) => (p.toLowerCase().endsWith('.onnx') ? p : path.join(p, 'unet', 'model.onnx'));
    for (const m of [modelOf(spec.student), spec.teacher]) d.graphs.broadcast(m, { type: 'distillState', state: 'running', message: 'starting' });
    job.onDidChange((st) => {
      if (st.state === 'running') for (const m of [modelOf(spec.student), spec.teacher]) d.graphs.broadcast(m, { type: 'distillState', state: 'running', message: st.progressMessage });
    });
    void job.finished.then((st) => {
      const state = st.state === 'done' ? 'done' : 'failed';
      const message = st.state === 'cancelled' ? 'cancelled' : st.error;
      for (const m of [modelOf(spec.student), spec.teacher]) d.graphs.broadcast(m, { type: 'distillState', state, message, outputPath: st.state === 'done' ? output : undefined });
    });
    return { job, output };
  }

  /** The original model a pruned one came from, by its prune record; else the user's pick. */
  async function teacherOf(student: string): Promise<string | undefined> {
    const model = student.toLowerCase().endsWith('.onnx') ? student : path.join(student, 'unet', 'model.onnx');
    const record = readPruneRecord(recordPathFor(model));
    if (record && existsSync(record.source.model)) return record.source.model;
    return resolveModel(undefined, `Distill ${rel(student)}: pick the original (teacher) model`, d.pipelines.list());
  }

  d.jobs.registerKind('distill', async ({ target, options }) => {
    const s = readSettings(vscode.Uri.file(target));
    return (await startDistill({
      student: target, teacher: String(options.teacher), steps: Number(options.steps) || 1000,
      device: (options.device as DistillJobSpec['device']) ?? 'auto', python: pythonCommand(s.pythonPath),
      trainerArgs: Array.isArray(options.trainerArgs) ? options.trainerArgs.map(String) : undefined,
    })).job;
  });

  const disposables: vscode.Disposable[] = [
    vscode.workspace.registerTextDocumentContentProvider(NODE_SCHEME, new NodeDocumentProvider(d.models)),
    command('ldSurgeon.scoreOperators', async (arg) => {
      const target = await resolveScoreTarget(arg, 'LD Surgeon: Score Operators', d.pipelines);
      if (target) await score(target);
    }),
    // (uri) from the explorer or palette; (uri, ids) from the graph's Apply
    command('ldSurgeon.prune', async (arg, idsArg) => {
      const model = await resolveModel(arg, 'LD Surgeon: Prune Model…', d.pipelines.list());
      if (!model) return;
      const modelPath = resolveScoreTargetFile(model).modelPath;
      const ids = Array.isArray(idsArg) && idsArg.every((x) => typeof x === 'string') ? (idsArg as string[]) : await pickCandidates(modelPath);
      if (!ids?.length) return;
      await startPrune({ input: model, ids, ep: readSettings(vscode.Uri.file(model)).executionProvider });
    }),
    command('ldSurgeon.distill', async (arg) => {
      const given = argPath(arg);
      const student = given ?? (await resolveModel(undefined, 'LD Surgeon: Launch Distillation… — pick the pruned (student) model', d.pipelines.list()));
      if (!student) return;
      const teacher = await teacherOf(student);
      if (!teacher) return;
      const stepsText = await vscode.window.showInputBox({
        title: `Distill ${rel(student)} from ${rel(teacher)}`,
        prompt: 'Optimizer steps (BK-SDM-style distillation: task + output + feature losses)',
        value: '1000',
        validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 ? undefined : 'a whole number of steps, at least 1'),
      });
      if (!stepsText) return;
      const s = readSettings(vscode.Uri.file(student));
      const device = s.executionProvider === 'cuda' ? 'cuda' : s.executionProvider === 'cpu' ? 'cpu' : 'auto';
      await startDistill({ student, teacher, steps: Number(stepsText), device, python: pythonCommand(s.pythonPath) });
    }),
  ];
  return { disposables, api: { graphActions, score, prune: startPrune, distill: startDistill } };
}
