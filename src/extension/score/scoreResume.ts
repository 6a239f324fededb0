// Whether an ended scoring job can be resumed from the Jobs view: it was cancelled (or failed) and its
// score file still has candidates to score. Scoring resumes by itself: a run with the same settings keeps
// the score file's results and scores only what is pending (src/core/scoring/job.ts), so Resume re-runs
// the job's recorded settings.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { readScoreFileIfPresent } from '../../core/scoring/score-file';
import { defaultScoreFile, resolveTarget } from '../../core/scoring/target';
import { SETTINGS_FILE, type JobStatus } from '../jobs/runFolder';

/** The pending candidates of the score file a cancelled/failed scoring job in `dir` left; 0 when it cannot resume. */
export function pendingScores(dir: string, status: Pick<JobStatus, 'kind' | 'state'>): number {
  if (status.kind !== 'score' || (status.state !== 'cancelled' && status.state !== 'failed')) return 0;
  try {
    const settings = JSON.parse(readFileSync(path.join(dir, SETTINGS_FILE), 'utf8')) as { target?: unknown; options?: { settings?: { out?: unknown } } };
    if (typeof settings.target !== 'string') return 0;
    const out = settings.options?.settings?.out;
    const file = readScoreFileIfPresent(typeof out === 'string' ? out : defaultScoreFile(resolveTarget(settings.target).modelPath));
    return file?.candidates.filter((c) => c.status === 'pending').length ?? 0;
  } catch {
    // a run folder or target that is gone: nothing to resume
    return 0;
  }
}
