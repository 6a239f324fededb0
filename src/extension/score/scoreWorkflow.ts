// Score Operators: starts the scoring worker on a pipeline or model, streams its results into the score
// store (Model view, graph editors) and its state into the graph editors.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { ScoringPhase, ToWebview } from '../../protocol/webview';
import type { WorkerToHost } from '../../protocol/worker';
import { resolveTarget } from '../../core/scoring/target';
import type { RunningJob } from '../jobs/jobRunner';
import { scoreJobRequest, workerSettings, type ScoreJobSpec } from './scoreJob';
import { readSettings } from '../settings';
import { resolveScoreTarget } from '../model/targets';
import { command, errorText, rel } from '../commands';
import { chooseConditionsCommand, conditionsFor } from '../conditions';
import { describeConditions } from '../../core/pipeline/conditions';
import { describeEstimate } from '../../core/scoring/estimate';
import type { Granularity } from '../../core/surgery/types';
import { confirmEstimate, estimateScore } from './scoreEstimate';
import type { ExtensionServices } from '../services';

export interface ScoreWorkflow {
  /** scores `target` (a pipeline folder or .onnx) with the settings that apply to it (ldSurgeon.conditions as set, without asking) */
  score(target: string): Promise<RunningJob>;
  start(spec: ScoreJobSpec): Promise<RunningJob>;
  /** the scoring job of this window working on `modelPath`, if any */
  runningFor(modelPath: string): RunningJob | undefined;
  disposables: vscode.Disposable[];
}

export function scoreWorkflow(d: ExtensionServices): ScoreWorkflow {
  const worker = { modulePath: vscode.Uri.joinPath(d.context.extensionUri, 'dist', 'worker.js').fsPath, execArgv: [] };
  const cliPath = vscode.Uri.joinPath(d.context.extensionUri, 'dist', 'cli.js').fsPath;
  /** by scored model file: a pipeline folder and its unet/model.onnx are the same job */
  const running = new Map<string, RunningJob>();

  function follow(job: RunningJob, modelPath: string, conditions: string | undefined): void {
    // the graph view's scoring status says which conditions the latents come from
    const withConditions = (m: string | undefined) => (conditions ? [m, `conditions: ${conditions}`].filter(Boolean).join(' · ') : m);
    const state = (s: ScoringPhase, extra: Partial<Extract<ToWebview, { type: 'scoringState' }>> = {}) =>
      d.graphs.broadcast(modelPath, { type: 'scoringState', state: s, ...extra, message: withConditions(extra.message) });
    running.set(modelPath, job);
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
      running.delete(modelPath);
      d.scores.setStreaming(modelPath, false);
      d.scores.load(modelPath);
      // a finished run says how many it scored ("32 scored · conditions: …"), from the file as it now stands
      const scored = s.state === 'done' ? d.scores.all(modelPath).filter((c) => c.score !== null).length : undefined;
      state(s.state === 'running' ? 'failed' : s.state, { message: s.error, done: scored, total: scored });
    });
  }

  async function start(spec: ScoreJobSpec): Promise<RunningJob> {
    const { modelPath } = resolveTarget(spec.target);
    const busy = running.get(modelPath);
    if (busy) throw new Error(`${rel(modelPath)} is already being scored (${path.basename(busy.dir)}): cancel that job first, or wait for it.`);
    const c = spec.settings.conditions;
    const conditions = spec.conditionsLine ?? (c && c.kind !== 'default' ? describeConditions(c) : undefined);
    const job = await d.jobs.start(scoreJobRequest(worker, spec, `Score operators: ${rel(spec.target)}${conditions ? ` (conditions: ${conditions})` : ''}`));
    follow(job, modelPath, conditions);
    void d.modelTree.show(modelPath);
    // watch the blocks colour in as results arrive; keep the focus where the user is
    void d.graphs.open(modelPath, { preserveFocus: true }).catch((e) => d.output.appendLine(`graph: ${errorText(e)}`));
    return job;
  }

  /**
   * `ask`: offer the conditions pick when the setting is unset, and confirm a long run (the command);
   * undefined when the user backs out
   */
  async function scoreWith(target: string, ask: boolean): Promise<RunningJob | undefined> {
    const conditions = await conditionsFor(target, ask);
    if (!conditions) return undefined;
    let settings = readSettings(vscode.Uri.file(target));
    // the evaluation count and the time, before starting; the job reports its own errors, so a failed estimate only goes to the log
    let granularity: Granularity | undefined;
    try {
      const e = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'LD Surgeon: estimating the scoring run…' }, () => estimateScore(cliPath, target, settings));
      d.output.appendLine(`score ${rel(target)}: ${e.preset} preset, ${describeEstimate(e)}`);
      granularity = e.settings.granularity;
      const go = ask ? await confirmEstimate(rel(target), e) : 'as-is';
      if (!go) return undefined;
      if (go === 'quick') {
        settings = { ...settings, scorePreset: 'quick' };
        granularity = undefined;
      }
    } catch (err) {
      d.output.appendLine(`score ${rel(target)}: no estimate (${errorText(err)})`);
    }
    return start({ target, settings: { ...workerSettings(settings, granularity), conditions: conditions.input }, conditionsLine: conditions.line });
  }
  const score = async (target: string) => (await scoreWith(target, false))!;

  d.jobs.registerKind('score', ({ target, options }) => start({ target, settings: (options.settings ?? {}) as ScoreJobSpec['settings'] }));

  return {
    score,
    start,
    runningFor: (modelPath) => running.get(modelPath),
    disposables: [
      command('ldSurgeon.scoreOperators', async (arg) => {
        const target = await resolveScoreTarget(arg, 'LD Surgeon: Score Operators', d.pipelines);
        if (target) await scoreWith(target, true);
      }),
      command('ldSurgeon.chooseConditions', async (arg) => {
        await chooseConditionsCommand(arg instanceof vscode.Uri ? arg.fsPath : typeof arg === 'string' ? arg : undefined);
      }),
    ],
  };
}
