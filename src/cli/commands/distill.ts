// ld-surgeon distill --student PRUNED --teacher ORIGINAL: fine-tunes the pruned U-Net against the original
// with output- and feature-level knowledge distillation (BK-SDM's losses), on PyTorch. This command finds
// the interpreter, runs the trainer and prints its progress; the VS Code task runs the same command.
import type { Command } from 'commander';
import { findPython, runTrainer, type TrainerEvent } from '../../core/distill';
import { choiceFlag, intFlag, numFlag, repeatable } from '../flags';
import { conditionInputFromSpec, conditionSpecFromFlags } from '../../core/pipeline/conditions';
import { defaultTrainerRunDir, trainerConditions, trainerConditionsFile, trainerTextEmbedsFile } from '../../core/distill/conditions';
import { originalOfPruned } from '../../core/prune/record';
import { assembleDistilledPipeline, planDistillOutput, planResumedOutput, type DistillOutputPlan } from '../../core/distill/output';

interface DistillFlags {
  student: string;
  teacher?: string;
  steps?: string;
  lr?: string;
  batch?: string;
  gradAccum?: string;
  lambdaTask?: string;
  lambdaOut?: string;
  lambdaFeat?: string;
  featNorm?: string;
  lrSchedule?: string;
  warmup?: string;
  ema?: string;
  data?: string;
  devices: string;
  device: string;
  resume?: string;
  runDir?: string;
  out?: string;
  python?: string;
  seed?: string;
  evalEvery?: string;
  checkpointEvery?: string;
  dataSamples?: string;
  dataSteps?: string;
  evalSamples?: string;
  evalSteps?: string;
  logEvery?: string;
  json?: boolean;
  prompt?: string[];
  promptsFile?: string;
  conditionIds?: string;
  conditions?: string;
}

const fmt = (v: number | undefined) => (v === undefined ? '-' : v.toPrecision(4));
const metrics = (m: Record<string, number> | null | undefined) =>
  m ? Object.entries(m).filter(([, v]) => typeof v === 'number').map(([k, v]) => `${k} ${fmt(v)}`).join(', ') : '-';

/** Teacher, pruned (before) and distilled (after) side by side: the quality the distillation recovered. */
function qualityTable(e: Extract<TrainerEvent, { event: 'done' }>): string {
  const before = e.metrics_before ?? {};
  const after = e.metrics_after ?? {};
  const teacher = e.metrics_teacher ?? {};
  const rows = Object.keys(before).filter((k) => typeof before[k] === 'number');
  const width = Math.max(6, ...rows.map((k) => k.length));
  const lines = [`  ${'metric'.padEnd(width)}  ${'teacher'.padStart(9)}  ${'pruned'.padStart(9)}  ${'distilled'.padStart(9)}`];
  for (const k of rows) {
    lines.push(`  ${k.padEnd(width)}  ${fmt(teacher[k]).padStart(9)}  ${fmt(before[k]).padStart(9)}  ${fmt(after[k]).padStart(9)}`);
  }
  return lines.join('\n');
}

function describe(e: TrainerEvent, total: number): string | undefined {
  switch (e.event) {
    case 'start': return `training on ${e.device_name ?? e.device} (${e.resumed ? 'resumed' : 'new run'}), ${e.steps ?? total} steps`;
    case 'setup': return e.features ? `feature distillation on ${e.features.matched.length} stages${e.features.skipped.length ? `; student lacks ${e.features.skipped.join(', ')}` : ''}` : undefined;
    case 'data_progress': return `generating training latents with the teacher ${e.done}/${e.total}`;
    case 'data': return `data: ${e.samples} samples (${e.source}${e.cached ? ', cached' : ''})`;
    case 'step': return `step ${e.step}/${total}  loss ${fmt(e.loss)} (task ${fmt(e.loss_task)}, out ${fmt(e.loss_out)}, feat ${fmt(e.loss_feat)})  lr ${e.lr ?? '-'}  ${e.samples_per_s ? `${e.samples_per_s.toFixed(1)} samples/s` : ''}`;
    case 'eval': return `eval @${e.step}: ${metrics(e.metrics)}${e.best ? '  (best)' : ''}`;
    case 'checkpoint': return `checkpoint ${e.path}`;
    case 'cancelled': return `cancelled at step ${e.step}; resume with --resume and the run folder (checkpoint ${e.checkpoint ?? 'none'})`;
    case 'done': return `done: ${e.output ?? '(no export)'}${typeof e.gpu_memory_peak_gb === 'number' ? `  (peak GPU memory ${e.gpu_memory_peak_gb} GiB)` : ''}\n${qualityTable(e)}`;
    case 'error': return undefined;
  }
}

