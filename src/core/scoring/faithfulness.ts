// Does the latent score predict quality on this model? For several k, switch off (via gates) the k
// lowest-scored candidates, k random ones (seeded, a few repeats) and the k highest-scored, generate,
// decode and measure the pipeline's own quality metric (FID / FAD, class accuracy). LD-Pruner is
// faithful here when pruning its k lowest hurts less than random and much less than the k highest.
import { CancelledError, UserError } from '../errors';
import { GaussianStream } from '../pipeline/noise';
import type { MetricResult } from '../pipeline/metrics';
import { writeFileAtomic } from '../pipeline/output-files';
import type { Candidate } from '../surgery';
import { overlaps, prepare } from './prepare';
import { ranked, readScoreFile, type ScoreFile } from './score-file';
import { resolveSettings, type ScoreSettings } from './settings';
import { openSource } from './sources';
import { defaultScoreFile, modelIdentity, resolveTarget, sameIdentity } from './target';

export const FAITHFULNESS_SCHEMA = 'ld-surgeon/faithfulness@1';

export interface FaithfulnessOptions {
  pipeline: string;
  ks: number[];
  /** score file (default: the pipeline's unet/model.ldscores.json) */
  scoresFile?: string;
  /** random selections per k */
  randomRepeats?: number;
  /** sampling settings (samples, steps, seed, ep, guidance, conditions…); default 100 samples (the metric's features are 64-d) */
  settings?: Partial<ScoreSettings>;
  /** where to write the JSON report (atomically); optional */
  out?: string;
  workDir?: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface Measured {
  ids: string[];
  /** Fréchet distance to the real data (lower is better) */
  value: number;
  classAccuracy?: number;
}

export interface FaithfulnessRow {
  k: number;
  lowest: Measured;
  highest: Measured;
  random: Measured[];
  randomMean: number;
  randomStd: number;
  randomAccuracyMean?: number;
  /** lowest-k hurts less than the mean of the random selections (by the Fréchet metric) */
  lowestBeatsRandom: boolean;
  lowestBeatsHighest: boolean;
}

export interface FaithfulnessReport {
  schema: typeof FAITHFULNESS_SCHEMA;
  pipeline: string;
  scoresFile: string;
  metric: string;
  variant: string;
  samples: number;
  steps: number;
  seed: number;
  executionProvider: string;
  baseline: Measured;
  rows: FaithfulnessRow[];
  /** the share of k at which lowest-k beats random */
  agreement: number;
  seconds: number;
}

/** Greedy: the first k of `order` that do not overlap an earlier pick. */
export function pickNonOverlapping(order: readonly Candidate[], k: number): Candidate[] {
  const out: Candidate[] = [];
  for (const c of order) {
    if (out.length >= k) break;
    if (!out.some((p) => overlaps(p, c))) out.push(c);
  }
  return out;
}

/** A seeded Fisher–Yates shuffle (the same seed, the same order). */
export function shuffled<T>(list: readonly T[], seed: number): T[] {
  const g = new GaussianStream(seed);
  const a = [...list];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(g.uniform() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export async function runFaithfulness(o: FaithfulnessOptions): Promise<FaithfulnessReport> {
  const t0 = Date.now();
  const target = resolveTarget(o.pipeline);
  if (target.kind !== 'pipeline') throw new UserError(`${o.pipeline}: faithfulness needs a pipeline folder (the quality metric runs on decoded samples)`, o.pipeline);
  const scoresPath = o.scoresFile ?? defaultScoreFile(target.modelPath);
  let scores: ScoreFile;
  try {
    scores = readScoreFile(scoresPath);
  } catch (e) {
    if (!o.scoresFile && e instanceof UserError && /not a readable/.test(e.message)) throw new UserError(`${scoresPath}: no score file; run \`ld-surgeon score ${o.pipeline}\` first or pass --scores`, scoresPath);
    throw e;
  }
  const ks = [...new Set(o.ks)].sort((a, b) => a - b);
  if (!ks.length || ks.some((k) => !Number.isInteger(k) || k < 1)) throw new UserError(`--k: expected positive integers, got ${o.ks.join(',')}`);
  const repeats = o.randomRepeats ?? 3;
  if (!Number.isInteger(repeats) || repeats < 1) throw new UserError(`random repeats must be a positive integer, got ${repeats}`);
  const settings = resolveSettings({ samples: 100, ...o.settings, granularity: scores.settings.granularity, profile: false });

  const prep = await prepare(target, settings.granularity, { workDir: o.workDir });
  let source: Awaited<ReturnType<typeof openSource>> | undefined;
  try {
    if (!sameIdentity(await modelIdentity(prep.model), scores.model)) {
      throw new UserError(`${scoresPath}: was computed for another version of ${target.modelPath}; score it again`, scoresPath);
    }
    const byId = new Map(prep.gated.map((c, i) => [c.id, { c, i }]));
    const order = ranked(scores).map((s) => byId.get(s.id)?.c).filter((c): c is Candidate => !!c);
    if (order.length < ks[ks.length - 1]) throw new UserError(`${scoresPath}: has ${order.length} scored candidates; k up to ${ks[ks.length - 1]} was asked`, scoresPath);
    source = await openSource({ gated: prep.evalModel, originalPath: target.modelPath, gateCount: prep.gated.length, settings, pipeline: target.pipeline });
    const runner = source.runner!;
    if (!runner.metricSpec()) throw new UserError(`${target.pipeline}: has no metrics/metric.json, so there is no quality metric to check the scores against`, target.pipeline);

    const total = 1 + ks.length * (2 + repeats);
    let done = 0;
    const measure = async (sel: Candidate[], what: string): Promise<Measured> => {
      if (o.signal?.aborted) throw new CancelledError();
      const gates = new Uint8Array(prep.gated.length);
      for (const c of sel) gates[byId.get(c.id)!.i] = 1;
      const latents = await source!.evaluate(gates, o.signal);
      const dec = await runner.decode(latents, source!.shape, { signal: o.signal });
      const m = (await runner.evaluate(dec.samples, dec.shape, source!.labels)) as MetricResult;
      o.onProgress?.(++done, total, what);
      return { ids: sel.map((c) => c.id), value: m.value, classAccuracy: m.classAccuracy };
    };

    const baseline = await measure([], 'original');
    const rows: FaithfulnessRow[] = [];
    for (const k of ks) {
      const lowest = await measure(pickNonOverlapping(order, k), `lowest ${k}`);
      const highest = await measure(pickNonOverlapping([...order].reverse(), k), `highest ${k}`);
      const random: Measured[] = [];
      for (let r = 0; r < repeats; r++) random.push(await measure(pickNonOverlapping(shuffled(order, settings.seed * 7919 + k * 104729 + r), k), `random ${k} #${r + 1}`));
      const values = random.map((m) => m.value);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
      const accs = random.map((m) => m.classAccuracy).filter((x): x is number => x !== undefined);
      rows.push({
        k, lowest, highest, random, randomMean: mean, randomStd: std,
        randomAccuracyMean: accs.length ? accs.reduce((a, b) => a + b, 0) / accs.length : undefined,
        lowestBeatsRandom: lowest.value < mean,
        lowestBeatsHighest: lowest.value < highest.value,
      });
    }
    const report: FaithfulnessReport = {
      schema: FAITHFULNESS_SCHEMA,
      pipeline: target.pipeline!,
      scoresFile: scoresPath,
      metric: runner.metricSpec()!.name,
      variant: scores.settings.variant,
      samples: settings.samples,
      steps: settings.steps,
      seed: settings.seed,
      executionProvider: source.ep.used,
      baseline,
      rows,
      agreement: rows.filter((r) => r.lowestBeatsRandom).length / rows.length,
      seconds: (Date.now() - t0) / 1000,
    };
    if (o.out) writeFileAtomic(o.out, JSON.stringify(report, null, 1) + '\n');
    return report;
  } finally {
    await source?.release();
    prep.dispose();
  }
}

export function renderFaithfulness(r: FaithfulnessReport): string {
  const acc = (m: { classAccuracy?: number }) => (m.classAccuracy === undefined ? '' : ` / ${(100 * m.classAccuracy).toFixed(1)}%`);
  const lines = [
    `${r.metric}${r.baseline.classAccuracy !== undefined ? ' / class accuracy' : ''} after pruning k candidates (${r.samples} samples, ${r.steps} steps; lower ${r.metric} is better)`,
    `original: ${r.baseline.value.toFixed(3)}${acc(r.baseline)}`,
    '',
  ];
  const header = ['k', 'LD-Pruner lowest', 'random (mean ± sd)', 'highest', 'lowest < random'];
  const rows = r.rows.map((x) => [
    String(x.k),
    `${x.lowest.value.toFixed(3)}${acc(x.lowest)}`,
    `${x.randomMean.toFixed(3)} ± ${x.randomStd.toFixed(3)}${x.randomAccuracyMean === undefined ? '' : ` / ${(100 * x.randomAccuracyMean).toFixed(1)}%`}`,
    `${x.highest.value.toFixed(3)}${acc(x.highest)}`,
    x.lowestBeatsRandom ? 'yes' : 'no',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((c, i) => c.padStart(widths[i])).join('  ');
  lines.push(fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt));
  lines.push('', `LD-Pruner's lowest-k beats random at ${Math.round(r.agreement * r.rows.length)} of ${r.rows.length} k`);
  return lines.join('\n');
}
