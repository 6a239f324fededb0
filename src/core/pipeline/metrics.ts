// The quality metric a pipeline ships in metrics/metric.json: decoded samples → its classifier
// → logits (class accuracy when the samples' classes are known) and features (Fréchet distance
// to the real-data statistics; called FID for images, FAD for audio, as the JSON names it).
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { mersenne } from 'pure-rand/generator/mersenne';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { UserError } from '../errors';
import { readNpyFloat64 } from '../npy';
import { fitGaussian, frechetDistance, type Gaussian } from './frechet';
import { floatTensor, inputInfo, outputInfo, readFloat } from './tensors';
import { readJson } from './tokenizers/files';

export interface MetricSpec {
  file: string;
  /** 'FID', 'FAD', ... */
  name: string;
  classifierPath: string;
  inputName?: string;
  /** decoded samples are clipped to this range before the classifier, when given */
  valueRange?: [number, number];
  logitsName: string;
  featuresName: string;
  real: Gaussian;
  note?: string;
}

export interface MetricResult {
  metric: string;
  /** the Fréchet distance to the real-data feature statistics */
  value: number;
  n: number;
  /** fraction of samples the classifier assigns to their conditioning class, when known */
  classAccuracy?: number;
  /** how many samples had a known class */
  labelled?: number;
  /** share of samples per predicted class */
  predictedClassHistogram: number[];
  /** entropy of that histogram in bits (low = mode collapse) */
  predictedClassEntropyBits: number;
  /** feature dimensions; with n ≤ featureDim the covariance is rank-deficient and the distance biased upward */
  featureDim: number;
  /**
   * the noise of `value`: its standard deviation over bootstrap resamples of the generated samples
   * (BOOTSTRAP_ROUNDS, seeded, so the same samples give the same spread); absent for very wide features
   */
  spread?: number;
  /** why this value is indicative only (too few samples for its feature dimensions, or too noisy); absent when it is not */
  indicative?: string;
  note?: string;
}

/** The n a quality measurement should have (paired seeds, before and after) to be more than indicative. */
export const PROPER_METRIC_SAMPLES = 200;
const BOOTSTRAP_ROUNDS = 30;
/** Above this many feature dimensions (Inception's 2048) a bootstrap of eigendecompositions costs too much. */
const BOOTSTRAP_MAX_DIM = 256;
/** A spread above this share of the value makes the value indicative only. */
const NOISY_SHARE = 0.1;

/**
 * The bootstrap standard deviation of the Fréchet distance: resample the n generated feature rows with
 * replacement and recompute. Resamples hold duplicates, so each is biased upward; the spread between
 * them is what says how much a second draw of n samples could move the number.
 */