export function register(program: Command): void {
  program
    .command('distill')
    .description('recover a pruned model with knowledge distillation from the original (PyTorch; finds a Python with torch + onnx)')
    .requiredOption('--student <path>', 'pruned model: pipeline folder or .onnx')
    .option('--teacher <path>', 'original model (default: the original named in the student\'s prune record, else the unet/model.onnx of the student\'s pipeline)')
    .option('--steps <n>', 'optimizer steps')
    .option('--lr <x>', 'AdamW peak learning rate (default 1e-3; BK-SDM at Stable Diffusion scale: 5e-5)')
    .option('--batch <n>', 'batch size per process')
    .option('--grad-accum <n>', 'gradient accumulation micro-steps')
    .option('--lambda-task <x>', 'weight of the denoising loss')
    .option('--lambda-out <x>', 'weight of the output distillation loss')
    .option('--lambda-feat <x>', 'weight of the stage feature losses')
    .option('--feat-norm <mode>', 'stage feature loss: teacher (MSE relative to the teacher feature\'s mean square, LAPTOP-Diff; the default) or none (plain MSE, BK-SDM)')
    .option('--lr-schedule <s>', 'LR after the warm-up: cosine (to 0 at the last step; the default) or constant')
    .option('--warmup <n>', 'linear LR warm-up steps')
    .option('--ema <decay>', 'EMA of weights (0: off)')
    .option('--data <dir>', 'training data folder (default: data-free, latents sampled by the teacher)')
    .option('--data-samples <n>', 'data-free: how many latents the teacher generates')
    .option('--data-steps <n>', 'data-free: denoising steps of the teacher\'s samples')
    .option('--eval-samples <n>', 'samples of each quality evaluation')
    .option('--eval-steps <n>', 'denoising steps of each quality evaluation')
    .option('--log-every <n>', 'steps between progress lines')
    .option('--devices <n>', 'processes (GPUs) on this machine; > 1 runs DDP under torchrun', '1')
    .option('--device <d>', 'auto | cpu | cuda', 'auto')
    .option('--seed <n>', 'random seed')
    .option('--eval-every <n>', 'steps between quality evaluations')
    .option('--checkpoint-every <n>', 'steps between checkpoints')
    .option('--resume <runDir>', 'continue a run from its latest checkpoint')
    .option('--run-dir <dir>', 'run folder (default: beside the student)')
    .option('--out <path>', 'distilled model: an .onnx file for a model student; a new pipeline folder for a pipeline student (default: the student U-Net\'s STUDENT.distilled.onnx)')
    .option('--prompt <text>', 'a condition prompt (repeatable; default: the pipeline\'s prompt set)', repeatable, [] as string[])
    .option('--prompts-file <file>', 'a text file of prompts, one per line (# comments)')
    .option('--condition-ids <rows>', 'token id rows instead of prompts, e.g. "1,5,7;1,5,8"')
    .option('--conditions <file.npy>', 'encoder hidden states [N, L, D] instead of prompts')
    .option('--python <exe>', 'Python interpreter (default: first of LD_SURGEON_PYTHON, python3, /usr/bin/python3 with torch + onnx)')
    .option('--json', 'print the trainer\'s JSON events as they come')
    .action(async (f: DistillFlags) => {
      const devices = intFlag('--devices', f.devices, 1) ?? 1;
      // a pipeline student with --out DIR: a distilled pipeline folder (a resumed run keeps its first run's output,
      // and a resumed pipeline run still ends in its folder)
      const output: DistillOutputPlan = f.resume ? planResumedOutput(f.resume, f.out) : planDistillOutput(f.student, f.out);
      const choice = await findPython(f.python ? { explicit: { python: f.python, source: '--python' } } : {});
      const c = choice.check;
      console.error(`python: ${choice.python} (${choice.source}; Python ${c.python_version}, torch ${c.torch}, onnx ${c.onnx}, CUDA ${c.cuda_available ? (c.cuda_devices ?? []).join(', ') || 'yes' : 'no'})`);
      for (const r of choice.rejected) console.error(`  skipped ${r.python} (${r.source}): ${r.reason}`);
      // a resumed run keeps the teacher it started with
      const teacher = f.teacher ?? (f.resume ? undefined : originalOfPruned(f.student));
      if (teacher && !f.teacher) console.error(`teacher: ${teacher} (from the student's prune record)`);
      // prompts and token ids (and the defaults, for a tokenizer the trainer cannot read) are encoded here,
      // through the pipeline's tokenizer and text encoder, into the run folder; a resumed run keeps its own
      const conditionInput = conditionInputFromSpec(conditionSpecFromFlags(f));
      const conditions = f.resume ? undefined : await trainerConditions(teacher ?? f.student, conditionInput);
      const runDir = f.runDir ?? (conditions?.npy ? defaultTrainerRunDir(f.student) : undefined);
      if (conditions) console.error(`conditions: ${conditions.line}`);
      const steps = intFlag('--steps', f.steps, 1);
      let total = steps ?? 0;
      const abort = new AbortController();
      const onSigint = () => {
        console.error('stopping: once training has begun the trainer finishes its step and writes a checkpoint first…');
        abort.abort();
      };
      process.once('SIGINT', onSigint);
      try {
        const done = await runTrainer({
          python: choice.python, student: f.student, teacher, runDir, resume: f.resume, output: output.trainerOutput, data: f.data, devices,
          flags: {
            steps, lr: numFlag('--lr', f.lr), 'batch-size': intFlag('--batch', f.batch, 1), 'grad-accum': intFlag('--grad-accum', f.gradAccum, 1),
            'lambda-task': numFlag('--lambda-task', f.lambdaTask), 'lambda-out': numFlag('--lambda-out', f.lambdaOut), 'lambda-feat': numFlag('--lambda-feat', f.lambdaFeat),
            'feat-norm': choiceFlag('--feat-norm', f.featNorm, ['teacher', 'none']), 'lr-schedule': choiceFlag('--lr-schedule', f.lrSchedule, ['cosine', 'constant']),
            'warmup-steps': intFlag('--warmup', f.warmup, 0), 'ema-decay': numFlag('--ema', f.ema), seed: intFlag('--seed', f.seed, 0), 'eval-every': intFlag('--eval-every', f.evalEvery, 0),
            'checkpoint-every': intFlag('--checkpoint-every', f.checkpointEvery, 0), 'data-samples': intFlag('--data-samples', f.dataSamples, 1),
            'data-steps': intFlag('--data-steps', f.dataSteps, 1), 'eval-samples': intFlag('--eval-samples', f.evalSamples, 1),
            'eval-steps': intFlag('--eval-steps', f.evalSteps, 1), 'log-every': intFlag('--log-every', f.logEvery, 1),
            device: f.device, conditions: runDir ? trainerConditionsFile(conditions, runDir) : conditions?.file,
            'text-embeds': runDir ? trainerTextEmbedsFile(conditions, runDir) : undefined,
          },
        }, {
          signal: abort.signal,
          onLog: (line) => console.error(line),
          onEvent: (e) => {
            if (e.event === 'start' && typeof e.steps === 'number') total = e.steps;
            if (f.json) return console.log(JSON.stringify(e));
            const text = describe(e, total);
            if (text) console.log(text);
          },
        });
        if (output.kind === 'pipeline' && done.output) {
          const folder = await assembleDistilledPipeline(output, done.output);
          (f.json ? console.error : console.log)(`distilled pipeline: ${folder} (the student's components, unet/model.onnx distilled)`);
        }
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}
