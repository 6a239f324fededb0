// The method, measured on one pipeline: does pruning the k lowest-scored candidates keep quality
// better than k random ones and the k highest (LD-Pruner's claim), which score formula ranks best
// (the paper's avg / std / avg+std / avg·std ablation), and how well each candidate's score predicts
// the quality lost when it alone is removed (Spearman ρ). Every selection is measured on the same
// seeds and conditions (one gated session: a selection is a set of gates), so differences between
// rows are the selections', not the noise's; the noise itself is measured by repeating one k on
// disjoint sample sets. A pipeline without metrics/metric.json is measured by the LD-Pruner distance
// of its final latents from the original's only, and the report says so.
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CancelledError, UserError } from '../errors';
import { writeModel } from '../onnx/writer';
import { resolveConditions } from '../pipeline/conditions';
import { buildPruned } from '../prune/build';
import { timeInterleaved, unetFeeds } from '../prune/compare';
import type { Candidate } from '../surgery';
import { pickNonOverlapping, shuffled } from './faithfulness';
import { analysisShapes, prepare, type Prepared } from './prepare';
import { readScoreFile, type ScoredCandidate, type ScoreFile } from './score-file';
import { resolveSettings, type ScoreSettings } from './settings';
import { openSource, type EvalSource } from './sources';
import { distances, latentStats, spearman, VARIANTS, type LatentStats, type ScoreVariant } from './stats';
import { defaultScoreFile, modelIdentity, resolveTarget, sameIdentity } from './target';

export const QUALITY_REPORT_SCHEMA = 'ld-surgeon/quality-report@1';

