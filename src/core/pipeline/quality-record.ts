// quality.json, the record `ld-surgeon measure` writes into a measured pipeline folder: its shape, reading
// it back, and the text a terminal or a notification shows. Loads no model runtime (the extension host reads it).
import { join } from 'node:path';
import type { LatentDistance, QualityMetric, QualitySettings } from './quality';
import type { EpReport } from '../scoring/ep';
import { readJsonIfExists } from './tokenizers/files';

export const QUALITY_FILE = 'quality.json';
export const QUALITY_FORMAT = 'ld-surgeon.quality/1';

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
  /** the provider asked for, the one both pipelines ran on, and why each other one was not used (records before r6 lack it) */
  executionProvider?: EpReport;
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
    ...(r.executionProvider ? [`execution provider: ${r.executionProvider.used}${r.executionProvider.requested !== r.executionProvider.used ? ` (asked: ${r.executionProvider.requested})` : ''}`] : []),
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
