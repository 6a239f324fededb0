// ld-surgeon score MODEL_OR_PIPELINE: LD-Pruner scores for every candidate, computed in the scoring
// worker (a forked process), written incrementally to MODEL.ldscores.json; prints progress and the
// ranking. Ctrl-C stops cleanly (the file stays resumable); the same command resumes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fallbackWarning, readSchedulerConfig, resolveScheduler } from '../../core/pipeline/schedulers';
import type { Command } from 'commander';
import { CancelledError } from '../../core/errors';
import { conditionInputFromSpec, conditionSpecFromFlags } from '../../core/pipeline/conditions';
import { ScoringClient } from '../../worker/client';
import { renderIterative, renderRanking } from '../../core/scoring/format';
import { ranked, readScoreFile } from '../../core/scoring/score-file';
import { applyPreset, DEFAULT_PRESET, EP_CHOICES, parseBudget, parsePreset, parseShard, SCORE_PRESETS, type OptLevel, type ScorePreset, type ScoreSettings } from '../../core/scoring/settings';
import { describeEstimate, estimateScoring, fitPresetGranularity } from '../../core/scoring/estimate';
import { VARIANTS } from '../../core/scoring/stats';
import { choiceFlag, GRANULARITIES, SCHEDULERS, inputShapesFlag, intFlag, numFlag, repeatable } from '../flags';

export interface SamplingFlags {
  samples?: string;
  steps?: string;
  scheduler?: string;
  eta?: string;
  seed?: string;
  guidance?: string;
  prompt: string[];
  promptsFile?: string;
  conditionIds?: string;
  conditions?: string;
  batch?: string;
  ep: string;
  input: string[];
}

/** The sampling options score and faithfulness share. */
/** Sampling options; `defaults` left out (score) leave samples and steps to the chosen --preset. */
export function addSamplingOptions(cmd: Command, defaults: { samples?: number; steps?: number } = {}): Command {
  return cmd
    .option('--samples <n>', `samples per latent set (N)${defaults.samples === undefined ? '; default: the preset\'s' : ''}`, defaults.samples === undefined ? undefined : String(defaults.samples))
    .option('--steps <t>', `denoising steps (T)${defaults.steps === undefined ? '; default: the preset\'s' : ''}`, defaults.steps === undefined ? undefined : String(defaults.steps))
    .option('--scheduler <name>', `${SCHEDULERS.join(', ')} (default: pipeline, the class in scheduler_config.json; classes we do not run fall back to DDIM with a warning)`, 'pipeline')
    .option('--eta <eta>', 'DDIM eta (0: deterministic)')
    .option('--seed <s>', 'run seed: sample i uses seed + i', '0')
    .option('--guidance <g>', "classifier-free guidance scale (default: the pipeline's)")
    .option('--prompt <text>', 'a condition prompt (repeatable; default: the pipeline\'s prompt set)', repeatable, [] as string[])
    .option('--prompts-file <file>', 'a text file of prompts, one per line (# comments)')
    .option('--condition-ids <rows>', 'token id rows instead of prompts, e.g. "1,5,7;1,5,8"')
    .option('--conditions <file.npy>', 'encoder hidden states [N, L, D] instead of prompts')
    .option('--batch <size>', 'samples per U-Net call (default: all N at once)')
    .option('--ep <provider>', `execution provider: ${EP_CHOICES.join(', ')}`, 'auto')
    .option('--input <name=dims>', 'dims of an input of a bare .onnx model, e.g. x=1,3,32,32 (repeatable)', repeatable, [] as string[]);
}

export function samplingSettings(f: SamplingFlags): Partial<ScoreSettings> {
  const conditions = conditionInputFromSpec(conditionSpecFromFlags(f));
  const ep = choiceFlag('--ep', f.ep, EP_CHOICES);
  const scheduler = choiceFlag('--scheduler', f.scheduler, SCHEDULERS);
  const inputs = inputShapesFlag(f.input);
  const seed = intFlag('--seed', f.seed);
  return {
    samples: intFlag('--samples', f.samples, 2),
    steps: intFlag('--steps', f.steps, 1),
    scheduler,
    eta: numFlag('--eta', f.eta),
    seed,
    guidance: numFlag('--guidance', f.guidance),
    conditions,
    batchSize: intFlag('--batch', f.batch, 1),
    ep,
    inputs: Object.keys(inputs).length ? inputs : undefined,
  };
}

