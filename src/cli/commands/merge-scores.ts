// ld-surgeon merge-scores FILES... --out FILE: joins the score files of sharded jobs (--shard i/n).
import type { Command } from 'commander';
import { acquireLock } from '../../core/job-lock';
import { mergeScoreFiles } from '../../core/scoring/merge';
import { readScoreFile, writeScoreFile } from '../../core/scoring/score-file';

export function register(program: Command): void {
  program
    .command('merge-scores')
    .description('merge the score files of sharded scoring jobs (score --shard i/n) into one')
    .argument('<files...>', 'shard score files (*.ldscores.shard-i-of-n.json)')
    .requiredOption('--out <file>', 'merged score file (e.g. unet/model.ldscores.json)')
    .action(async (paths: string[], f: { out: string }) => {
      // refuses while a score job writes --out (it would overwrite the merge at its next save)
      const lock = await acquireLock(f.out, `merge-scores → ${f.out}`);
      let merged;
      try {
        merged = mergeScoreFiles(paths.map((path) => ({ path, file: readScoreFile(path) })));
        writeScoreFile(f.out, merged);
      } finally {
        lock.release();
      }
      const scored = merged.candidates.filter((c) => c.status === 'scored').length;
      const pending = merged.candidates.filter((c) => c.status === 'pending').length;
      process.stdout.write(`merged ${paths.length} files: ${scored} scored, ${pending} not scored by any shard${merged.complete ? '' : ' (incomplete)'} → ${f.out}\n`);
      if (!merged.complete) process.exitCode = 3;
    });
}
