// Running the original and the pruned model side by side in onnxruntime-node: the latents they
// generate from the same seeds and conditions (scored with LD-Pruner's formula), the pipeline's
// quality metric on both, and the median latency of one U-Net call, measured interleaved on the
// same execution provider with the same inputs.
import * as ort from 'onnxruntime-node';
import { CancelledError } from '../errors';
import { resolveConditions, type ConditionInput } from '../pipeline/conditions';
import type { MetricResult } from '../pipeline/metrics';
import { GaussianStream, sampleSeed } from '../pipeline/noise';
import { PipelineRunner, type Conditioning } from '../pipeline/runner';
import { createScheduler, type SchedulerSetting } from '../pipeline/schedulers';
import { samplesToPng } from '../pipeline/image-grid';
import { filledTensor, floatTensor, inputInfo, readFloat } from '../pipeline/tensors';
import { openRunnerWithProvider, withProvider, type EpReport } from '../scoring/ep';
import { feedSpecs, randomFeeds } from '../scoring/sources';
import type { EpRequest } from '../scoring/settings';
import { distances, latentStats, variants, type ScoreVariant } from '../scoring/stats';
import type { LatencyComparison, LatentComparison, PruneCheckResult } from './types';

/** The sampling settings of the comparison: the score file's, so the score is comparable to its scores. */
export interface CompareSettings {
  samples: number;
  seed: number;
  variant: ScoreVariant;
  /** pipelines */
  steps: number;
  scheduler: SchedulerSetting;
  eta: number;
  guidance?: number;
  conditions: ConditionInput;
  batchSize?: number;
  /** bare models: input dims (the first axis carries the samples) */
  inputs?: Record<string, number[]>;
  /** bare models: a free first axis holds this many samples per pass (the score file's rule: all of them) */
  samplesPerPass?: number;
}

export interface LatencyOptions {
  seconds: number;
  minRuns: number;
  maxRuns?: number;
}

export interface CompareResult {
  ep: EpReport;
  checks: PruneCheckResult[];
  latents?: LatentComparison;
  metric?: { before: MetricResult; after: MetricResult };
  latency?: LatencyComparison;
  /** a pipeline: PNG of the first samples, the original's row above the pruned one's (same seeds) */
  samplesPng?: { png: Buffer; count: number };
}

/** samples shown side by side in the prune result */
export const COMPARED_SAMPLES = 8;

export interface CompareOptions {
  settings: CompareSettings;
  ep: EpRequest;
  latency: LatencyOptions;
  metric: boolean;
  signal?: AbortSignal;
  onPhase?: (phase: 'latents' | 'metric' | 'latency', message: string) => void;
}

function check(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}

function firstLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return (s.split('\n').find((l) => l.trim()) ?? s).slice(0, 400);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** LD-Pruner's distance between two latent sets of the same samples. */
export function compareLatents(orig: Float32Array, pruned: Float32Array, n: number, variant: ScoreVariant): Omit<LatentComparison, 'kind' | 'settings'> {
  if (orig.length !== pruned.length) throw new Error(`latent sizes differ: ${orig.length} vs ${pruned.length}`);
  const v = variants(distances(latentStats(orig, n), latentStats(pruned, n)));
  let maxAbsDiff = 0;
  let finite = true;
  for (let i = 0; i < orig.length; i++) {
    if (!Number.isFinite(pruned[i])) finite = false;
    const d = Math.abs(orig[i] - pruned[i]);
    if (d > maxAbsDiff) maxAbsDiff = d;
  }
  const identical = Buffer.from(orig.buffer, orig.byteOffset, orig.byteLength).equals(Buffer.from(pruned.buffer, pruned.byteOffset, pruned.byteLength));
  return { samples: n, variant, score: v[variant], variants: v, maxAbsDiff: finite ? maxAbsDiff : Infinity, identical, finite };
}

/**
 * Median latency of `a` and `b`, timed alternately (ABBA) after one warm-up call each, until both
 * have `minRuns` timings and the time budget is spent (or `maxRuns`).
 */
