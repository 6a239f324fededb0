// Where a pipeline's calibration comes from: the report.json `ld-surgeon report` writes (by default
// PIPELINE.report/ beside the pipeline), whose faithfulness singles hold each candidate's score and
// the quality drop measured when it alone was removed.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors';
import { QUALITY_REPORT_SCHEMA } from '../scoring/quality-report';
import { predictDrop, UNCALIBRATED_NOTE, type Calibration, type CalibrationFit, type PredictedDrop } from './predicted';

/** The folder `ld-surgeon report PIPELINE` writes to unless told otherwise. */
export function defaultReportDir(pipeline: string): string {
  const folder = resolve(pipeline);
  return join(dirname(folder), `${basename(folder)}.report`);
}

/**
 * The calibration in report.json at `path`. Undefined when the report has no per-candidate
 * measurements (run with --no-singles); a file that is not a quality report is a UserError naming it.
 */
export function readCalibration(path: string): Calibration | undefined {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new UserError(`${path}: not a readable quality report (${(e as Error).message})`, path);
  }
  if (!j || j.schema !== QUALITY_REPORT_SCHEMA) throw new UserError(`${path}: not a quality report (expected schema ${QUALITY_REPORT_SCHEMA}, found ${JSON.stringify(j?.schema)})`, path);
  const f = j.faithfulness as { singles?: unknown } | undefined;
  if (!f) return undefined;
  if (!Array.isArray(f.singles)) throw new UserError(`${path}: faithfulness.singles must be a list of {id, score, loss}`, path);
  const points = f.singles.map((s: { id?: unknown; score?: unknown; loss?: unknown }, i: number) => {
    if (typeof s?.id !== 'string' || typeof s.score !== 'number' || typeof s.loss !== 'number') {
      throw new UserError(`${path}: faithfulness.singles[${i}] needs a string id and numeric score and loss`, path);
    }
    return { id: s.id, score: s.score, drop: s.loss };
  });
  const scoring = j.scoring as { variant?: unknown } | undefined;
  return {
    source: path,
    metric: typeof j.quality === 'string' ? j.quality : 'quality',
    ...(typeof scoring?.variant === 'string' ? { variant: scoring.variant } : {}),
    ...(typeof j.samples === 'number' ? { samples: j.samples } : {}),
    points,
  };
}

/** The calibration of `pipeline` from its default report.json, when `ld-surgeon report` has run on it. */
export function pipelineCalibration(pipeline: string): Calibration | undefined {
  const path = join(defaultReportDir(pipeline), 'report.json');
  return existsSync(path) ? readCalibration(path) : undefined;
}

/**
 * The calibration a prune of `pipeline` ranked by `scoreVariant` can use, or why there is none usable
 * (no report, fitted on another score formula, a broken report.json). Never throws: the prediction
 * is advice, so a bad report is said in the note rather than failing the prune or the view.
 */
export function usableCalibration(pipeline: string | undefined, scoreVariant: string | undefined): { calibration?: Calibration; problem?: string } {
  if (!pipeline) return {};
  try {
    const calibration = pipelineCalibration(pipeline);
    if (calibration && scoreVariant && calibration.variant && calibration.variant !== scoreVariant) {
      return { problem: `latent units only: ${calibration.source} was fitted on ${calibration.variant} scores, this prune ranked by ${scoreVariant}; run ld-surgeon report again` };
    }
    return { calibration };
  } catch (e) {
    return { problem: `latent units only: ${(e as Error).message}` };
  }
}

/** The fit the graph view multiplies the accepted set's score sum by, or the note it shows instead. */
export function calibrationForView(pipeline: string | undefined, scoreVariant: string | undefined): { fit?: CalibrationFit & { metric: string; source: string }; note: string } {
  const { calibration, problem } = usableCalibration(pipeline, scoreVariant);
  const p = predictDrop([{ id: 'unit', score: 1 }], ['unit'], calibration);
  if (problem) return { note: problem };
  if (!p.metric) return { note: p.note ?? UNCALIBRATED_NOTE };
  const { slope, n, rho, name, source } = p.metric;
  return { fit: { slope, n, rho, metric: name, source }, note: `fit through the origin over ${n} single-candidate drops in ${source}` };
}

/** The predicted drop a prune records: `removed` with their scores, calibrated by the pipeline's report.json when usable. */
export function predictForPrune(removed: readonly { id: string; score: number | null }[], pipeline: string | undefined, scoreVariant: string | undefined): PredictedDrop {
  const { calibration, problem } = usableCalibration(pipeline, scoreVariant);
  const p = predictDrop(removed, removed.map((c) => c.id), calibration);
  if (problem) p.note = problem;
  return p;
}
