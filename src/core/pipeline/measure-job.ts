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
import type { ConditionInput } from './conditions';
import { writeFileAtomic } from './output-files';
import { compareQuality, type LatentDistance, type QualityMetric, type QualityResult, type QualitySettings } from './quality';
import { readJsonIfExists } from './tokenizers/files';
import type { Progress } from './runner';

export const QUALITY_FILE = 'quality.json';
export const QUALITY_FORMAT = 'ld-surgeon.quality/1';

export interface MeasureJobOptions {
  /** the pipeline folder (or its unet/model.onnx) to measure */
  pipeline: string;
  /** the pipeline to compare with; default the original its prune record names */
  against?: string;
  n?: number;
  seed?: number;
  steps?: number;
  conditions?: ConditionInput;
  executionProviders?: string[];
  batchSize?: number;
  signal?: AbortSignal;
  /** fraction of the whole job done (0–1) and a line saying what runs */
  onProgress?: (fraction: number, message: string) => void;
}

/** One side's numbers in quality.json. */
export interface QualitySide {
  pipeline: string;
  unet: string;
  metric?: QualityMetric;
  accuracy?: { value: number; n: number };
  noMetric?: string;
  seconds: number;
}

export interface QualityRecord {
  format: typeof QUALITY_FORMAT;
  createdBy: string;
  createdAt: string;
  machine: { host: string; platform: string; arch: string; cpu: string; cpus: number; node: string; executionProviders: string[] };
  /** the measured pipeline and the one it was measured against (same seeds, noise and conditions) */
  pipeline: QualitySide;
  original: QualitySide;
  settings: QualitySettings;
  /** both sides' metric and the difference (measured − original); absent when either pipeline has none */
  metric?: { name: string; original: QualityMetric; measured: QualityMetric; difference: number; indicative?: string };
  accuracy?: { original: number; measured: number; difference: number; n: number };
  /** why there is no metric (then only the latent distance was measured) */
  noMetric?: string;
  /** LD-Pruner's distance between the two final-latent sets (always) */
  latentDistance: LatentDistance;
  seconds: number;
  file: string;
}

function pipelineOf(arg: string, role: string): string {
  if (!existsSync(arg)) throw new UserError(`${resolve(arg)}: ${role} does not exist`, resolve(arg));
  const t = resolveTarget(arg);
  if (t.kind !== 'pipeline') throw new UserError(`${t.modelPath}: ${role} is a bare model, not a pipeline folder (model_index.json, unet/, vae_decoder/, ...); measure samples whole pipelines`, t.modelPath);
  return t.pipeline!;
}

/** The original a pruned pipeline came from, by its record unet/model.prune.json; a clear error when there is none. */
export function originalPipelineOf(pipeline: string): string {
  const recordFile = recordPathFor(join(pipeline, 'unet', 'model.onnx'));
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
  const eps = o.executionProviders ?? ['cpu'];
  const c = await compareQuality(original, pipeline, {
    n: o.n, seed: o.seed, steps: o.steps, conditions: o.conditions, batchSize: o.batchSize, executionProviders: eps, signal: o.signal,
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
    machine: { host: hostname(), platform: process.platform, arch: process.arch, cpu: cpuList[0]?.model?.trim() ?? 'unknown', cpus: cpuList.length, node: process.version, executionProviders: eps },
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

/** quality.json of a pipeline folder, when it holds one this version reads. */
export function readQualityRecord(pipeline: string): QualityRecord | undefined {
  try {
    const j = readJsonIfExists(join(pipeline, QUALITY_FILE)) as Partial<QualityRecord>;
    return j.format === QUALITY_FORMAT && j.latentDistance && j.settings ? (j as QualityRecord) : undefined;
  } catch {
    return undefined;
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()).join('\n');
}

const signed = (x: number, digits: number) => `${x > 0 ? '+' : x < 0 ? '−' : '±'}${Math.abs(x).toFixed(digits)}`;

/** The metric's one-line summary (the notification's text). */
export function qualitySummary(r: QualityRecord): string {
  const d = r.latentDistance.identical ? '0 (identical latents)' : r.latentDistance.score.toPrecision(4);
  if (!r.metric) return `latent distance ${d} (n=${r.settings.n}); no metric: ${r.noMetric}`;
  const m = r.metric;
  const v = (x: QualityMetric) => `${x.value.toFixed(3)}${x.spread !== undefined ? ` ±${x.spread.toFixed(3)}` : ''}`;
  const acc = r.accuracy ? `, class accuracy ${(100 * r.accuracy.original).toFixed(1)}% → ${(100 * r.accuracy.measured).toFixed(1)}%` : '';
  return `${m.name} ${v(m.original)} → ${v(m.measured)} (n=${r.settings.n}${m.indicative ? ', indicative only' : ''})${acc}; latent distance ${d}`;
}

/** The table `ld-surgeon measure` prints. */
export function renderQuality(r: QualityRecord): string {
  const s = r.settings;
  const lines = [
    `${r.pipeline.pipeline} measured against ${r.original.pipeline}`,
    `${s.n} samples, seed ${s.seed} (sample i: seed + i), ${s.steps} ${s.scheduler.toUpperCase()} steps; both pipelines got the same noise and conditions`,
    '',
  ];
  const rows: string[][] = [['', 'original', 'measured', 'difference']];
  if (r.metric) {
    const m = r.metric;
    const v = (x: QualityMetric) => `${x.value.toFixed(3)}${x.spread !== undefined ? ` ±${x.spread.toFixed(3)}` : ''}`;
    rows.push([`${m.name} (n=${s.n})`, v(m.original), v(m.measured), signed(m.difference, 3)]);
  }
  if (r.accuracy) rows.push([`class accuracy (${r.accuracy.n} labelled)`, `${(100 * r.accuracy.original).toFixed(1)}%`, `${(100 * r.accuracy.measured).toFixed(1)}%`, `${signed(100 * r.accuracy.difference, 1)} pts`]);
  const d = r.latentDistance;
  rows.push([`latent distance (${d.variant})`, '', '', d.identical ? '0 (identical)' : d.score.toPrecision(4)]);
  lines.push(table(rows));
  if (r.metric?.indicative) lines.push('', `indicative only: ${r.metric.indicative}`);
  if (r.noMetric) lines.push('', `no metric: ${r.noMetric}`);
  lines.push('', `wrote ${r.file} (${r.seconds.toFixed(1)} s)`);
  return lines.join('\n');
}