export async function timeInterleaved(a: () => Promise<unknown>, b: () => Promise<unknown>, o: LatencyOptions, signal?: AbortSignal): Promise<{ a: number[]; b: number[] }> {
  await a();
  await b();
  const ta: number[] = [];
  const tb: number[] = [];
  const maxRuns = o.maxRuns ?? 50;
  const t0 = performance.now();
  for (let i = 0; ; i++) {
    check(signal);
    const pair: [() => Promise<unknown>, number[]][] = i % 2 === 0 ? [[a, ta], [b, tb]] : [[b, tb], [a, ta]];
    for (const [f, into] of pair) {
      const t = performance.now();
      await f();
      into.push(performance.now() - t);
    }
    const spent = (performance.now() - t0) / 1000;
    if (ta.length >= o.minRuns && (spent >= o.seconds || ta.length >= maxRuns)) break;
  }
  return { a: ta, b: tb };
}

function latencyResult(ep: string, call: string, t: { a: number[]; b: number[] }): LatencyComparison {
  const originalMs = median(t.a);
  const prunedMs = median(t.b);
  return {
    ep, call, runs: t.a.length, originalMs, prunedMs,
    changePercent: ((prunedMs - originalMs) / originalMs) * 100,
    originalRunsMs: t.a.map((x) => Math.round(x * 1000) / 1000),
    prunedRunsMs: t.b.map((x) => Math.round(x * 1000) / 1000),
  };
}

function latencyCheck(l: LatencyComparison): PruneCheckResult {
  const change = `${l.changePercent < 0 ? '−' : '+'}${Math.abs(l.changePercent).toFixed(1)}%`;
  return {
    name: 'latency', status: 'passed',
    detail: `median ${l.originalMs.toFixed(2)} → ${l.prunedMs.toFixed(2)} ms (${change}) over ${l.runs} interleaved runs each on ${l.ep}; one call: ${l.call}`,
  };
}

function latentCheck(l: LatentComparison): PruneCheckResult {
  if (!l.finite) return { name: 'latents', status: 'failed', detail: 'the pruned model produces NaN or ±Inf' };
  return {
    name: 'latents', status: 'passed',
    detail: l.identical ? `identical to the original's (${l.samples} samples)` : `${l.variant} score ${l.score.toPrecision(4)} against the original's latents (${l.samples} samples; max |Δ| ${l.maxAbsDiff.toPrecision(3)})`,
  };
}

// ---- pipelines --------------------------------------------------------------------------------

/** Feeds for one U-Net call on `rows` rows (the same values for both models: latency only). */
export function unetFeeds(runner: PipelineRunner, session: ort.InferenceSession, rows: number, shape: number[], t: number, cond: Conditioning | undefined, guided: boolean): Record<string, ort.Tensor> {
  const io = runner.unetIo(session);
  const per = shape[0] * shape[1] * shape[2];
  const x = new GaussianStream(sampleSeed(0, 0)).fill(new Float32Array(rows * per));
  const ts = io.timestep.shape;
  const tsDims = !ts || ts.length === 0 ? [] : ts[0] === 1 ? [1] : [rows];
  const feeds: Record<string, ort.Tensor> = {
    [io.sample.name]: floatTensor(io.sample.type, x, [rows, ...shape], 'U-Net sample'),
    [io.timestep.name]: filledTensor(io.timestep.type, t, tsDims, 'U-Net timestep'),
  };
  if (io.encoderHiddenStates && cond) {
    const rowLen = cond.seqLen * cond.dim;
    const e = new Float32Array(rows * rowLen);
    for (let j = 0; j < rows; j++) e.set(guided && j < rows / 2 ? cond.uncond! : cond.embeddings.subarray(0, rowLen), j * rowLen);
    feeds[io.encoderHiddenStates.name] = floatTensor(io.encoderHiddenStates.type, e, [rows, cond.seqLen, cond.dim], 'U-Net encoder_hidden_states');
  }
  // SDXL's text_embeds and time_ids, laid out like encoder_hidden_states (unconditional half first)
  if ((io.textEmbeds || io.timeIds) && cond?.added) Object.assign(feeds, runner.addedUnetFeeds(io, cond, shape, 0, guided ? rows / 2 : rows, guided));
  return feeds;
}

