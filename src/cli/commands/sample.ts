// ld-surgeon sample PIPELINE: generate samples with the pipeline's U-Net (DDIM/DDPM), decode
// them, score them with the pipeline's metric and write samples.png / samples.npy / latents.npy /
// conditions.json / metrics.json into --out.
import type { Command } from 'commander';
import { conditionInputFromSpec, conditionSpecFromFlags } from '../../core/pipeline/conditions';
import { runSampleJob } from '../../core/pipeline/sample-job';
import { choiceFlag, SCHEDULERS, intFlag, numFlag, repeatable } from '../flags';
import { EP_CHOICES } from '../../core/scoring/settings';
import { describeEp } from '../../core/scoring/ep';

interface SampleFlags {
  out: string;
  n?: string;
  seed: string;
  steps?: string;
  scheduler?: string;
  eta?: string;
  guidance?: string;
  prompt: string[];
  promptsFile?: string;
  conditionIds?: string;
  conditions?: string;
  noise?: string;
  batch: string;
  ep: string;
  height?: string;
  width?: string;
  metrics: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('sample')
    .description('generate samples from a diffusion pipeline folder and score them with its metric')
    .argument('<pipeline>', 'pipeline folder (model_index.json, unet/, vae_decoder/, scheduler/, ...)')
    .requiredOption('--out <dir>', 'output folder (created if needed)')
    .option('--n <count>', 'number of samples (default 16, or the count in --noise)')
    .option('--seed <seed>', 'run seed; sample i uses seed + i', '0')
    .option('--steps <steps>', 'inference steps (default: the pipeline\'s, else 25)')
    .option('--scheduler <name>', `${SCHEDULERS.join(', ')} (default: pipeline, the class in scheduler_config.json; classes we do not run fall back to DDIM with a warning)`)
    .option('--eta <eta>', 'DDIM eta (0 = deterministic)')
    .option('--guidance <scale>', 'classifier-free guidance scale (conditional pipelines)')
    .option('--prompt <text>', 'a prompt (repeatable; cycled over the samples)', repeatable, [] as string[])
    .option('--prompts-file <file>', 'a text file of prompts, one per line (# comments)')
    .option('--condition-ids <rows>', 'token id rows, e.g. "1,5,7;1,5,8" (padded to the tokenizer length)')
    .option('--conditions <file.npy>', 'precomputed encoder hidden states [N, L, D]')
    .option('--noise <file.npy>', 'initial latents [N, C, H, W] instead of seeded noise')
    .option('--batch <size>', 'samples per U-Net call', '8')
    .option('--ep <provider>', `execution provider: ${EP_CHOICES.join(', ')} (auto: the first that loads the U-Net, CPU last)`, 'auto')
    .option('--height <px>', 'sample height in pixels, when the U-Net input is dynamic')
    .option('--width <px>', 'sample width in pixels, when the U-Net input is dynamic')
    .option('--no-metrics', 'skip the pipeline\'s quality metric')
    .option('--quiet', 'no progress output')
    .action(async (pipeline: string, f: SampleFlags) => {
      const conditions = conditionInputFromSpec(conditionSpecFromFlags(f));
      const scheduler = choiceFlag('--scheduler', f.scheduler, SCHEDULERS);
      const eta = numFlag('--eta', f.eta, { min: 0 });
      const seed = intFlag('--seed', f.seed, 0)!;
      const ep = choiceFlag('--ep', f.ep, EP_CHOICES);
      const tty = process.stderr.isTTY && !f.quiet;
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        const r = await runSampleJob({
          pipeline,
          out: f.out,
          n: intFlag('--n', f.n, 1),
          seed,
          steps: intFlag('--steps', f.steps, 1),
          scheduler,
          eta,
          guidance: numFlag('--guidance', f.guidance),
          conditions,
          noiseFile: f.noise,
          batchSize: intFlag('--batch', f.batch, 1),
          ep,
          height: intFlag('--height', f.height, 1),
          width: intFlag('--width', f.width, 1),
          noMetrics: !f.metrics,
          signal: abort.signal,
          onWarning: (line) => process.stderr.write(`${line}\n`),
          onProgress: tty
            ? (p) => process.stderr.write(p.phase === 'denoise'
                ? `\rbatch ${p.batch}/${p.batches}  step ${p.step}/${p.steps}   `
                : `\rdecoding ${p.batch}/${p.batches}            `)
            : undefined,
        });
        if (tty) process.stderr.write('\n');
        if (r.executionProvider) console.log(`execution provider: ${describeEp(r.executionProvider)}`);
        if (r.metricLine) console.log(r.metricLine);
        console.log(`wrote ${r.files.length} files to ${f.out} (${r.latentShape[0]} samples, latents [${r.latentShape.slice(1)}], ${r.seconds.toFixed(1)} s)`);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
