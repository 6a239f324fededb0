// Suggestions come from the scores there are. While a scoring job runs, or after one was cancelled,
// those are partial: the candidates not scored yet were never considered. A prune applied on them says
// so and asks first (graph/graphActions.ts). No vscode here, so the rule is tested on its own.
import { readScoreFileIfPresent } from '../../core/scoring/score-file';
import { defaultScoreFile } from '../../core/scoring/target';

/** Why the scores of `modelPath` are partial ('12 of 32 candidates scored; scoring is still running'), or undefined. */
export function partialScores(modelPath: string, running: boolean): string | undefined {
  let file;
  try {
    file = readScoreFileIfPresent(defaultScoreFile(modelPath));
  } catch {
    file = undefined;
  }
  const modifiable = file?.candidates.filter((c) => c.status !== 'unmodifiable') ?? [];
  const scored = modifiable.filter((c) => c.status === 'scored').length;
  const counts = file ? `${scored} of ${modifiable.length} candidates scored` : 'no score file yet';
  if (running) return `${counts}; scoring is still running`;
  if (file && !file.complete) return `${counts}; scoring was cancelled or stopped before the end`;
  return undefined;
}