export async function comparePipelines(source: string, pruned: string, o: CompareOptions): Promise<CompareResult> {
  const s = o.settings;
  const { value: orig, ep } = await openRunnerWithProvider(o.ep, source, source, (name) => ({ executionProviders: [name] }));
  const checks: PruneCheckResult[] = [];
  const result: CompareResult = { ep, checks };
  const prunedRunner = PipelineRunner.open(pruned, { executionProviders: [ep.used] });
  try {
    let prunedUnet: ort.InferenceSession;
    try {
      prunedUnet = await prunedRunner.unet();
      prunedRunner.unetIo(prunedUnet);
    } catch (e) {
      checks.push({ name: 'onnxruntime', status: 'failed', detail: `the pruned U-Net does not load in onnxruntime (${ep.used}): ${firstLine(e)}` });
      return result;
    }
    const origUnet = await orig.unet();
    const conditional = await orig.isConditional();
    const prunedConditional = await prunedRunner.isConditional();
    const guidance = s.guidance ?? (conditional ? orig.layout.ldSurgeon.guidanceScale ?? 7.5 : 1);
    const resolved = await resolveConditions(orig, s.conditions, guidance);
    const latentShape = await orig.latentShape();
    const scheduler = () => createScheduler(s.scheduler, orig.layout.schedulerConfig, { steps: s.steps, eta: s.eta });
    const n = s.samples;
    const batchSize = s.batchSize ?? n;
    const gen = (runner: PipelineRunner, unet: ort.InferenceSession, cond: boolean) => runner.generate({
      n, seed: s.seed, scheduler: scheduler(), guidance: cond ? guidance : 1, conditioning: cond ? resolved.conditioning : undefined,
      batchSize, latentShape, unet, signal: o.signal,
    });
    o.onPhase?.('latents', `sampling ${n} latents with the original and the pruned U-Net (${s.steps} steps, ${ep.used})`);
    const a = await gen(orig, origUnet, conditional);
    let b;
    try {
      b = await gen(prunedRunner, prunedUnet, prunedConditional);
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      checks.push({ name: 'onnxruntime', status: 'failed', detail: `the pruned pipeline does not sample: ${firstLine(e)}` });
      return result;
    }
    checks.push({ name: 'onnxruntime', status: 'passed', detail: `the pruned pipeline loads and samples on ${ep.used} (${n} samples × ${s.steps} steps, the original's seeds and conditions)` });
    result.latents = {
      kind: 'pipeline',
      settings: { samples: n, seed: s.seed, steps: s.steps, scheduler: s.scheduler, eta: s.eta, guidance, batchSize, conditions: resolved.record, timesteps: scheduler().timesteps },
      ...compareLatents(a.latents, b.latents, n, s.variant),
    };
    checks.push(latentCheck(result.latents));

    // what a user looks at first: the same seeds through both pipelines, one row each
    check(o.signal);
    const k = Math.min(n, COMPARED_SAMPLES);
    const per = latentShape.reduce((x, y) => x * y, 1);
    const decodeFirst = (runner: PipelineRunner, latents: Float32Array) => runner.decode(latents.subarray(0, k * per), [k, ...latentShape], { signal: o.signal });
    const [da, db] = [await decodeFirst(orig, a.latents), await decodeFirst(prunedRunner, b.latents)];
    const both = new Float32Array(da.samples.length * 2);
    both.set(da.samples);
    both.set(db.samples, da.samples.length);
    // a pipeline for audio shows mel spectrograms, drawn low frequencies at the bottom as the sample command does
    const audio = /audio/i.test(String(orig.layout.ldSurgeon.raw.task ?? ''));
    result.samplesPng = { png: samplesToPng(both, [2 * k, ...da.shape.slice(1)], { columns: k, flipVertical: audio }), count: k };

    if (!o.metric) checks.push({ name: 'metric', status: 'skipped', detail: 'not measured (--no-metric)' });
    else if (!orig.metricSpec()) checks.push({ name: 'metric', status: 'skipped', detail: 'the pipeline ships no metrics/metric.json' });
    else if (n < 2) checks.push({ name: 'metric', status: 'skipped', detail: 'needs at least 2 samples' });
    else {
      check(o.signal);
      o.onPhase?.('metric', `decoding and scoring ${n} samples of each with the pipeline's metric`);
      const count = resolved.conditioning?.count ?? 0;
      const labels = resolved.labels && count ? Array.from({ length: n }, (_, i) => resolved.labels![i % count]) : undefined;
      const score = async (runner: PipelineRunner, latents: Float32Array) => {
        const dec = await runner.decode(latents, [n, ...latentShape], { batchSize: Math.min(n, 32), signal: o.signal });
        return (await runner.evaluate(dec.samples, dec.shape, labels))!;
      };
      const before = await score(orig, a.latents);
      const after = await score(prunedRunner, b.latents);
      result.metric = { before, after };
      const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);
      const acc = before.classAccuracy !== undefined ? `; class accuracy ${pct(before.classAccuracy)} → ${pct(after.classAccuracy)}` : '';
      const pm = (r: MetricResult) => `${r.value.toFixed(3)}${r.spread !== undefined ? ` ±${r.spread.toFixed(3)}` : ''}`;
      const metricCheck: PruneCheckResult = { name: 'metric', status: 'passed', detail: `${before.metric} ${pm(before)} → ${pm(after)}${acc} (n=${n}, the same seeds and conditions)` };
      const indicative = before.indicative ?? after.indicative;
      if (indicative) metricCheck.indicative = indicative;
      checks.push(metricCheck);
    }

    check(o.signal);
    o.onPhase?.('latency', `timing one U-Net call of each, interleaved (${o.latency.seconds} s budget)`);
    const guided = conditional && guidance !== 1;
    const prunedGuided = prunedConditional && guidance !== 1;
    const t = scheduler().timesteps[Math.floor(scheduler().timesteps.length / 2)];
    const fa = unetFeeds(orig, origUnet, guided ? 2 : 1, latentShape, t, resolved.conditioning, guided);
    const fb = unetFeeds(prunedRunner, prunedUnet, prunedGuided ? 2 : 1, latentShape, t, prunedConditional ? resolved.conditioning : undefined, prunedGuided);
    const outA = orig.unetIo(origUnet).output;
    const outB = prunedRunner.unetIo(prunedUnet).output;
    const times = await timeInterleaved(() => origUnet.run(fa, [outA]), () => prunedUnet.run(fb, [outB]), o.latency, o.signal);
    const call = `one sample's U-Net call: ${guided ? '2 rows (classifier-free guidance)' : '1 row'} of [${latentShape}]${prunedGuided !== guided ? ` (pruned: ${prunedGuided ? 2 : 1})` : ''}`;
    result.latency = latencyResult(ep.used, call, times);
    checks.push(latencyCheck(result.latency));
    return result;
  } finally {
    await prunedRunner.release();
    await orig.release();
  }
}