export interface QualityReportOptions {
  pipeline: string;
  /** score file (default: the pipeline's unet/model.ldscores.json) */
  scoresFile?: string;
  /** k values; those above the number of scored candidates are left out (and listed in `skippedKs`) */
  ks: number[];
  /** random selections per k (default 5) */
  randomDraws?: number;
  /** score formulas whose k lowest are measured (default: all four) */
  variants?: ScoreVariant[];
  /** measure every scored candidate removed alone, for Spearman ρ (default true) */
  singles?: boolean;
  /** repeat the original, the k lowest and one random draw at this k on `noiseRepeats` sample sets (default: the second k) */
  noiseK?: number;
  /** sample sets in the noise estimate, the main one included (default 3; 1 = no noise estimate) */
  noiseRepeats?: number;
  /** time one U-Net call of the pruned models (the k lowest, highest and the median random draw) */
  latency?: { seconds: number; minRuns: number } | false;
  /** samples (n), steps, seed, ep, guidance, conditions, batch size */
  settings?: Partial<ScoreSettings>;
  workDir?: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface SelectionQuality {
  ids: string[];
  /** LD-Pruner distance (avg+std) of the pruned latents from the original's, same seeds */
  latentDistance: number;
  /** the pipeline's metric (FID-like / FAD; lower is better), when it has one */
  metric?: { value: number; spread?: number; classAccuracy?: number; indicative?: string };
  /** U-Net parameters after pruning */
  params: number;
  /** median of one U-Net call of the pruned model, when latency is measured (ms) */
  latencyMs?: number;
}

export interface KRow {
  k: number;
  lowest: SelectionQuality;
  highest: SelectionQuality;
  random: SelectionQuality[];
  /** median, min and max of the random draws' quality (the metric, else the latent distance) */
  randomMedian: number;
  randomMin: number;
  randomMax: number;
  /** the draw whose quality is the median (its latency is the one timed) */
  randomMedianDraw: number;
  /** the k lowest by each score formula */
  variants: Partial<Record<ScoreVariant, SelectionQuality>>;
  lowestBeatsRandomMedian: boolean;
  lowestBeatsHighest: boolean;
}

export interface NoiseEstimate {
  k: number;
  /** the run seeds: disjoint sample sets (sample i uses seed + i) */
  seeds: number[];
  original: number[];
  lowest: number[];
  random: number[];
  /** the largest standard deviation of the three rows (sample std over seeds) */
  std: number;
}

export interface Faithfulness {
  /** Spearman ρ between each candidate's score and its quality loss when removed alone */
  rho: number;
  /** Spearman ρ against the latent distance at the report's n (always available) */
  rhoLatent: number;
  singles: { id: string; score: number; loss: number; latentDistance: number }[];
}

export interface QualityReport {
  schema: typeof QUALITY_REPORT_SCHEMA;
  pipeline: string;
  scoresFile: string;
  /** how the score file was computed */
  scoring: { samples: number; steps: number; granularity: string; variant: string; seed: number };
  /** the metric the rows are measured by: the pipeline's (FID / FAD), or 'latent distance' */
  quality: string;
  /** why the quality is the latent distance only, when it is */
  qualityNote?: string;
  samples: number;
  steps: number;
  seed: number;
  guidance?: number;
  executionProvider: string;
  candidates: number;
  original: SelectionQuality;
  rows: KRow[];
  skippedKs: number[];
  noise?: NoiseEstimate;
  faithfulness?: Faithfulness;
  machine: { cpu: string; cores: number; loadAverageStart: number[]; loadAverageEnd: number[] };
  seconds: number;
}

/** The number a row is judged by: the metric (lower is better), else the latent distance. */
export function qualityOf(q: SelectionQuality): number {
  return q.metric ? q.metric.value : q.latentDistance;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function sampleStd(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** The candidates ranked by one score formula, lowest first (non-finite last). */
function rankedBy(f: ScoreFile, v: ScoreVariant, path: string): ScoredCandidate[] {
  const key = (c: ScoredCandidate) => {
    const x = c.variants?.[v];
    return x === undefined || !Number.isFinite(x) ? Infinity : x;
  };
  const scored = f.candidates.filter((c) => c.status === 'scored' && (c.score !== null || c.nonFinite));
  if (v !== f.settings.variant && scored.some((c) => !c.variants)) {
    throw new UserError(`${path}: some candidates have no per-formula terms (avg, std), so the ${v} ranking cannot be derived; score again`, path);
  }
  return scored.sort((a, b) => key(a) - key(b) || (a.id < b.id ? -1 : 1));
}

function readScores(path: string, explicit: boolean, pipeline: string): ScoreFile {
  try {
    return readScoreFile(path);
  } catch (e) {
    if (!explicit && e instanceof UserError && /not a readable/.test(e.message)) throw new UserError(`${path}: no score file; run \`ld-surgeon score ${pipeline}\` first or pass --scores`, path);
    throw e;
  }
}

export async function runQualityReport(o: QualityReportOptions): Promise<QualityReport> {
  const t0 = Date.now();
  const loadStart = loadavg().map((x) => round(x, 2));
  const target = resolveTarget(o.pipeline);
  if (target.kind !== 'pipeline') throw new UserError(`${o.pipeline}: a quality report needs a pipeline folder (samples are generated with its sampler)`, o.pipeline);
  const scoresPath = o.scoresFile ?? defaultScoreFile(target.modelPath);
  const scores = readScores(scoresPath, o.scoresFile !== undefined, o.pipeline);
  const asked = [...new Set(o.ks)].sort((a, b) => a - b);
  if (!asked.length || asked.some((k) => !Number.isInteger(k) || k < 1)) throw new UserError(`--k: expected positive integers, got ${o.ks.join(',')}`);
  const draws = o.randomDraws ?? 5;
  if (!Number.isInteger(draws) || draws < 1) throw new UserError(`random draws must be a positive integer, got ${draws}`);
  const noiseRepeats = o.noiseRepeats ?? 3;
  const formulas = o.variants ?? [...VARIANTS];
  const settings = resolveSettings({ samples: 200, ...o.settings, granularity: scores.settings.granularity, profile: false });
  if (settings.samples < 2) throw new UserError(`--n: at least 2 samples are needed, got ${settings.samples}`);

  const prep = await prepare(target, settings.granularity, { workDir: o.workDir });
  const sources: EvalSource[] = [];
  const latencySessions: ort.InferenceSession[] = [];
  try {
    if (!sameIdentity(await modelIdentity(prep.model), scores.model)) {
      throw new UserError(`${scoresPath}: was computed for another version of ${target.modelPath}; score it again`, scoresPath);
    }
    const byId = new Map(prep.gated.map((c, i) => [c.id, { c, i }]));
    const orderOf = (v: ScoreVariant) => rankedBy(scores, v, scoresPath).map((s) => byId.get(s.id)?.c).filter((c): c is Candidate => !!c);
    const order = orderOf(scores.settings.variant);
    const ks = asked.filter((k) => pickNonOverlapping(order, k).length >= k);
    const skippedKs = asked.filter((k) => !ks.includes(k));
    if (!ks.length) throw new UserError(`${scoresPath}: has ${order.length} scored candidates; k = ${asked.join(', ')} is more than can be removed`, scoresPath);
    const noiseK = o.noiseK ?? ks[Math.min(1, ks.length - 1)];
    const singles = o.singles !== false ? order : [];

    const main = await openSource({ gated: prep.evalModel, originalPath: target.modelPath, gateCount: prep.gated.length, settings, pipeline: target.pipeline });
    sources.push(main);
    const runner = main.runner!;
    const spec = runner.metricSpec();
    const n = settings.samples;

    const perK = 2 + draws + Math.max(0, formulas.filter((v) => v !== scores.settings.variant).length);
    const total = 1 + ks.length * perK + singles.length + (noiseRepeats > 1 && ks.includes(noiseK) ? (noiseRepeats - 1) * 3 : 0);
    let done = 0;
    const tick = (what: string) => o.onProgress?.(++done, total, what);

    const shapes = analysisShapes(prep.model, target, settings.inputs);
    const rootParams = (a: Prepared['analysis']) => a.total.get(a.tree.root)!.params;
    const originalParams = rootParams(prep.analysis);

    // one measurement per (sample set, selection): the lowest k of two formulas are often the same
    const cache = new Map<string, SelectionQuality>();
    const sourceIds = new Map<EvalSource, number>();
    const baseStats = new Map<EvalSource, LatentStats>();
    const measure = async (src: EvalSource, sel: Candidate[], what: string): Promise<SelectionQuality> => {
      const ids = sel.map((c) => c.id);
      if (!sourceIds.has(src)) sourceIds.set(src, sourceIds.size);
      const key = `${sourceIds.get(src)}|${[...ids].sort().join(',')}`;
      const hit = cache.get(key);
      if (hit) {
        tick(`${what} (same selection as before)`);
        return hit;
      }
      if (o.signal?.aborted) throw new CancelledError();
      const gates = new Uint8Array(prep.gated.length);
      for (const c of sel) gates[byId.get(c.id)!.i] = 1;
      const latents = await src.evaluate(gates, o.signal);
      const stats = latentStats(latents, n);
      if (!sel.length) baseStats.set(src, stats);
      const d = distances(baseStats.get(src)!, stats);
      const q: SelectionQuality = { ids, latentDistance: d.avg + d.std, params: sel.length ? rootParams((await buildPruned(prep.model, sel, shapes, true)).analysis) : originalParams };
      if (!Number.isFinite(q.latentDistance)) q.latentDistance = Infinity;
      if (spec) {
        const dec = await src.runner!.decode(latents, src.shape, { signal: o.signal });
        const m = (await src.runner!.evaluate(dec.samples, dec.shape, src.labels))!;
        q.metric = { value: m.value, spread: m.spread, classAccuracy: m.classAccuracy, indicative: m.indicative };
      }
      cache.set(key, q);
      tick(what);
      return q;
    };

    const original = await measure(main, [], 'original');
    const rows: KRow[] = [];
    for (const k of ks) {
      const lowest = await measure(main, pickNonOverlapping(order, k), `k=${k}: lowest`);
      const highest = await measure(main, pickNonOverlapping([...order].reverse(), k), `k=${k}: highest`);
      const random: SelectionQuality[] = [];
      for (let r = 0; r < draws; r++) random.push(await measure(main, pickNonOverlapping(shuffled(order, settings.seed * 7919 + k * 104729 + r), k), `k=${k}: random draw ${r + 1}/${draws}`));
      const values = random.map(qualityOf);
      const med = median(values);
      const variants: KRow['variants'] = {};
      for (const v of formulas) variants[v] = v === scores.settings.variant ? lowest : await measure(main, pickNonOverlapping(orderOf(v), k), `k=${k}: lowest by ${v}`);
      rows.push({
        k, lowest, highest, random,
        randomMedian: med, randomMin: Math.min(...values), randomMax: Math.max(...values),
        randomMedianDraw: values.indexOf([...values].sort((a, b) => a - b)[(values.length - 1) >> 1]),
        variants,
        lowestBeatsRandomMedian: qualityOf(lowest) < med,
        lowestBeatsHighest: qualityOf(lowest) < qualityOf(highest),
      });
    }

    let faithfulness: Faithfulness | undefined;
    if (singles.length >= 2) {
      const entries: Faithfulness['singles'] = [];
      const scoreOf = new Map(scores.candidates.map((c) => [c.id, c.score ?? Infinity]));
      for (const c of singles) {
        const q = await measure(main, [c], `${c.id} alone`);
        entries.push({ id: c.id, score: scoreOf.get(c.id)!, loss: qualityOf(q) - qualityOf(original), latentDistance: q.latentDistance });
      }
      faithfulness = {
        rho: spearman(entries.map((e) => e.score), entries.map((e) => e.loss)),
        rhoLatent: spearman(entries.map((e) => e.score), entries.map((e) => e.latentDistance)),
        singles: entries,
      };
    }

    let noise: NoiseEstimate | undefined;
    const noiseRow = rows.find((r) => r.k === noiseK);
    if (noiseRepeats > 1 && noiseRow) {
      const est: NoiseEstimate = { k: noiseK, seeds: [settings.seed], original: [qualityOf(original)], lowest: [qualityOf(noiseRow.lowest)], random: [qualityOf(noiseRow.random[0])], std: 0 };
      const lowestSel = pickNonOverlapping(order, noiseK);
      const randomSel = noiseRow.random[0].ids.map((id) => byId.get(id)!.c);
      for (let j = 1; j < noiseRepeats; j++) {
        // disjoint sample sets: sample i of run seed s uses seed s + i
        const seed = settings.seed + j * n;
        const src = await openSource({ gated: prep.evalModel, originalPath: target.modelPath, gateCount: prep.gated.length, settings: { ...settings, seed }, pipeline: target.pipeline });
        sources.push(src);
        est.seeds.push(seed);
        est.original.push(qualityOf(await measure(src, [], `noise: original, seed ${seed}`)));
        est.lowest.push(qualityOf(await measure(src, lowestSel, `noise: k=${noiseK} lowest, seed ${seed}`)));
        est.random.push(qualityOf(await measure(src, randomSel, `noise: k=${noiseK} random, seed ${seed}`)));
        await src.release();
        sources.pop();
      }
      est.std = Math.max(sampleStd(est.original), sampleStd(est.lowest), sampleStd(est.random));
      noise = est;
    }

    if (o.latency) {
      const conditional = await runner.isConditional();
      const guidance = settings.guidance ?? (conditional ? runner.layout.ldSurgeon.guidanceScale ?? 7.5 : 1);
      const guided = conditional && guidance !== 1;
      const resolved = await resolveConditions(runner, settings.conditions, guidance);
      const latentShape = main.shape.slice(1);
      const t = 500;
      const origSession = await runner.createSession(target.modelPath);
      latencySessions.push(origSession);
      const feedsFor = (s: ort.InferenceSession) => unetFeeds(runner, s, guided ? 2 : 1, latentShape, t, resolved.conditioning, guided);
      const fa = feedsFor(origSession);
      const outA = runner.unetIo(origSession).output;
      const dir = join(prep.workDir, 'latency');
      mkdirSync(dir, { recursive: true });
      let file = 0;
      const timeSelection = async (q: SelectionQuality) => {
        if (q.latencyMs !== undefined || !q.ids.length) return;
        if (o.signal?.aborted) throw new CancelledError();
        const built = await buildPruned(prep.model, q.ids.map((id) => byId.get(id)!.c), shapes, true);
        const path = join(dir, `pruned-${file++}.onnx`);
        await writeModel(built.model, path);
        const s = await runner.createSession(path);
        latencySessions.push(s);
        const fb = feedsFor(s);
        const outB = runner.unetIo(s).output;
        const times = await timeInterleaved(() => origSession.run(fa, [outA]), () => s.run(fb, [outB]), o.latency as { seconds: number; minRuns: number }, o.signal);
        original.latencyMs = round(median([...(original.latencyMs !== undefined ? [original.latencyMs] : []), median(times.a)]), 3);
        q.latencyMs = round(median(times.b), 3);
      };
      for (const r of rows) {
        await timeSelection(r.lowest);
        await timeSelection(r.highest);
        await timeSelection(r.random[r.randomMedianDraw]);
      }
    }

    const cpu = cpus();
    return {
      schema: QUALITY_REPORT_SCHEMA,
      pipeline: target.pipeline!,
      scoresFile: scoresPath,
      scoring: { samples: scores.settings.samples, steps: scores.settings.steps, granularity: scores.settings.granularity, variant: scores.settings.variant, seed: scores.settings.seed },
      quality: spec ? spec.name : 'latent distance',
      ...(spec ? {} : { qualityNote: `${target.pipeline} has no metrics/metric.json: every row is the LD-Pruner distance (avg+std) of the pruned pipeline's final latents from the original's on the same seeds, not a sample-quality metric` }),
      samples: n,
      steps: settings.steps,
      seed: settings.seed,
      guidance: (main.record.guidance as number | undefined),
      executionProvider: main.ep.used,
      candidates: order.length,
      original,
      rows,
      skippedKs,
      noise,
      faithfulness,
      machine: { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, loadAverageStart: loadStart, loadAverageEnd: loadavg().map((x) => round(x, 2)) },
      seconds: round((Date.now() - t0) / 1000, 1),
    };
  } finally {
    for (const s of latencySessions) await s.release();
    for (const s of sources) await s.release();
    prep.dispose();
  }
}
