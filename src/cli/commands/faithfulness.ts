// ld-surgeon faithfulness PIPELINE [--k 2,4,8] [--scores FILE]: does the latent score predict the
// pipeline's quality metric? Prunes (via gates) the k lowest, k random and k highest candidates.
import type { Command } from 'commander';
import { renderFaithfulness, runFaithfulness } from '../../core/scoring/faithfulness';
import { addSamplingOptions, samplingSettings, type SamplingFlags } from './score';
import { intFlag, intListFlag } from '../flags';

interface Flags extends SamplingFlags {
  k: string;
  scores?: string;
  repeats: string;
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('faithfulness')
    .description("check that pruning the lowest-scored candidates hurts the pipeline's quality metric less than random or highest-scored ones")
    .argument('<pipeline>', 'pipeline folder with metrics/metric.json');
  addSamplingOptions(cmd, { samples: 100, steps: 25 })
    .option('--k <list>', 'numbers of candidates to prune, comma-separated', '2,4,8')
    .option('--scores <file>', 'score file (default: unet/model.ldscores.json of the pipeline)')
    .option('--repeats <n>', 'random selections per k', '3')
    .option('--out <file>', 'also write the report as JSON')
    .option('--json', 'print the report as JSON')
    .option('--quiet', 'no progress output')
    .action(async (pipeline: string, f: Flags) => {
      const ks = intListFlag('--k', f.k, 1);
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        const report = await runFaithfulness({
          pipeline, ks, scoresFile: f.scores, randomRepeats: intFlag('--repeats', f.repeats, 1), settings: samplingSettings(f), out: f.out,
          signal: abort.signal,
          onProgress: f.quiet ? undefined : (done, total, what) => process.stderr.write(`${process.stderr.isTTY ? '\r' : ''}${done}/${total} ${what}${process.stderr.isTTY ? '          ' : '\n'}`),
        });
        if (!f.quiet && process.stderr.isTTY) process.stderr.write('\n');
        process.stdout.write(f.json ? JSON.stringify(report, null, 2) + '\n' : renderFaithfulness(report) + '\n');
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
