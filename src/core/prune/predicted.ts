// The predicted quality drop of a prune set, before anything is built: the sum of the set's latent
// scores (what LD-Pruner ranks by) and, when the pipeline has a calibration (each candidate's score
// beside the metric drop measured when it was removed alone, from `ld-surgeon report`), the metric
// drop a least-squares line through the origin predicts for that sum. Pure: the graph view imports it.
import { spearman } from '../scoring/stats';

/** One candidate's latent score and the quality drop measured when it alone was removed. */
export interface CalibrationPoint {
  id: string;
  score: number;
  drop: number;
}

export interface Calibration {
  /** the file the points come from (report.json) */
  source: string;
  /** what the drop is measured in: the pipeline's metric (FID / FAD) or 'latent distance' */
  metric: string;
  /** the score formula the points' scores were computed with */
  variant?: string;
  /** samples per measurement */
  samples?: number;
  points: CalibrationPoint[];
}

export interface CalibrationFit {
  /** metric drop per latent-score unit */
  slope: number;
  n: number;
  /** Spearman ρ of score vs measured drop over the points */
  rho: number;
}

export interface PredictedDrop {
  /** sum of the set's candidate scores (latent-score units) */
  latentScore: number;
  /** candidates of the set with a score (the rest are not in the sum) */
  scored: number;
  unscored: string[];
  /** the calibrated prediction, when there is a calibration */
  metric?: { name: string; drop: number; source: string; samples?: number } & CalibrationFit;
  /** why there is no metric prediction */
  note?: string;
}

export const UNCALIBRATED_NOTE = 'latent units only; run ld-surgeon report for a metric prediction';

/**
 * Least squares through the origin (drop = slope · score): a prune that changes nothing drops nothing,
 * so an intercept would only absorb noise. Written out because it is two sums.
 */
export function fitThroughOrigin(points: readonly { score: number; drop: number }[]): CalibrationFit | undefined {
  const usable = points.filter((p) => Number.isFinite(p.score) && Number.isFinite(p.drop));
  const sxx = usable.reduce((s, p) => s + p.score * p.score, 0);
  if (usable.length < 2 || !(sxx > 0)) return undefined;
  const sxy = usable.reduce((s, p) => s + p.score * p.drop, 0);
  return { slope: sxy / sxx, n: usable.length, rho: spearman(usable.map((p) => p.score), usable.map((p) => p.drop)) };
}

/** The predicted drop of removing `ids` together, from the candidates' scores (and a calibration when given). */
export function predictDrop(
  candidates: readonly { id: string; score: number | null }[],
  ids: readonly string[],
  calibration?: Calibration,
): PredictedDrop {
  const scoreOf = new Map(candidates.map((c) => [c.id, c.score]));
  let latentScore = 0;
  let scored = 0;
  const unscored: string[] = [];
  for (const id of ids) {
    const s = scoreOf.get(id);
    if (typeof s === 'number' && Number.isFinite(s)) {
      latentScore += s;
      scored++;
    } else unscored.push(id);
  }
  const out: PredictedDrop = { latentScore, scored, unscored };
  const fit = calibration ? fitThroughOrigin(calibration.points) : undefined;
  if (calibration && fit) {
    out.metric = { name: calibration.metric, drop: fit.slope * latentScore, source: calibration.source, ...(calibration.samples ? { samples: calibration.samples } : {}), ...fit };
  } else {
    out.note = calibration
      ? `latent units only: ${calibration.source} has fewer than 2 usable single-candidate measurements to fit`
      : UNCALIBRATED_NOTE;
  }
  return out;
}

const num = (x: number) => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toFixed(4));

/** "latent score 0.0123 (sum of 3) · predicted FID +1.20 (fit n=12, ρ 0.81)" or the uncalibrated note. */
export function describePredicted(p: PredictedDrop): string {
  const latent = `latent score ${num(p.latentScore)} (sum of ${p.scored}${p.unscored.length ? `; ${p.unscored.length} unscored not counted` : ''})`;
  if (!p.metric) return `${latent} · ${p.note ?? UNCALIBRATED_NOTE}`;
  const m = p.metric;
  const rho = Number.isFinite(m.rho) ? m.rho.toFixed(2) : 'n/a';
  return `${latent} · predicted ${m.name} ${m.drop >= 0 ? '+' : '−'}${Math.abs(m.drop).toFixed(3)} (fit through the origin, n=${m.n}, ρ ${rho})`;
}
