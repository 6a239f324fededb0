// The Fréchet distance between two Gaussians (FID / FAD):
//   d² = ‖μ1 − μ2‖² + Tr(S1) + Tr(S2) − 2·Tr((S1·S2)^½).
// Tr((S1·S2)^½) equals Tr((√S1·S2·√S1)^½), and √S1·S2·√S1 is symmetric positive semi-definite,
// so both square roots come from symmetric eigendecompositions (ml-matrix), with round-off
// negatives clamped to 0 — stable where the general sqrtm of S1·S2 can go complex.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

export interface Gaussian {
  mean: Float64Array;
  /** d×d, row-major */
  cov: Float64Array;
  dim: number;
}

/** Mean and covariance (N − 1 normalisation, like np.cov) of rows [n, dim]. */
export function fitGaussian(rows: ArrayLike<number>, n: number, dim: number): Gaussian {
  if (n < 2) throw new Error(`a covariance needs at least 2 samples, got ${n}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += rows[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= n;
  const cov = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) c[j] = rows[i * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      const ca = c[a];
      if (ca === 0) continue;
      for (let b = a; b < dim; b++) cov[a * dim + b] += ca * c[b];
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = cov[a * dim + b] / (n - 1);
      cov[a * dim + b] = v;
      cov[b * dim + a] = v;
    }
  }
  return { mean, cov, dim };
}

function toMatrix(data: Float64Array, dim: number): Matrix {
  const m = new Matrix(dim, dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) m.set(i, j, data[i * dim + j]);
  return m;
}

function symmetricEig(m: Matrix): { values: number[]; vectors: Matrix } {
  const sym = m.add(m.transpose()).mul(0.5);
  const e = new EigenvalueDecomposition(sym, { assumeSymmetric: true });
  return { values: e.realEigenvalues, vectors: e.eigenvectorMatrix };
}

/** √S for a symmetric positive semi-definite S */
function sqrtPsd(m: Matrix): Matrix {
  const { values, vectors } = symmetricEig(m);
  const scaled = vectors.clone();
  for (let j = 0; j < values.length; j++) {
    const s = Math.sqrt(Math.max(values[j], 0));
    for (let i = 0; i < scaled.rows; i++) scaled.set(i, j, scaled.get(i, j) * s);
  }
  return scaled.mmul(vectors.transpose());
}

export function frechetDistance(a: Gaussian, b: Gaussian): number {
  if (a.dim !== b.dim) throw new Error(`feature dimensions differ: ${a.dim} vs ${b.dim}`);
  const d = a.dim;
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mean[i] - b.mean[i]) ** 2;
  let traces = 0;
  for (let i = 0; i < d; i++) traces += a.cov[i * d + i] + b.cov[i * d + i];
  const s1 = toMatrix(a.cov, d);
  const s2 = toMatrix(b.cov, d);
  const r = sqrtPsd(s1);
  const inner = r.mmul(s2).mmul(r);
  const traceSqrt = symmetricEig(inner).values.reduce((acc, v) => acc + Math.sqrt(Math.max(v, 0)), 0);
  return meanTerm + traces - 2 * traceSqrt;
}
