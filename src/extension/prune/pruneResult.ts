// The prune result card's message, from the prune's record (or, when the prune failed before writing one, the
// model's own parameter count). Kept apart from pruneWorkflow (which needs VS Code) so it is tested on its own.
import type { MeasuredCard, PredictedCard, ToWebview } from '../../protocol/webview';
import type { PredictedDrop } from '../../core/prune/predicted';
import type { PruneRecord } from '../../core/prune/types';
import type { QualityRecord } from '../../core/pipeline/quality-record';
import { qualityCard } from './measureJob';

function predictedCard(p: PredictedDrop): PredictedCard {
  return { latentScore: p.latentScore, ...(p.metric ? { metric: { name: p.metric.name, drop: p.metric.drop, n: p.metric.n, rho: p.metric.rho } } : {}), ...(p.note ? { note: p.note } : {}) };
}

function measuredCard(r: PruneRecord): MeasuredCard {
  const m = r.metric;
  return {
    ...(r.latents ? { latentScore: r.latents.identical ? 0 : r.latents.score } : {}),
    ...(m ? { metric: { name: m.before.metric, before: m.before.value, after: m.after.value, n: m.before.n, ...(m.before.indicative || m.after.indicative ? { indicative: true } : {}) } } : {}),
  };
}

export interface PruneOutcome {
  ok: boolean;
  record: PruneRecord | undefined;
  error: string | undefined;
  /** the model's parameter count, asked only when there is no record */
  modelParams: () => Promise<number>;
  /** the pruned pipeline's quality.json, if measured before */
  quality?: (pipeline: string) => QualityRecord | undefined;
}

export async function pruneResultMessage(o: PruneOutcome): Promise<ToWebview> {
  const { ok, record, error } = o;
  // without a record nothing was removed: before = after = the model's count, when it can be read — a failed
  // read is said, never shown as 0 parameters
  let params: { before: number; after: number } | { unknown: string };
  if (record) params = { before: record.before.params, after: record.after.params };
  else {
    params = await o.modelParams().then(
      (n) => ({ before: n, after: n }),
      (e: unknown) => ({ unknown: `parameter count not read: ${e instanceof Error ? e.message : String(e)}` }),
    );
  }
  const lat = record?.latency;
  const quality = ok && record?.output.pipeline ? o.quality?.(record.output.pipeline) : undefined;
  return {
    type: 'pruneResult',
    ok,
    checks: (record?.checks ?? []).map((c) => ({ name: c.name, status: c.status, detail: c.detail, indicative: c.indicative })),
    speedup: lat && lat.prunedMs > 0 ? lat.originalMs / lat.prunedMs : undefined,
    latencyBeforeMs: lat?.originalMs,
    latencyAfterMs: lat?.prunedMs,
    ...('unknown' in params ? { paramsUnknown: params.unknown } : { paramsBefore: params.before, paramsAfter: params.after }),
    removedIds: record?.removed.map((r) => r.id) ?? [],
    outputPath: ok ? record?.output.model : undefined,
    samples: ok && record?.samples ? { path: record.samples.file, count: record.samples.count } : undefined,
    outputPipeline: ok ? record?.output.pipeline : undefined,
    quality: quality ? qualityCard(quality) : undefined,
    ...(record?.predicted ? { predicted: predictedCard(record.predicted) } : {}),
    ...(record ? { measured: measuredCard(record) } : {}),
    error,
  };
}
