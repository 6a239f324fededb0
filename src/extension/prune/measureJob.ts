// Measure-quality jobs: the CLI's `measure --json` (dist/cli.js, spawned) samples a pruned pipeline and its
// original with the same seeds and writes quality.json; its progress lines drive the job, and the record it
// prints last comes back as `data`. Nothing here imports `vscode`.
import { existsSync } from 'node:fs';
import type { JobProtocol, JobRequest } from '../jobs/jobRunner';
import { jsonLinesProtocol } from '../jobs/jsonLines';
import type { QualityRecord } from '../../core/pipeline/measure-job';
import type { EpRequest } from '../../core/scoring/settings';
import type { QualityCard } from '../../protocol/webview';

export interface MeasureJobSpec {
  /** the pipeline folder to measure (a pruned one: its original comes from its prune record) */
  pipeline: string;
  /** the pipeline to measure against; default the prune record's original */
  against?: string;
  n?: number;
  seed?: number;
  steps?: number;
  /** the execution provider (the CLI's --ep: auto, cpu, cuda, …); default the ldSurgeon.executionProvider setting's */
  ep?: EpRequest;
}

/** What the graph's prune result card shows of a quality record. */
export function qualityCard(r: QualityRecord): QualityCard {
  const card: QualityCard = { n: r.settings.n, latentDistance: r.latentDistance.score, file: r.file };
  if (r.metric) {
    Object.assign(card, { metric: r.metric.name, original: r.metric.original.value, measured: r.metric.measured.value });
    if (r.metric.original.spread !== undefined) card.originalSpread = r.metric.original.spread;
    if (r.metric.measured.spread !== undefined) card.measuredSpread = r.metric.measured.spread;
    if (r.metric.indicative) card.indicative = r.metric.indicative;
  }
  if (r.accuracy) Object.assign(card, { accuracyOriginal: r.accuracy.original, accuracyMeasured: r.accuracy.measured });
  if (r.noMetric) card.noMetric = r.noMetric;
  return card;
}

function measureProtocol(): JobProtocol {
  return {
    interpret(message) {
      const m = message as { type?: unknown; record?: QualityRecord } | null;
      if (m && m.type === 'result') {
        // the provider that ran (the request may say auto), as a prune job reports it in the Jobs view
        const used = m.record?.executionProvider?.used;
        return [...(used ? [{ type: 'executionProvider' as const, name: used }] : []), { type: 'data', payload: m.record }];
      }
      return jsonLinesProtocol.interpret(message);
    },
  };
}

/** The job request that measures `spec.pipeline` with the CLI at `cliPath`. */
export function measureJobRequest(cliPath: string, spec: MeasureJobSpec, title: string): JobRequest {
  if (!existsSync(cliPath)) throw new Error(`the ld-surgeon CLI ${cliPath} is missing: build the extension (npm run build)`);
  if (!existsSync(spec.pipeline)) throw new Error(`${spec.pipeline} does not exist`);
  const args = [cliPath, 'measure', spec.pipeline, '--json'];
  if (spec.against) args.push('--against', spec.against);
  if (spec.n !== undefined) args.push('--n', String(spec.n));
  if (spec.seed !== undefined) args.push('--seed', String(spec.seed));
  if (spec.steps !== undefined) args.push('--steps', String(spec.steps));
  if (spec.ep) args.push('--ep', spec.ep);
  const options: Record<string, unknown> = { ...spec };
  delete options.pipeline;
  return {
    kind: 'measure',
    title,
    target: spec.pipeline,
    executionProvider: spec.ep,
    settings: { kind: 'measure', target: spec.pipeline, options },
    // the extension host's own Node (ELECTRON_RUN_AS_NODE makes VS Code's binary one); SIGINT stops it before quality.json is written
    process: () => ({ type: 'spawn', command: process.execPath, args, cancelSignal: 'SIGINT' }),
    protocol: measureProtocol(),
  };
}

