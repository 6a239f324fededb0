// ld-surgeon distill --student PRUNED --teacher ORIGINAL: fine-tunes the pruned U-Net against the original
// with output- and feature-level knowledge distillation (BK-SDM's losses), on PyTorch. This command finds
// the interpreter, runs the trainer and prints its progress; the VS Code task runs the same command.
import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { findPython, runTrainer, type TrainerEvent } from '../../core/distill';

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
  json?: boolean;
}

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UserError(`${flag} '${v}': expected a number`);
  return n;
}

const fmt = (v: number | undefined) => (v === undefined ? '-' : v.toPrecision(4));
const metrics = (m: Record<string, number> | null | undefined) =>
  m ? Object.entries(m).filter(([, v]) => typeof v === 'number').map(([k, v]) => `${k} ${fmt(v)}`).join(', ') : '-';

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
    case 'done': return `done: ${e.output ?? '(no export)'}\n  metric before: ${metrics(e.metrics_before)}\n  metric after:  ${metrics(e.metrics_after)}`;
    case 'error': return undefined;
  }
}

export function register(program: Command): void {
  program
    .command('distill')
    .description('recover a pruned model with knowledge distillation from the original (PyTorch; finds a Python with torch + onnx)')
    .requiredOption('--student <path>', 'pruned model: pipeline folder or .onnx')
    .option('--teacher <path>', 'original model (default: the student pipeline\'s source)')
    .option('--steps <n>', 'optimizer steps')
    .option('--lr <x>', 'AdamW learning rate (default 5e-5, as BK-SDM)')
    .option('--batch <n>', 'batch size per process')
    .option('--grad-accum <n>', 'gradient accumulation micro-steps')
    .option('--lambda-task <x>', 'weight of the denoising loss')
    .option('--lambda-out <x>', 'weight of the output distillation loss')
    .option('--lambda-feat <x>', 'weight of the stage feature losses')
    .option('--ema <decay>', 'EMA of weights (0: off)')
    .option('--data <dir>', 'training data folder (default: data-free, latents sampled by the teacher)')
    .option('--data-samples <n>', 'data-free: how many latents the teacher generates')
    .option('--devices <n>', 'processes (GPUs) on this machine; > 1 runs DDP under torchrun', '1')
    .option('--device <d>', 'auto | cpu | cuda', 'auto')
    .option('--seed <n>', 'random seed')
    .option('--eval-every <n>', 'steps between quality evaluations')
    .option('--checkpoint-every <n>', 'steps between checkpoints')
    .option('--resume <runDir>', 'continue a run from its latest checkpoint')
    .option('--run-dir <dir>', 'run folder (default: beside the student)')
    .option('--out <path>', 'distilled model (default: STUDENT.distilled.onnx)')
    .option('--python <exe>', 'Python interpreter (default: first of LD_SURGEON_PYTHON, python3, /usr/bin/python3 with torch + onnx)')
    .option('--json', 'print the trainer\'s JSON events as they come')
    .action(async (f: DistillFlags) => {
      const devices = num('--devices', f.devices) ?? 1;
      if (!Number.isInteger(devices) || devices < 1) throw new UserError(`--devices '${f.devices}': expected an integer ≥ 1`);
      const choice = await findPython(f.python ? { explicit: { python: f.python, source: '--python' } } : {});
      const c = choice.check;
      console.error(`python: ${choice.python} (${choice.source}; Python ${c.python_version}, torch ${c.torch}, onnx ${c.onnx}, CUDA ${c.cuda_available ? (c.cuda_devices ?? []).join(', ') || 'yes' : 'no'})`);
      for (const r of choice.rejected) console.error(`  skipped ${r.python} (${r.source}): ${r.reason}`);
      const steps = num('--steps', f.steps);
      let total = steps ?? 0;
      const abort = new AbortController();
      const onSigint = () => {
        console.error('stopping: the trainer writes a checkpoint first…');
        abort.abort();
      };
      process.once('SIGINT', onSigint);
      try {
        await runTrainer({
          python: choice.python, student: f.student, teacher: f.teacher, runDir: f.runDir, resume: f.resume, output: f.out, data: f.data, devices,
          flags: {
            steps, lr: num('--lr', f.lr), 'batch-size': num('--batch', f.batch), 'grad-accum': num('--grad-accum', f.gradAccum),
            'lambda-task': num('--lambda-task', f.lambdaTask), 'lambda-out': num('--lambda-out', f.lambdaOut), 'lambda-feat': num('--lambda-feat', f.lambdaFeat),
            'ema-decay': num('--ema', f.ema), seed: num('--seed', f.seed), 'eval-every': num('--eval-every', f.evalEvery),
            'checkpoint-every': num('--checkpoint-every', f.checkpointEvery), 'data-samples': num('--data-samples', f.dataSamples),
            device: f.device,
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
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}
