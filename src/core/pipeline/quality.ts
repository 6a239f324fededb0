// "Measure quality": a pipeline's metric (FID/FAD and class accuracy, with n and bootstrap spread)
// at a proper n, and the same measurement of a second pipeline paired with it — the same seeds,
// the same noise and the same conditions — plus LD-Pruner's distance between the two final-latent
// sets. Sampling is the sample job's (drawSamples); nothing is written here.
import { UserError } from '../errors';
import { distances, latentStats, variants, type ScoreVariant } from '../scoring/stats';
import { openRunnerWithProvider, type EpReport } from '../scoring/ep';
import type { EpRequest } from '../scoring/settings';
import { resolveConditions, type ConditionInput, type ResolvedConditions } from './conditions';
import { PROPER_METRIC_SAMPLES, type MetricResult } from './metrics';
import { PipelineRunner, type Progress } from './runner';
import { drawSamples } from './sample-job';

export interface QualityOptions {
  /** samples; default PROPER_METRIC_SAMPLES (200) */
  n?: number;
  /** run seed: sample i draws its noise from seed + i; default 0 */
  seed?: number;
  /** inference steps; default the pipeline's, else 25 */
  steps?: number;
  /** default: the pipeline's default prompts (conditional) or none */
  conditions?: ConditionInput;
  guidance?: number;
  batchSize?: number;
  /** onnxruntime execution providers; default ['cpu'] */
  executionProviders?: string[];
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export interface QualityTarget {
  /** the pipeline folder */
  pipeline: string;
  /** a U-Net file that replaces the pipeline's unet/model.onnx (a pruned model in a scratch folder) */
  unetPath?: string;
}

/** The metric of one measurement, flattened for a table and a JSON record. */
export interface QualityMetric {
  /** 'FID', 'FAD', ... */
  name: string;
  value: number;
  /** bootstrap standard deviation of value; absent for very wide features */
  spread?: number;
  n: number;
  /** why the value is indicative only; absent when it is not */
  indicative?: string;
  featureDim: number;
  predictedClassEntropyBits: number;
}

export interface QualityResult {
  pipeline: string;
  unet: string;
  /** absent when the pipeline ships no metrics/metric.json (see noMetric) or n < 2 */
  metric?: QualityMetric;
  /** share of samples the metric's classifier puts in their conditioning class, when classes are known */
  accuracy?: { value: number; n: number };
  /** why there is no metric */
  noMetric?: string;
  /** the full metric result, as `sample` writes it to metrics.json */
  metricResult?: MetricResult;
  /** final latents x_0, [n, C, H, W] */
  latents: Float32Array;
  latentShape: number[];
  settings: QualitySettings;
  seconds: number;
}

/** What makes two measurements paired: equal settings mean equal noise and conditions. */
export interface QualitySettings {
  n: number;
  seed: number;
  steps: number;
  scheduler: string;
  guidance: number;
  conditions: ResolvedConditions['record'];
}

export interface LatentDistance {
  /** LD-Pruner's default variant ('avg+std'): ‖Δmean‖₂ + ‖Δstd‖₂ over the sample axis */
  variant: ScoreVariant;
  score: number;
  variants: Record<ScoreVariant, number>;
  samples: number;
  maxAbsDiff: number;
  identical: boolean;
}

export interface QualityComparison {
  original: QualityResult;
  candidate: QualityResult;
  latentDistance: LatentDistance;
  seconds: number;
  /** the provider both sides ran on, when compareQuality was asked to choose one (`ep`) */
  executionProvider?: EpReport;
}

const target = (t: QualityTarget | string): QualityTarget => (typeof t === 'string' ? { pipeline: t } : t);

function noMetricReason(runner: PipelineRunner, n: number): string {
  if (!runner.layout.metricFile) return `${runner.layout.folder} ships no metrics/metric.json, so only the latent distance is measured`;
  return `the metric needs at least 2 samples, got ${n}`;
}

async function measureOn(runner: PipelineRunner, o: QualityOptions, resolved?: ResolvedConditions): Promise<QualityResult> {
  const t0 = Date.now();
  const n = o.n ?? PROPER_METRIC_SAMPLES;
  const d = await drawSamples(runner, {
    n, seed: o.seed ?? 0, steps: o.steps, conditions: o.conditions, resolved, guidance: o.guidance,
    batchSize: o.batchSize, signal: o.signal, onProgress: o.onProgress,
  });
  const m = d.metrics;
  const r: QualityResult = {
    pipeline: runner.layout.folder,
    unet: runner.unetPath,
    latents: d.gen.latents,
    latentShape: d.gen.shape,
    settings: { n: d.n, seed: d.seed, steps: d.steps, scheduler: d.choice.name, guidance: d.guidance, conditions: d.resolved.record },
    seconds: 0,
  };
  if (m) {
    r.metricResult = m;
    r.metric = { name: m.metric, value: m.value, n: m.n, featureDim: m.featureDim, predictedClassEntropyBits: m.predictedClassEntropyBits };
    if (m.spread !== undefined) r.metric.spread = m.spread;
    if (m.indicative) r.metric.indicative = m.indicative;
    if (m.classAccuracy !== undefined) r.accuracy = { value: m.classAccuracy, n: m.labelled ?? m.n };
  } else {
    r.noMetric = noMetricReason(runner, d.n);
  }
  r.seconds = (Date.now() - t0) / 1000;
  return r;
}

/** Samples one pipeline (or a U-Net swapped into it) at n samples and scores them with its metric. */
export async function measureQuality(pipeline: QualityTarget | string, o: QualityOptions = {}): Promise<QualityResult> {
  const t = target(pipeline);
  const runner = PipelineRunner.open(t.pipeline, { executionProviders: o.executionProviders, unetPath: t.unetPath });
  try {
    return await measureOn(runner, o);
  } finally {
    await runner.release();
  }
}

function sameSettings(a: QualitySettings, b: QualitySettings): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * LD-Pruner's distance between the final latents of two paired measurements. Throws unless their
 * settings agree (then their noise and conditions were the same) and their latents have one shape.
 */
export function latentDistance(a: QualityResult, b: QualityResult): LatentDistance {
  if (a.latentShape.join(',') !== b.latentShape.join(',')) {
    throw new UserError(`${b.pipeline}: its latents are [${b.latentShape.slice(1)}], those of ${a.pipeline} are [${a.latentShape.slice(1)}]; the two cannot be compared`, b.pipeline);
  }
  if (!sameSettings(a.settings, b.settings)) {
    throw new UserError(`${b.pipeline} was not measured with the settings of ${a.pipeline} (${JSON.stringify(b.settings)} vs ${JSON.stringify(a.settings)}); the measurements are not paired`, b.pipeline);
  }
  const n = a.settings.n;
  const variant: ScoreVariant = 'avg+std';
  const v = variants(distances(latentStats(a.latents, n), latentStats(b.latents, n)));
  let maxAbsDiff = 0;
  for (let i = 0; i < a.latents.length; i++) {
    const diff = Math.abs(a.latents[i] - b.latents[i]);
    if (!(diff <= maxAbsDiff)) maxAbsDiff = Number.isNaN(diff) ? Infinity : diff;
  }
  const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return { variant, score: v[variant], variants: v, samples: n, maxAbsDiff, identical: bytes(a.latents).equals(bytes(b.latents)) };
}

/**
 * Measures `original` and `candidate` paired: the conditions are resolved once (by the original's
 * text encoder) and both draw the same seeded noise. The latent shapes are checked before any sampling.
 * Progress is told per side.
 */
export async function compareQuality(
  original: QualityTarget | string,
  candidate: QualityTarget | string,
  o: Omit<QualityOptions, 'onProgress'> & { onProgress?: (side: 'original' | 'candidate', p: Progress) => void; ep?: EpRequest } = {},
): Promise<QualityComparison> {
  const t0 = Date.now();
  const [to, tc] = [target(original), target(candidate)];
  // `ep`: the provider is chosen on the original's U-Net (the first one that loads it) and the candidate runs on the same
  let executionProvider: EpReport | undefined;
  let a: PipelineRunner;
  if (o.ep) {
    const opened = await openRunnerWithProvider(o.ep, to.unetPath ?? to.pipeline, to.pipeline, (name) => ({ executionProviders: [name], unetPath: to.unetPath }));
    a = opened.value;
    executionProvider = opened.ep;
  } else a = PipelineRunner.open(to.pipeline, { executionProviders: o.executionProviders, unetPath: to.unetPath });
  const b = PipelineRunner.open(tc.pipeline, { executionProviders: executionProvider ? [executionProvider.used] : o.executionProviders, unetPath: tc.unetPath });
  try {
    const [sa, sb] = [await a.latentShape(), await b.latentShape()];
    if (sa.join(',') !== sb.join(',')) {
      throw new UserError(`${b.unetPath}: its latents are [${sb}], those of the original ${a.unetPath} are [${sa}]; a paired measurement needs one latent shape`, b.unetPath);
    }
    const [ca, cb] = [await a.isConditional(), await b.isConditional()];
    if (ca !== cb) {
      throw new UserError(`${b.unetPath} is ${cb ? 'conditional' : 'unconditional'} but the original ${a.unetPath} is ${ca ? 'conditional' : 'unconditional'}; they cannot be given the same conditions`, b.unetPath);
    }
    const guidance = o.guidance ?? (ca ? a.layout.ldSurgeon.guidanceScale ?? 7.5 : 1);
    const resolved = await resolveConditions(a, o.conditions ?? { kind: 'default' }, guidance);
    const base = { ...o, guidance, onProgress: undefined };
    const orig = await measureOn(a, { ...base, onProgress: o.onProgress && ((p) => o.onProgress!('original', p)) }, resolved);
    const cand = await measureOn(b, { ...base, onProgress: o.onProgress && ((p) => o.onProgress!('candidate', p)) }, resolved);
    return { original: orig, candidate: cand, latentDistance: latentDistance(orig, cand), seconds: (Date.now() - t0) / 1000, ...(executionProvider ? { executionProvider } : {}) };
  } finally {
    await a.release();
    await b.release();
  }
}