function bootstrapSpread(features: Float32Array, n: number, dim: number, real: Gaussian): number {
  const rng = mersenne(0x5eed);
  const rows = new Float32Array(n * dim);
  const values: number[] = [];
  for (let r = 0; r < BOOTSTRAP_ROUNDS; r++) {
    for (let i = 0; i < n; i++) {
      const j = uniformInt(rng, 0, n - 1);
      rows.set(features.subarray(j * dim, (j + 1) * dim), i * dim);
    }
    values.push(frechetDistance(fitGaussian(rows, n, dim), real));
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
}

/** Why a value of `n` samples with this spread is indicative only, or undefined when it is not. */
export function indicativeReason(metric: string, n: number, featureDim: number, value: number, spread: number | undefined): string | undefined {
  if (n <= featureDim) return `only ${n} samples for ${featureDim} feature dimensions: the ${metric} is biased upward and noisy; measure with n ≥ ${Math.max(PROPER_METRIC_SAMPLES, featureDim + 1)}`;
  if (spread !== undefined && value > 0 && spread > NOISY_SHARE * value) return `±${spread.toPrecision(2)} on ${n} samples (more than ${100 * NOISY_SHARE}% of the value); measure with more samples`;
  if (n < PROPER_METRIC_SAMPLES && spread === undefined) return `only ${n} samples; measure with n ≥ ${PROPER_METRIC_SAMPLES}`;
  return undefined;
}

/** a path named inside metric.json, which must stay inside the metrics folder */
function inside(file: string, name: unknown, key: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new UserError(`${file}: "${key}" must name a file in ${dirname(file)}`, file);
  const dir = dirname(file);
  const p = resolve(dir, name);
  const rel = relative(dir, p);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new UserError(`${file}: "${key}" (${name}) points outside ${dir}`, file);
  if (!existsSync(p)) throw new UserError(`${file}: "${key}" names ${p}, which is missing`, file);
  return p;
}

export function readMetricSpec(file: string): MetricSpec {
  const j = readJson(file);
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new UserError(`${file}: expected a JSON object`, file);
  const m = j as Record<string, unknown>;
  const name = typeof m.metric === 'string' ? m.metric : 'FID';
  const input = (m.classifier_input ?? {}) as Record<string, unknown>;
  const range = input.value_range;
  const valueRange = Array.isArray(range) && range.length === 2 && range.every((v) => typeof v === 'number') ? (range as [number, number]) : undefined;
  const outputs = (m.classifier_outputs ?? {}) as Record<string, unknown>;
  const meanFile = inside(file, m.real_features_mean, 'real_features_mean');
  const covFile = inside(file, m.real_features_cov, 'real_features_cov');
  const mean = readNpyFloat64(meanFile);
  const cov = readNpyFloat64(covFile);
  const dim = mean.data.length;
  if (mean.shape.length !== 1 || cov.shape.length !== 2 || cov.shape[0] !== dim || cov.shape[1] !== dim) {
    throw new UserError(`${file}: real feature statistics do not fit: mean is [${mean.shape}], covariance [${cov.shape}]; expected [D] and [D, D]`, file);
  }
  return {
    file,
    name,
    classifierPath: inside(file, m.classifier, 'classifier'),
    inputName: typeof input.name === 'string' ? input.name : undefined,
    valueRange,
    logitsName: 'logits' in outputs || !Object.keys(outputs).length ? 'logits' : Object.keys(outputs)[0],
    featuresName: 'features',
    real: { mean: mean.data, cov: cov.data, dim },
    note: typeof m.note === 'string' ? m.note : undefined,
  };
}

export interface ClassifierOutputs {
  logits: Float32Array;
  classes: number;
  features: Float32Array;
  dim: number;
}

/** Runs the metric classifier over samples [n, ...] in batches. */
export async function classify(
  spec: MetricSpec,
  session: ort.InferenceSession,
  samples: Float32Array,
  shape: number[],
  batchSize = 64,
): Promise<ClassifierOutputs> {
  const inputs = inputInfo(session);
  const input = inputs.find((i) => i.name === spec.inputName) ?? inputs[0];
  const outs = outputInfo(session).map((o) => o.name);
  for (const name of [spec.logitsName, spec.featuresName]) {
    if (!outs.includes(name)) throw new UserError(`${spec.classifierPath}: the metric classifier has no output '${name}' (it has ${outs.join(', ')})`, spec.classifierPath);
  }
  const [n, ...item] = shape;
  const per = item.reduce((a, b) => a * b, 1);
  const fixed = input.shape?.[0];
  const chunk = typeof fixed === 'number' ? fixed : batchSize;
  const want = input.shape?.slice(1);
  if (want && want.some((d, i) => d !== null && d !== item[i])) {
    throw new UserError(`${spec.classifierPath}: the metric classifier takes [B, ${want.map((d) => d ?? '?')}], the decoded samples are [${item}]`, spec.classifierPath);
  }
  const buf = new Float32Array(chunk * per);
  let logits: Float32Array | undefined;
  let features: Float32Array | undefined;
  let classes = 0;
  let dim = 0;
  for (let s = 0; s < n; s += chunk) {
    const c = Math.min(chunk, n - s);
    const rows = typeof fixed === 'number' ? chunk : c;
    for (let j = 0; j < rows; j++) {
      const src = (s + Math.min(j, c - 1)) * per;
      for (let i = 0; i < per; i++) {
        let v = samples[src + i];
        if (spec.valueRange) v = Math.min(Math.max(v, spec.valueRange[0]), spec.valueRange[1]);
        buf[j * per + i] = v;
      }
    }
    const x = floatTensor(input.type, rows === chunk ? buf : buf.subarray(0, rows * per), [rows, ...item], `${spec.classifierPath} input`);
    const out = await session.run({ [input.name]: x }, [spec.logitsName, spec.featuresName]);
    const l = readFloat(out[spec.logitsName] as ort.Tensor, `${spec.classifierPath} logits`);
    const f = readFloat(out[spec.featuresName] as ort.Tensor, `${spec.classifierPath} features`);
    if (!logits) {
      classes = l.length / rows;
      dim = f.length / rows;
      logits = new Float32Array(n * classes);
      features = new Float32Array(n * dim);
    }
    logits.set(l.subarray(0, c * classes), s * classes);
    features!.set(f.subarray(0, c * dim), s * dim);
  }
  return { logits: logits!, classes, features: features!, dim };
}

/** Scores classifier outputs: Fréchet distance, and accuracy against `labels` (null = unknown). */
export function scoreOutputs(spec: MetricSpec, out: ClassifierOutputs, n: number, labels?: (number | null)[]): MetricResult {
  if (out.dim !== spec.real.dim) {
    throw new UserError(`${spec.file}: classifier features have ${out.dim} dimensions, the real statistics ${spec.real.dim}`, spec.file);
  }
  if (n < 2) throw new UserError(`the ${spec.name} needs at least 2 samples, got ${n}`);
  const value = frechetDistance(fitGaussian(out.features, n, out.dim), spec.real);
  const spread = out.dim <= BOOTSTRAP_MAX_DIM ? bootstrapSpread(out.features, n, out.dim, spec.real) : undefined;
  const hist = new Array<number>(out.classes).fill(0);
  let correct = 0;
  let labelled = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < out.classes; k++) if (out.logits[i * out.classes + k] > out.logits[i * out.classes + best]) best = k;
    hist[best]++;
    const label = labels?.[i];
    if (label !== null && label !== undefined) {
      labelled++;
      if (label === best) correct++;
    }
  }
  const shares = hist.map((h) => h / n);
  const entropy = -shares.reduce((acc, p) => (p > 0 ? acc + p * Math.log2(p) : acc), 0);
  const r: MetricResult = { metric: spec.name, value, n, predictedClassHistogram: shares, predictedClassEntropyBits: entropy, featureDim: out.dim, note: spec.note };
  if (spread !== undefined) r.spread = spread;
  const indicative = indicativeReason(spec.name, n, out.dim, value, spread);
  if (indicative) r.indicative = indicative;
  if (labelled > 0) {
    r.classAccuracy = correct / labelled;
    r.labelled = labelled;
  }
  return r;
}

export function formatMetric(r: MetricResult): string {
  let s = `${r.metric} ${r.value.toFixed(3)}${r.spread !== undefined ? ` ±${r.spread.toFixed(3)}` : ''} (n=${r.n})`;
  if (r.classAccuracy !== undefined) s += `, class accuracy ${(100 * r.classAccuracy).toFixed(1)}% (${r.labelled} labelled)`;
  s += `, predicted-class entropy ${r.predictedClassEntropyBits.toFixed(2)} bits`;
  if (r.indicative) s += ` — indicative only: ${r.indicative}`;
  return s;
}

