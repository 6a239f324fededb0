// `ld-surgeon measure` as a library call: a pipeline (usually a pruned one) and its original measured
// paired (compareQuality), the result as a record written to quality.json inside the measured pipeline
// folder, and the table a terminal shows. The original defaults to the one the prune record names.
import { existsSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../errors';
import { recordPathFor } from '../prune/output';
import { readPruneRecord } from '../prune/record';
import { resolveTarget } from '../scoring/target';
import type { EpRequest } from '../scoring/settings';
import type { ConditionInput } from './conditions';
import { writeFileAtomic } from './output-files';
import { compareQuality, type QualityResult } from './quality';
import { QUALITY_FILE, QUALITY_FORMAT, type QualityRecord, type QualitySide } from './quality-record';
import type { Progress } from './runner';
import { denoiserModelPath } from './layout';

export { QUALITY_FILE, QUALITY_FORMAT, readQualityRecord, renderQuality, qualitySummary } from './quality-record';
export type { QualityRecord, QualitySide } from './quality-record';

export interface MeasureJobOptions {
  /** the pipeline folder (or its unet/model.onnx) to measure */
  pipeline: string;
  /** the pipeline to compare with; default the original its prune record names */
  against?: string;
  n?: number;
  seed?: number;
  steps?: number;
  conditions?: ConditionInput;
  /** the execution provider ('auto': the first that loads the original's U-Net); default 'auto' */
  ep?: EpRequest;
  batchSize?: number;
  signal?: AbortSignal;
  /** fraction of the whole job done (0–1) and a line saying what runs */
  onProgress?: (fraction: number, message: string) => void;
}

function pipelineOf(arg: string, role: string): string {
  if (!existsSync(arg)) throw new UserError(`${resolve(arg)}: ${role} does not exist`, resolve(arg));
  const t = resolveTarget(arg);
  if (t.kind !== 'pipeline') throw new UserError(`${t.modelPath}: ${role} is a bare model, not a pipeline folder (model_index.json, unet/, vae_decoder/, ...); measure samples whole pipelines`, t.modelPath);
  return t.pipeline!;
}

/** The original a pruned pipeline came from, by its record unet/model.prune.json; a clear error when there is none. */
export function originalPipelineOf(pipeline: string): string {
  const recordFile = recordPathFor(denoiserModelPath(pipeline));
  const record = readPruneRecord(recordFile);
  if (!record) throw new UserError(`${pipeline}: has no prune record (${recordFile}), so its original is unknown; give --against ORIGINAL`, pipeline);
  const original = record.source.pipeline;
  if (!original) throw new UserError(`${recordFile}: the prune record names a bare model (${record.source.model}), not a pipeline; give --against ORIGINAL`, recordFile);
  if (!existsSync(original)) throw new UserError(`${recordFile}: the original pipeline ${original} is gone; give --against ORIGINAL`, recordFile);
  return original;
}

function side(r: QualityResult): QualitySide {
  const s: QualitySide = { pipeline: r.pipeline, unet: r.unet, seconds: r.seconds };
  if (r.metric) s.metric = r.metric;
  if (r.accuracy) s.accuracy = r.accuracy;
  if (r.noMetric) s.noMetric = r.noMetric;
  return s;
}

/** Phase weights: sampling dominates; decoding and the metric are a small tail of each side. */
function sideFraction(p: Progress): number {
  if (p.phase === 'denoise') return (0.9 * ((p.batch - 1) * p.steps + p.step)) / Math.max(1, p.batches * p.steps);
  return 0.9 + (0.1 * p.batch) / Math.max(1, p.batches);
}

export async function runMeasureJob(o: MeasureJobOptions): Promise<QualityRecord> {
  const t0 = Date.now();
  const pipeline = pipelineOf(o.pipeline, 'the pipeline to measure');
  const original = o.against !== undefined ? pipelineOf(o.against, '--against') : originalPipelineOf(pipeline);
  const c = await compareQuality(original, pipeline, {
    n: o.n, seed: o.seed, steps: o.steps, conditions: o.conditions, batchSize: o.batchSize, ep: o.ep ?? 'auto', signal: o.signal,
    onProgress: o.onProgress && ((which, p) => {
      const f = (which === 'original' ? 0 : 0.5) + 0.5 * sideFraction(p);
      const what = p.phase === 'denoise' ? `batch ${p.batch}/${p.batches}, step ${p.step}/${p.steps}` : `decoding ${p.batch}/${p.batches}`;
      o.onProgress!(f, `${which === 'original' ? 'original' : 'measured'} pipeline: ${what}`);
    }),
  });
  const file = join(pipeline, QUALITY_FILE);
  const cpuList = cpus();
  const record: QualityRecord = {
    format: QUALITY_FORMAT,
    createdBy: 'ld-surgeon measure',
    createdAt: new Date().toISOString(),
    machine: { host: hostname(), platform: process.platform, arch: process.arch, cpu: cpuList[0]?.model?.trim() ?? 'unknown', cpus: cpuList.length, node: process.version, executionProviders: [c.executionProvider!.used] },
    executionProvider: c.executionProvider,
    pipeline: side(c.candidate),
    original: side(c.original),
    settings: c.original.settings,
    latentDistance: c.latentDistance,
    seconds: 0,
    file,
  };
  const [a, b] = [c.original.metric, c.candidate.metric];
  if (a && b) {
    record.metric = { name: a.name, original: a, measured: b, difference: b.value - a.value };
    const indicative = b.indicative ?? a.indicative;
    if (indicative) record.metric.indicative = indicative;
  } else {
    record.noMetric = c.candidate.noMetric ?? c.original.noMetric;
  }
  const [ra, rb] = [c.original.accuracy, c.candidate.accuracy];
  if (a && b && ra && rb) record.accuracy = { original: ra.value, measured: rb.value, difference: rb.value - ra.value, n: rb.n };
  record.seconds = (Date.now() - t0) / 1000;
  writeFileAtomic(file, JSON.stringify(record, null, 1) + '\n');
  return record;
}

