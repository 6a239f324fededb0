// ld-surgeon measure PIPELINE: the pipeline's metric (FID/FAD, class accuracy; with n and spread) on it
// and on its original with the same seeds, noise and conditions, and LD-Pruner's distance between the
// two final-latent sets; a table, and quality.json written into the measured pipeline folder.
// --json prints one JSON object per line: progress events as the job runner reads them, then the record.
import type { Command } from 'commander';
import { PROPER_METRIC_SAMPLES } from '../../core/pipeline/metrics';
import { renderQuality, runMeasureJob } from '../../core/pipeline/measure-job';
import { choiceFlag, intFlag } from '../flags';
import { EP_CHOICES } from '../../core/scoring/settings';

interface MeasureFlags {
  against?: string;
  n: string;
  seed: string;
  steps?: string;
  batch: string;
  ep: string;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('measure')
    .description("measure a pipeline's quality metric against its original (paired seeds), and the latent distance between them; writes quality.json")
    .argument('<pipeline>', 'pipeline folder to measure (usually a pruned one)')
    .option('--against <original>', "pipeline folder to compare with (default: the original named by the pruned pipeline's unet/model.prune.json)")
    .option('--n <count>', 'samples of each pipeline', String(PROPER_METRIC_SAMPLES))
    .option('--seed <seed>', 'run seed; sample i uses seed + i in both pipelines', '0')
    .option('--steps <steps>', "inference steps (default: the pipeline's, else 25)")
    .option('--batch <size>', 'samples per U-Net call', '8')
    .option('--ep <provider>', `execution provider: ${EP_CHOICES.join(', ')} (auto: the first that loads the U-Net, CPU last)`, 'auto')
    .option('--json', 'JSON lines on stdout: {"type":"progress",...} while running, then {"type":"result","record":{...}}')
    .option('--quiet', 'no progress output')
    .action(async (pipeline: string, f: MeasureFlags) => {
      const n = intFlag('--n', f.n, 1)!;
      const seed = intFlag('--seed', f.seed, 0)!;
      const steps = intFlag('--steps', f.steps, 1);
      const batchSize = intFlag('--batch', f.batch, 1);
      const ep = choiceFlag('--ep', f.ep, EP_CHOICES);
      const tty = process.stderr.isTTY && !f.quiet && !f.json;
      const emit = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
      let lastJson = -1;
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        const record = await runMeasureJob({
          pipeline, against: f.against, n, seed, steps, batchSize, ep, signal: abort.signal,
          onProgress: f.json && !f.quiet
            ? (fraction, message) => {
                // one line per whole percent is plenty for a progress bar
                const pct = Math.floor(fraction * 100);
                if (pct === lastJson) return;
                lastJson = pct;
                emit({ type: 'progress', fraction, message });
              }
            : tty ? (fraction, message) => process.stderr.write(`\r\x1b[K${(100 * fraction).toFixed(0)}% ${message}`) : undefined,
        });
        if (tty) process.stderr.write('\r\x1b[K');
        if (f.json) {
          emit({ type: 'output', path: record.file });
          emit({ type: 'result', record });
        } else process.stdout.write(renderQuality(record) + '\n');
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