interface ScoreFlags extends SamplingFlags {
  granularity?: string;
  preset: string;
  estimate?: boolean;
  variant: string;
  iterative?: string | boolean;
  shard?: string;
  only?: string;
  out?: string;
  workDir?: string;
  wait?: boolean;
  verifyExact?: boolean;
  profile: boolean;
  optLevel: string;
  top: string;
  json?: boolean;
  quiet?: boolean;
}

const presetText = (p: ScorePreset) => {
  const x = SCORE_PRESETS[p];
  return `${x.granularity === 'both' ? 'blocks and layers' : `${x.granularity}s`}, ${x.samples} samples × ${x.steps} steps`;
};

export function register(program: Command): void {
  const cmd = program
    .command('score')
    .description('score every operator of a diffusion U-Net by how much removing it changes the generated latents (LD-Pruner)')
    .argument('<model>', 'pipeline folder, or an .onnx model (a bare model gets one forward pass on seeded random inputs)');
  addSamplingOptions(cmd)
    .option('--preset <name>', `how much work: quick (${presetText('quick')}; about a minute on the shipped examples) or thorough (${presetText('thorough')}); --samples, --steps, --granularity override it`, DEFAULT_PRESET)
    .option('--granularity <g>', "block, layer or both (default: the preset's)")
    .option('--estimate', 'print the evaluation count and the estimated time, and exit without scoring')
    .option('--variant <v>', `score formula: ${VARIANTS.join(', ')}`, 'avg+std')
    .option('--iterative [budget]', 'after one-shot scoring, greedily prune and re-score up to a budget: a count (8) or a fraction (0.25, 25%); default 25%')
    .option('--shard <i/n>', 'score only slice i of n of the candidates (merge the shard files with merge-scores)')
    .option('--only <ids>', 'score only these candidate ids (comma-separated)')
    .option('--out <file>', 'score file (default: MODEL.ldscores.json beside the model)')
    .option('--wait', 'if another job is writing the same score file, wait for it to finish and then resume from its results (default: refuse, naming the running job)')
    .option('--work-dir <dir>', 'where the gated evaluation model is written (default: the OS temp folder)')
    .option('--verify-exact', 'also run the original model once and check the gated model reproduces its latents bit for bit')
    .option('--no-profile', 'skip the latency profile of the reference run')
    .option('--opt-level <level>', "onnxruntime optimisation level: extended (exact: gates off reproduce the original bit for bit) or all (faster on CPU, last-bit differences)", 'extended')
    .option('--top <n>', 'rows of the ranking to print (0: all)', '30')
    .option('--json', 'print the ranking as JSON instead of a table')
    .option('--quiet', 'no progress output')
    .action(async (target: string, f: ScoreFlags) => {
      const granularity = choiceFlag('--granularity', f.granularity, GRANULARITIES);
      const variant = choiceFlag('--variant', f.variant, VARIANTS);
      const top = intFlag('--top', f.top, 0)!;
      const preset = parsePreset(f.preset);
      const settings: Partial<ScoreSettings> = applyPreset(preset, {
        ...samplingSettings(f),
        granularity,
        variant,
        iterative: f.iterative === undefined || f.iterative === false ? undefined : f.iterative === true ? { fraction: 0.25 } : parseBudget(f.iterative),
        shard: f.shard ? parseShard(f.shard) : undefined,
        only: f.only ? f.only.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
        verifyExact: f.verifyExact,
        profile: f.profile,
        optLevel: f.optLevel as OptLevel,
      });
      const fitted = await fitPresetGranularity(target, settings, granularity !== undefined);
      settings.granularity = fitted.granularity;
      if (fitted.note && !f.quiet) process.stderr.write(`${fitted.note}\n`);
      // what the run will cost, before it starts (the thorough preset can take half an hour)
      if (f.estimate || !f.quiet) {
        const e = await estimateScoring(target, settings);
        if (f.estimate) {
          process.stdout.write(f.json ? JSON.stringify({ preset, ...e }, null, 2) + '\n' : `${preset}: ${describeEstimate(e)}\n`);
          return;
        }
        process.stderr.write(`${preset} preset: ${describeEstimate(e)}${preset === 'quick' ? '; --preset thorough scores blocks and layers on more samples and steps' : ''}\n`);
      }
      // a pipeline whose scheduler class we do not run is sampled with DDIM: say so (the score file records it too)
      const schedFile = join(target, 'scheduler', 'scheduler_config.json');
      if (existsSync(schedFile)) {
        const warning = fallbackWarning(resolveScheduler(settings.scheduler, readSchedulerConfig(schedFile)), schedFile);
        if (warning) process.stderr.write(`${warning}\n`);
      }
      const client = ScoringClient.start({ target, settings, out: f.out, workDir: f.workDir, wait: f.wait });
      const tty = process.stderr.isTTY && !f.quiet;
      const say = (s: string) => !f.quiet && process.stderr.write(s);
      let sigints = 0;
      const onSigint = () => {
        if (++sigints === 1) {
          say('\nstopping after the current evaluation (Ctrl-C again to kill)…\n');
          client.cancel();
        } else client.kill();
      };
      process.on('SIGINT', onSigint);
      client
        .on('log', (e) => say(`${e.text}\n`))
        .on('started', (e) => say(`scoring ${e.toScore} of ${e.candidates} candidates on ${e.executionProvider.used}${e.resumed ? ` (${e.resumed} already scored, resuming)` : ''} → ${e.scoreFile}\n`))
        .on('progress', (e) => {
          const eta = e.etaS === null ? '' : `, ~${Math.ceil(e.etaS)} s left`;
          const line = `${e.phase}: ${e.done}/${e.total} evaluations (${e.evalsPerSec.toFixed(2)}/s${eta})`;
          if (tty) say(`\r${line}   `);
          else if (e.done === e.total || e.done % 10 === 0) say(`${line}\n`);
        })
        .on('iteration', (e) => say(`${tty ? '\n' : ''}iterative step ${e.step.step}: picked ${e.step.picked} (joint score ${e.step.score.toFixed(4)}, one-shot rank ${e.step.oneShotRank})\n`));
      try {
        const outcome = await client.finished;
        if (tty) say('\n');
        if (outcome.state === 'cancelled' && !existsSync(outcome.scoreFile)) {
          say('cancelled before the first result; nothing was written\n');
          process.exitCode = 130;
          return;
        }
        const file = readScoreFile(outcome.scoreFile);
        if (f.json) {
          process.stdout.write(JSON.stringify({ scoreFile: outcome.scoreFile, state: outcome.state, complete: file.complete, model: { path: file.model.path, sha256: file.model.sha256 }, executionProvider: file.executionProvider.used, ranking: ranked(file) }, null, 2) + '\n');
        } else {
          process.stdout.write(renderRanking(file, top) + '\n');
          if (file.iterative) process.stdout.write('\n' + renderIterative(file) + '\n');
          process.stdout.write(`\n${outcome.state === 'cancelled' ? 'cancelled; re-run the same command to resume. ' : ''}scores: ${outcome.scoreFile} (${file.timing.evaluations} evaluations in ${file.timing.seconds.toFixed(1)} s on ${file.executionProvider.used})\n`);
          // the bytes on disk that were scored (not an editor's unsaved edits): saving a change makes these scores stale
          process.stdout.write(`scored model: ${file.model.path} (sha256 ${file.model.sha256})\n`);
        }
        if (outcome.state === 'cancelled') process.exitCode = 130;
      } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        say('cancelled (the worker was stopped); re-run the same command to resume\n');
        process.exitCode = 130;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
