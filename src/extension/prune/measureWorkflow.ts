// Measure Quality…: the CLI's `measure` runs as a job on a pruned pipeline (its original from the prune
// record, or one the user picks); the result is a notification with both numbers, and the prune result
// card in the original's graph view shows them (it reads quality.json again after a reload).
import * as vscode from 'vscode';
import { readSettings } from '../settings';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { qualitySummary, type QualityRecord } from '../../core/pipeline/quality-record';
import { recordPathFor } from '../../core/prune/output';
import { readPruneRecord } from '../../core/prune/record';
import { resolveTarget } from '../../core/scoring/target';
import type { ToWebview } from '../../protocol/webview';
import type { RunningJob } from '../jobs/jobRunner';
import { argPath } from '../model/targets';
import { denoiserModelPath } from '../../core/pipeline/layout';
import { command, rel } from '../commands';
import type { ExtensionServices } from '../services';
import { measureJobRequest, qualityCard, type MeasureJobSpec } from './measureJob';

export interface MeasureWorkflow {
  start(spec: MeasureJobSpec): Promise<RunningJob>;
  disposables: vscode.Disposable[];
}

const unetOf = (pipeline: string) => denoiserModelPath(pipeline);

/** The original a pruned pipeline came from, by its prune record; undefined for one that was not pruned. */
function originalOf(pipeline: string): string | undefined {
  const original = readPruneRecord(recordPathFor(unetOf(pipeline)))?.source.pipeline;
  return original && existsSync(original) ? original : undefined;
}

export function measureWorkflow(d: ExtensionServices): MeasureWorkflow {
  const cliPath = vscode.Uri.joinPath(d.context.extensionUri, 'dist', 'cli.js').fsPath;

  /** the prune result card lives in the original's graph view; the pruned model's own view may be open too */
  function tell(spec: MeasureJobSpec, message: ToWebview): void {
    const original = spec.against ?? originalOf(spec.pipeline);
    for (const p of new Set([original && unetOf(original), unetOf(spec.pipeline)])) if (p) d.graphs.broadcast(p, message);
  }

  async function start(spec: MeasureJobSpec): Promise<RunningJob> {
    const title = `Measure quality: ${rel(spec.pipeline)}`;
    // on the provider scoring and pruning use (the setting), unless the caller named one
    const job = await d.jobs.start(measureJobRequest(cliPath, { ...spec, ep: spec.ep ?? readSettings(vscode.Uri.file(spec.pipeline)).executionProvider }, title));
    tell(spec, { type: 'qualityState', pipeline: spec.pipeline, state: 'running' });
    let record: QualityRecord | undefined;
    job.onData((payload) => (record = payload as QualityRecord));
    void job.finished.then(async (s) => {
      if (s.state !== 'done' || !record) {
        const state = s.state === 'cancelled' ? 'cancelled' : 'failed';
        tell(spec, { type: 'qualityState', pipeline: spec.pipeline, state, message: s.error ?? (s.state === 'done' ? 'the measurement printed no record' : undefined) });
        return;
      }
      tell(spec, { type: 'qualityState', pipeline: spec.pipeline, state: 'done', quality: qualityCard(record) });
      const open = 'Open quality.json';
      const pick = await vscode.window.showInformationMessage(`${rel(spec.pipeline)}: ${qualitySummary(record)}`, open);
      if (pick === open) await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(record.file));
    });
    return job;
  }

  /** The pipeline to measure: the argument's (a folder or its unet/model.onnx), else picked, pruned ones first. */
  async function pickPipeline(arg: unknown): Promise<string | undefined> {
    const given = argPath(arg);
    if (given) {
      const t = resolveTarget(given);
      if (t.kind !== 'pipeline') throw new Error(`${given} is a bare model: Measure Quality samples whole pipelines (a folder with model_index.json)`);
      return t.pipeline;
    }
    const items = d.pipelines.list().map((p) => ({ label: rel(p), description: originalOf(p) ? `pruned from ${rel(originalOf(p)!)}` : undefined, path: p }));
    if (!items.length) throw new Error('no pipeline folders (with model_index.json) in the workspace');
    items.sort((a, b) => Number(!!b.description) - Number(!!a.description));
    return (await vscode.window.showQuickPick(items, { title: 'LD Surgeon: Measure Quality…', placeHolder: 'The pipeline to measure (pruned pipelines first: measured against their original)' }))?.path;
  }

  d.jobs.registerKind('measure', async ({ target, options }) => start({ ...(options as Omit<MeasureJobSpec, 'pipeline'>), pipeline: target }));

  return {
    start,
    disposables: [
      command('ldSurgeon.measureQuality', async (arg) => {
        const pipeline = await pickPipeline(arg);
        if (!pipeline) return;
        let against: string | undefined;
        if (!originalOf(pipeline)) {
          const others = d.pipelines.list().filter((p) => p !== pipeline).map((p) => ({ label: rel(p), path: p }));
          if (!others.length) throw new Error(`${rel(pipeline)} has no prune record naming its original, and there is no other pipeline to measure it against`);
          against = (await vscode.window.showQuickPick(others, { title: `Measure ${rel(pipeline)} against…`, placeHolder: 'It has no prune record: pick the pipeline to compare with (same seeds and conditions)' }))?.path;
          if (!against) return;
        }
        await start({ pipeline, against });
      }),
    ],
  };
}
