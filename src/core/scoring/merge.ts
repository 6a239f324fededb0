// Merging shard score files: every shard scored its round-robin slice of the same candidate list with
// the same model, settings and L_orig, so the merged file is what one job would have written.
import { UserError } from '../errors';
import { SCORE_FORMAT, type ScoreFile, type ScoredCandidate } from './score-file';

export function mergeScoreFiles(files: readonly { path: string; file: ScoreFile }[]): ScoreFile {
  if (!files.length) throw new UserError('merge-scores: no score files given');
  const [first] = files;
  for (const { path, file } of files.slice(1)) {
    if (file.format !== SCORE_FORMAT) throw new UserError(`${path}: format ${file.format} is not ${SCORE_FORMAT}`, path);
    if (file.model.sha256 !== first.file.model.sha256) throw new UserError(`${path}: scores another model than ${first.path} (sha256 ${file.model.sha256.slice(0, 12)}… vs ${first.file.model.sha256.slice(0, 12)}…)`, path);
    if (file.compatibilityKey !== first.file.compatibilityKey) throw new UserError(`${path}: was scored with other settings or another execution provider than ${first.path}; shards must share them`, path);
    if (file.latents.sha256 !== first.file.latents.sha256) throw new UserError(`${path}: its L_orig differs from ${first.path}'s; the shards did not sample the same latents`, path);
  }
  const shards = new Set(files.map((f) => f.file.shard && `${f.file.shard.index}/${f.file.shard.count}`));
  if (shards.size !== files.length) throw new UserError(`merge-scores: the same shard is given twice (${files.map((f) => `${f.path}: ${f.file.shard ? `${f.file.shard.index + 1}/${f.file.shard.count}` : 'unsharded'}`).join(', ')})`);

  const merged = new Map<string, ScoredCandidate>();
  const order: string[] = [];
  for (const { path, file } of files) {
    for (const c of file.candidates) {
      const have = merged.get(c.id);
      if (!have) {
        merged.set(c.id, { ...c });
        order.push(c.id);
        continue;
      }
      if (c.status !== 'scored') continue;
      if (have.status === 'scored') {
        if (JSON.stringify(have.variants) !== JSON.stringify(c.variants)) throw new UserError(`${path}: candidate '${c.id}' has another score than in an earlier file`, path);
        continue;
      }
      merged.set(c.id, { ...c, latencyShare: c.latencyShare ?? have.latencyShare });
    }
  }
  const candidates = order.map((id) => {
    const c = merged.get(id)!;
    // what no shard scored stays pending, so a later unsharded run can fill it in
    return c.status === 'other-shard' || c.status === 'skipped' ? { ...c, status: 'pending' as const } : c;
  });
  const timing = files.reduce(
    (t, f) => ({ evaluations: t.evaluations + f.file.timing.evaluations, seconds: Math.max(t.seconds, f.file.timing.seconds), sessionsCreated: t.sessionsCreated + f.file.timing.sessionsCreated }),
    { evaluations: 0, seconds: 0, sessionsCreated: 0 },
  );
  const settings = { ...first.file.settings };
  delete settings.shard;
  return {
    ...first.file,
    updatedAt: '',
    settings,
    shard: undefined,
    complete: candidates.every((c) => c.status === 'scored' || c.status === 'unmodifiable'),
    timing: { ...timing, evalsPerSec: timing.seconds > 0 ? timing.evaluations / timing.seconds : 0 },
    candidates,
  };
}
