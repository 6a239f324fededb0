// Prune Model…: the user ticks candidates (lowest score first) or the graph's Apply sends them; the CLI's
// prune runs as a job; its record goes back to the graph, and the pruned model opens.
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import type { PruneRecord } from '../../core/prune/types';
import type { EpRequest } from '../../core/scoring/settings';
import { resolveTarget } from '../../core/scoring/target';
import { humanCount } from '../../core/graph';
import type { RunningJob } from '../jobs/jobRunner';
import { pruneJobRequest, type PruneJobSpec } from './pruneJob';
import { pruneResultMessage } from './pruneResult';
import { readQualityRecord } from '../../core/pipeline/quality-record';
import { openInEditor } from '../graph/graphTabs';
import { readSettings } from '../settings';
import { resolveModel } from '../model/targets';
import { command, rel } from '../commands';
import type { ExtensionServices } from '../services';

export interface PruneWorkflow {
  /** prunes `spec.ids` out of `spec.input`; resolves once the job has started */
  start(spec: PruneJobSpec): Promise<{ job: RunningJob; outputModel: string }>;
  disposables: vscode.Disposable[];
}

export function pruneWorkflow(d: ExtensionServices): PruneWorkflow {
  const cliPath = vscode.Uri.joinPath(d.context.extensionUri, 'dist', 'cli.js').fsPath;

  async function start(spec: PruneJobSpec): Promise<{ job: RunningJob; outputModel: string }> {
    const { modelPath } = resolveTarget(spec.input);
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
      d.graphs.broadcast(modelPath, await pruneResultMessage({ ok: s.state === 'done', record, error: s.error, modelParams: () => d.models.modules(modelPath).then((t) => t.root.stats.params), quality: readQualityRecord }));
      if (s.state === 'done' && existsSync(output.model)) {
        // the new model is in the workspace: show it where users look for files, and open it
        await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(output.model)).then(undefined, () => undefined);
        await openInEditor(output.model);
        // the original's and the pruned pipeline's samples from the same seeds, one row each, beside the graph —
        // once the graph has started: a second editor group opened while its webview loads left it blank in real
        // VS Code (the panel's own watchdog reloads it; this avoids the race)
        await settledWithin(d.graphs.panelsFor(output.model)[0]?.ready, 30_000);
        if (record?.samples && existsSync(record.samples.file)) {
          await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(record.samples.file), { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true }).then(undefined, () => undefined);
        }
      }
    });
    return { job, outputModel: output.model };
  }

  /** Lets the user tick candidates, lowest score first; the graph's current selection comes pre-ticked. */
  async function pickCandidates(modelPath: string): Promise<string[] | undefined> {
    const prunable = d.scores.all(modelPath).filter((c) => c.modification !== 'none' && c.score !== null).sort((a, b) => a.score! - b.score!);
    if (!prunable.length) {
      const act = await vscode.window.showWarningMessage(
        `${rel(modelPath)} has no operator scores yet: score it first, then pick the least important operators to prune.`,
        'Score Operators',
      );
      if (act) await vscode.commands.executeCommand('ldSurgeon.scoreOperators', vscode.Uri.file(modelPath));
      return undefined;
    }
    const selected = new Set(d.graphs.panelsFor(modelPath)[0]?.selection ?? []);
    const picked = await vscode.window.showQuickPick(
      prunable.map((c, i) => ({
        label: c.id,
        description: `score ${c.score!.toPrecision(3)} · ${humanCount(c.params)} params · ${humanCount(c.flops)} FLOPs${c.latencyShare !== undefined ? ` · ${(c.latencyShare * 100).toFixed(1)}% latency` : ''}`,
        detail: `#${i + 1} least important · ${c.modification}${c.reason ? ` — ${c.reason}` : ''}`,
        picked: selected.has(c.id),
      })),
      { canPickMany: true, title: `Prune ${rel(modelPath)}`, placeHolder: 'Tick the operators to remove (lowest score = least important first)', matchOnDescription: true },
    );
    return picked?.map((p) => p.label);
  }

  d.jobs.registerKind('prune', async ({ target, options }) =>
    (await start({ input: target, ids: Array.isArray(options.ids) ? options.ids.map(String) : [], ep: (options.ep as EpRequest) ?? 'auto' })).job);

  return {
    start,
    disposables: [
      // (uri) from the explorer or the palette; (uri, ids) from the graph's Apply
      command('ldSurgeon.prune', async (arg, idsArg) => {
        const model = await resolveModel(arg, 'LD Surgeon: Prune Model…', d.pipelines.list(), { denoiserFor: 'pruning' });
        if (!model) return;
        const ids = Array.isArray(idsArg) && idsArg.every((x) => typeof x === 'string') ? (idsArg as string[]) : await pickCandidates(resolveTarget(model).modelPath);
        if (!ids?.length) return;
        await start({ input: model, ids, ep: readSettings(vscode.Uri.file(model)).executionProvider });
      }),
    ],
  };
}

/** Waits for `p` (a graph's ready) to settle, for at most `ms`; its outcome is not this caller's concern. */
async function settledWithin(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
