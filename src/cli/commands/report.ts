// ld-surgeon report PIPELINE [--n 200] [--k 2,4,8]: the method measured on a user's own pipeline —
// k lowest-scored vs k random vs k highest pruned, the score-formula ablation, Spearman ρ of score
// vs quality loss, the noise — written as report.md + report.json. Uses the pipeline's metric
// (metrics/metric.json) when it has one, else the latent distance only, and says so. Scores the
// pipeline first (quick preset) when it has no score file.
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../core/pipeline/output-files';
import { defaultReportDir } from '../../core/prune/calibration';
import { runScoreJob } from '../../core/scoring/job';
import { runQualityReport } from '../../core/scoring/quality-report';
import { renderQualityMarkdown } from '../../core/scoring/quality-report-format';
import { applyPreset, EP_CHOICES } from '../../core/scoring/settings';
import { defaultScoreFile, resolveTarget } from '../../core/scoring/target';
import { UserError } from '../../core/errors';
import { choiceFlag, intFlag, intListFlag } from '../flags';

interface Flags {
  n: string;
  k: string;
  steps?: string;
  seed: string;
  draws: string;
  noiseRepeats: string;
  scores?: string;
  out?: string;
  singles: boolean;
  latency: boolean;
  ep: string;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('report')
    .description("measure the method on a pipeline: k lowest-scored vs k random vs k highest pruned (paired seeds), the score-formula ablation and Spearman ρ of score vs quality loss; writes report.md and report.json")
    .argument('<pipeline>', 'pipeline folder (its metrics/metric.json is used when present)')
    .option('--n <samples>', 'samples per measurement (paired: the same seeds for every selection)', '200')
    .option('--k <list>', 'numbers of blocks to prune, comma-separated', '2,4,8')
    .option('--steps <t>', "denoising steps (default: the pipeline's)")
    .option('--seed <s>', 'run seed: sample i uses seed + i', '0')
    .option('--draws <r>', 'random selections per k', '5')
    .option('--noise-repeats <r>', 'disjoint sample sets the noise is measured on (1: none)', '3')
    .option('--scores <file>', 'score file (default: unet/model.ldscores.json; scored with the quick preset when missing)')
    .option('--out <dir>', 'folder for report.md and report.json (default: PIPELINE.report beside the pipeline)')
    .option('--no-singles', 'skip removing each candidate alone (no Spearman ρ; much faster)')
    .option('--no-latency', 'skip timing the pruned U-Nets')
    .option('--ep <provider>', `execution provider: ${EP_CHOICES.join(', ')}`, 'auto')
    .option('--json', 'print the report as JSON instead of Markdown')
    .option('--quiet', 'no progress output')
    .action(async (pipeline: string, f: Flags) => {
      const target = resolveTarget(pipeline);
      if (target.kind !== 'pipeline') throw new UserError(`${pipeline}: report needs a pipeline folder (model_index.json with a unet/)`, pipeline);
      const ks = intListFlag('--k', f.k, 1);
      const ep = choiceFlag('--ep', f.ep, EP_CHOICES);
      const n = intFlag('--n', f.n, 2)!;
      const folder = resolve(target.pipeline!);
      const outDir = f.out ? resolve(f.out) : defaultReportDir(folder);
      const say = (line: string) => { if (!f.quiet) process.stderr.write(line + '\n'); };
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        let scoresFile = f.scores;
        if (!scoresFile && !existsSync(defaultScoreFile(target.modelPath))) {
          scoresFile = defaultScoreFile(target.modelPath);
          say(`${scoresFile}: no score file; scoring first with the quick preset (blocks, 8 samples × 10 steps)`);
          await runScoreJob({ target: pipeline, settings: { ...applyPreset('quick', {}), ep }, out: scoresFile, signal: abort.signal });
        }
        const report = await runQualityReport({
          pipeline, scoresFile, ks, randomDraws: intFlag('--draws', f.draws, 1), noiseRepeats: intFlag('--noise-repeats', f.noiseRepeats, 1),
          singles: f.singles, latency: f.latency ? { seconds: 2, minRuns: 10 } : false,
          settings: { samples: n, steps: intFlag('--steps', f.steps, 1), seed: intFlag('--seed', f.seed), ep },
          signal: abort.signal,
          onProgress: f.quiet ? undefined : (done, total, what) => process.stderr.write(`${process.stderr.isTTY ? '\r' : ''}${done}/${total} ${what}${process.stderr.isTTY ? '          ' : '\n'}`),
        });
        if (!f.quiet && process.stderr.isTTY) process.stderr.write('\n');
        const md = renderQualityMarkdown(report, basename(folder));
        mkdirSync(outDir, { recursive: true });
        writeFileAtomic(join(outDir, 'report.json'), JSON.stringify(report, null, 1) + '\n');
        writeFileAtomic(join(outDir, 'report.md'), `# Quality report: ${basename(folder)}\n\n${md}`);
        process.stdout.write(f.json ? JSON.stringify(report, null, 2) + '\n' : md);
        say(`written: ${join(outDir, 'report.md')}, ${join(outDir, 'report.json')}`);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
