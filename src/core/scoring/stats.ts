// LD-Pruner's statistics: per latent element, the mean and standard deviation over the sample axis;
// a candidate's distances are the L2 norms (not squared) of the differences of those vectors.
export type ScoreVariant = 'avg' | 'std' | 'avg+std' | 'avg*std';
export const VARIANTS: readonly ScoreVariant[] = ['avg', 'std', 'avg+std', 'avg*std'];

export interface LatentStats {
  /** samples */
  n: number;
  /** elements per sample */
  dim: number;
  mean: Float64Array;
  /** population standard deviation (divides by N) */
  std: Float64Array;
}

/** Mean and std over the sample axis of latents laid out [n, dim]. Two passes, in float64. */
export function latentStats(latents: Float32Array, n: number): LatentStats {
  if (!(n >= 1) || latents.length % n !== 0) throw new Error(`latents of length ${latents.length} do not split into ${n} samples`);
  const dim = latents.length / n;
  const mean = new Float64Array(dim);
  for (let s = 0; s < n; s++) {
    const row = s * dim;
    for (let i = 0; i < dim; i++) mean[i] += latents[row + i];
  }
  for (let i = 0; i < dim; i++) mean[i] /= n;
  const std = new Float64Array(dim);
  for (let s = 0; s < n; s++) {
    const row = s * dim;
    for (let i = 0; i < dim; i++) {
      const d = latents[row + i] - mean[i];
      std[i] += d * d;
    }
  }
  for (let i = 0; i < dim; i++) std[i] = Math.sqrt(std[i] / n);
  return { n, dim, mean, std };
}

export interface Distances {
  /** ‖mean(L_orig) − mean(L_mod)‖₂ */
  avg: number;
  /** ‖std(L_orig) − std(L_mod)‖₂ */
  std: number;
}

function l2(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

export function distances(orig: LatentStats, mod: LatentStats): Distances {
  if (orig.dim !== mod.dim) throw new Error(`latent sizes differ: ${orig.dim} vs ${mod.dim}`);
  return { avg: l2(orig.mean, mod.mean), std: l2(orig.std, mod.std) };
}

/** Every variant of the score; lower = less important. Non-finite latents give Infinity. */
export function variants(d: Distances): Record<ScoreVariant, number> {
  const fix = (x: number) => (Number.isNaN(x) ? Infinity : x);
  const avg = fix(d.avg);
  const std = fix(d.std);
  return { avg, std, 'avg+std': avg + std, 'avg*std': avg * std };
}

/** Summary of L_orig kept in the score file: enough to see what was scored, small for any model. */
export function summarize(s: LatentStats): { samples: number; elements: number; meanOfMean: number; rmsOfMean: number; meanOfStd: number; l2OfMean: number; l2OfStd: number } {
  let m = 0;
  let m2 = 0;
  let sd = 0;
  let sd2 = 0;
  for (let i = 0; i < s.dim; i++) {
    m += s.mean[i];
    m2 += s.mean[i] * s.mean[i];
    sd += s.std[i];
    sd2 += s.std[i] * s.std[i];
  }
  return {
    samples: s.n,
    elements: s.dim,
    meanOfMean: m / s.dim,
    rmsOfMean: Math.sqrt(m2 / s.dim),
    meanOfStd: sd / s.dim,
    l2OfMean: Math.sqrt(m2),
    l2OfStd: Math.sqrt(sd2),
  };
}

/** Spearman rank correlation of two equally long score lists (average ranks for ties). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error('spearman: lists differ in length');
  const n = a.length;
  if (n < 2) return NaN;
  const ra = ranks(a);
  const rb = ranks(b);
  const ma = ra.reduce((s, x) => s + x, 0) / n;
  const mb = rb.reduce((s, x) => s + x, 0) / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i] - ma) * (rb[i] - mb);
    da += (ra[i] - ma) ** 2;
    db += (rb[i] - mb) ** 2;
  }
  return da === 0 || db === 0 ? NaN : num / Math.sqrt(da * db);
}

function ranks(v: readonly number[]): number[] {
  const idx = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
  const r = new Array<number>(v.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1][0] === idx[i][0]) j++;
    for (let k = i; k <= j; k++) r[idx[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}