// ---- bare models --------------------------------------------------------------------------------

/** All outputs of one pass, split into per-sample rows when every output's first axis is the samples. */
function rowsOf(out: ort.InferenceSession.OnnxValueMapType, names: string[], perPass: number, where: string): Float32Array[] {
  const parts = names.map((name) => ({ t: out[name] as ort.Tensor, data: readFloat(out[name] as ort.Tensor, `${where} output '${name}'`) }));
  const split = parts.every((p) => p.t.dims[0] === perPass);
  const count = split ? perPass : 1;
  return Array.from({ length: count }, (_, j) => {
    const pieces = parts.map((p) => p.data.subarray((j * p.data.length) / count, ((j + 1) * p.data.length) / count));
    const row = new Float32Array(pieces.reduce((s, x) => s + x.length, 0));
    let off = 0;
    for (const x of pieces) {
      row.set(x, off);
      off += x.length;
    }
    return row;
  });
}

export async function compareModels(source: string, pruned: string, o: CompareOptions): Promise<CompareResult> {
  const s = o.settings;
  const opts = (name: string): ort.InferenceSession.SessionOptions => ({ graphOptimizationLevel: 'all', logSeverityLevel: 3, executionProviders: [name] });
  const { value: a, ep } = await withProvider(o.ep, source, (name) => ort.InferenceSession.create(source, opts(name)));
  const checks: PruneCheckResult[] = [];
  const result: CompareResult = { ep, checks };
  let b: ort.InferenceSession | undefined;
  try {
    try {
      b = await ort.InferenceSession.create(pruned, opts(ep.used));
    } catch (e) {
      checks.push({ name: 'onnxruntime', status: 'failed', detail: `the pruned model does not load in onnxruntime (${ep.used}): ${firstLine(e)}` });
      return result;
    }
    const n = s.samples;
    const { specs, perPass } = feedSpecs(inputInfo(a), source, s.inputs, s.samplesPerPass ?? n);
    const passes = Math.ceil(n / perPass);
    const outputs = [...a.outputNames];
    const prunedInputs = new Set(b.inputNames);
    const missing = b.inputNames.filter((x) => !specs.some((sp) => sp.name === x));
    if (missing.length) {
      checks.push({ name: 'onnxruntime', status: 'failed', detail: `the pruned model takes inputs the original does not: ${missing.join(', ')}` });
      return result;
    }
    o.onPhase?.('latents', `running the original and the pruned model on ${n} seeded random inputs (${ep.used})`);
    const rowsA: Float32Array[] = [];
    const rowsB: Float32Array[] = [];
    let firstFeeds: Record<string, ort.Tensor> | undefined;
    let originalRuns = true;
    for (let p = 0; p < passes; p++) {
      check(o.signal);
      const feeds = randomFeeds(specs, s.seed, p, perPass, source);
      firstFeeds ??= feeds;
      let outA;
      try {
        outA = await a.run(feeds, outputs);
      } catch (e) {
        checks.push({ name: 'onnxruntime', status: 'passed', detail: `the pruned model loads on ${ep.used}; not run: the original itself fails on seeded random inputs (${firstLine(e)})` });
        checks.push({ name: 'latents', status: 'skipped', detail: 'the original does not run on seeded random inputs; give --input dims it accepts' });
        originalRuns = false;
        break;
      }
      const prunedFeeds = Object.fromEntries(Object.entries(feeds).filter(([k]) => prunedInputs.has(k)));
      let outB;
      try {
        outB = await b.run(prunedFeeds, outputs);
      } catch (e) {
        checks.push({ name: 'onnxruntime', status: 'failed', detail: `the pruned model fails on the inputs the original runs on: ${firstLine(e)}` });
        return result;
      }
      rowsA.push(...rowsOf(outA, outputs, perPass, source));
      rowsB.push(...rowsOf(outB, outputs, perPass, pruned));
      if (rowsA.length !== rowsB.length || rowsA[rowsA.length - 1].length !== rowsB[rowsB.length - 1].length) {
        checks.push({ name: 'onnxruntime', status: 'failed', detail: 'the pruned model\'s outputs have other shapes than the original\'s' });
        return result;
      }
    }
    if (!originalRuns) return result;
    const count = Math.min(n, rowsA.length);
    const flat = (rows: Float32Array[]) => {
      const out = new Float32Array(count * rows[0].length);
      for (let i = 0; i < count; i++) out.set(rows[i], i * rows[0].length);
      return out;
    };
    checks.push({ name: 'onnxruntime', status: 'passed', detail: `the pruned model loads and runs on ${ep.used} on the original's inputs (${passes} pass${passes > 1 ? 'es' : ''})` });
    result.latents = {
      kind: 'model',
      settings: { samples: count, seed: s.seed, inputs: Object.fromEntries(specs.map((x) => [x.name, { type: x.type, dims: x.dims }])), perPass },
      ...compareLatents(flat(rowsA), flat(rowsB), count, s.variant),
    };
    checks.push(latentCheck(result.latents));
    checks.push({ name: 'metric', status: 'skipped', detail: 'a bare model has no quality metric (prune its pipeline folder for one)' });

    check(o.signal);
    o.onPhase?.('latency', `timing one pass of each, interleaved (${o.latency.seconds} s budget)`);
    const fa = firstFeeds!;
    const fb = Object.fromEntries(Object.entries(fa).filter(([k]) => prunedInputs.has(k)));
    const bb = b;
    const times = await timeInterleaved(() => a.run(fa, outputs), () => bb.run(fb, outputs), o.latency, o.signal);
    const call = `one pass: ${specs.map((x) => `${x.name} [${x.dims}]`).join(', ')}`;
    result.latency = latencyResult(ep.used, call, times);
    checks.push(latencyCheck(result.latency));
    return result;
  } finally {
    await b?.release();
    await a.release();
  }
}
