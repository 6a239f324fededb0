// Distillation jobs: the Python trainer (python/ld_surgeon_distill, run with the `ldSurgeon.pythonPath`
// interpreter) fine-tunes a pruned U-Net against the original. It prints one JSON event per line
// ({"event":"step",...}); SIGINT makes it save a checkpoint and stop (exit 130).
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseEvent, trainerCommand, trainerEnv } from '../../core/distill';
import type { JobEvent, JobProcessSpec, JobProtocol, JobRequest } from '../jobs/jobRunner';
import { modelFileOf } from '../../core/pipeline/layout';
import { trainerConditionArgs, type TrainerConditions } from '../../core/distill/conditions';
import { TRAINER_DIR, type TrainerRun } from './trainerRun';

export interface DistillJobSpec {
  /** the pruned model (.onnx, or a pruned pipeline folder) */
  student: string;
  /** the original U-Net (.onnx) */
  teacher: string;
  /** optimizer steps (undefined: the trainer's default) */
  steps?: number;
  device: 'auto' | 'cpu' | 'cuda';
  /** the interpreter ('' = find one with torch + onnx: findPython in src/core/distill) */
  python: string;
  /** further trainer flags, e.g. ['--data-samples', '64'] (python -m ld_surgeon_distill --help) */
  trainerArgs?: string[];
  /** trainer flags by CLI name ({ lr: 1e-4, 'batch-size': 4, 'lambda-feat': 0.5 }), from a task definition */
  flags?: Record<string, string | number>;
  /** training data folder (default: data-free) */
  data?: string;
  /** processes on this machine; > 1 runs DDP under torchrun */
  devices?: number;
  /** the distilled model (default: distillOutput(student)) */
  output?: string;
  /** --conditions for the trainer: an embeddings .npy, or its bytes (written into the run folder) */
  conditions?: Pick<TrainerConditions, 'file' | 'npy'>;
}

/** MODEL.distilled.onnx beside the student (-2, -3... when taken). */
export function distillOutput(student: string): string {
  const base = modelFileOf(student).replace(/\.onnx$/i, '');
  for (let i = 1; ; i++) {
    const out = `${base}.distilled${i === 1 ? '' : `-${i}`}.onnx`;
    if (!existsSync(out)) return out;
  }
}

function distillProtocol(): JobProtocol {
  let total = 0;
  return {
    // the trainer's events carry "event", not "type": read them here, before the generic JSON-lines handling
    line(text) {
      const e = parseEvent(text);
      return e ? distillEvents(e as unknown as Record<string, unknown>, (n) => (total = n), () => total) : undefined;
    },
    interpret: () => [],
  };
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function distillEvents(m: Record<string, unknown>, setTotal: (n: number) => void, total: () => number): JobEvent[] {
  switch (m.event) {
    case 'start': {
      setTotal(num(m.steps) ?? 0);
      const device = String(m.device ?? 'cpu');
      const name = typeof m.device_name === 'string' && m.device_name !== 'cpu' ? ` (${m.device_name})` : '';
      return [
        { type: 'executionProvider', name: `torch ${device}${name}` },
        { type: 'progress', fraction: 0, message: m.resumed ? 'resuming' : 'loading models' },
      ];
    }
    case 'data_progress':
      return [{ type: 'progress', message: `generating training latents ${m.done}/${m.total}` }];
    case 'data':
      return [{ type: 'log', text: `training data: ${m.samples} samples (${m.source}${m.cached ? ', cached' : ''})` }];
    case 'step': {
      const step = num(m.step) ?? 0;
      const loss = num(m.loss);
      return [{
        type: 'progress',
        fraction: total() ? step / total() : undefined,
        message: `step ${step}/${total()}${loss !== undefined ? ` · loss ${loss.toPrecision(3)}` : ''}`,
      }];
    }
    case 'eval':
      return [{ type: 'log', text: `eval at step ${m.step}: ${JSON.stringify(m.metrics)}${m.best ? ' (best so far)' : ''}` }];
    case 'checkpoint':
      return [{ type: 'log', text: `checkpoint at step ${m.step}: ${m.path}` }];
    case 'cancelled':
      return [{ type: 'log', text: `cancelled at step ${m.step}${m.checkpoint ? `; checkpoint ${m.checkpoint}` : ''}` }];
    case 'done':
      return [
        ...(typeof m.output === 'string' ? [{ type: 'output' as const, path: m.output }] : []),
        { type: 'progress', fraction: 1, message: 'done' },
        { type: 'data', payload: m },
      ];
    case 'error':
      return [{ type: 'error', message: String(m.message) }];
    default:
      return [{ type: 'log', text: JSON.stringify(m) }];
  }
}

/** --conditions FILE unless the trainer arguments name their own; encoded conditions land in the run folder. */
function conditionArgs(spec: DistillJobSpec, runDir: string): string[] {
  return spec.trainerArgs?.includes('--conditions') ? [] : trainerConditionArgs(spec.conditions, runDir);
}

/** The job request that distills `spec.student` from `spec.teacher`; the trainer's files go in the run folder. */
export function distillJobRequest(pythonRoot: string, spec: DistillJobSpec, title: string): { request: JobRequest; output: string } {
  const output = spec.output ?? distillOutput(spec.student);
  return {
    output,
    request: {
      kind: 'distill',
      title,
      target: spec.student,
      executionProvider: spec.device,
      settings: {
        kind: 'distill',
        target: spec.student,
        options: {
          teacher: spec.teacher, steps: spec.steps, device: spec.device, trainerArgs: spec.trainerArgs ?? [],
          flags: spec.flags ?? {}, data: spec.data, devices: spec.devices, output: spec.output,
        },
      },
      process: (runDir) => {
        const cmd = trainerCommand({
          python: spec.python, student: spec.student, teacher: spec.teacher, runDir: path.join(runDir, TRAINER_DIR), output,
          data: spec.data, devices: spec.devices,
          flags: { ...spec.flags, steps: spec.steps, device: spec.device },
        });
        return trainerProcess(pythonRoot, cmd.command, [...cmd.args, ...conditionArgs(spec, runDir), ...(spec.trainerArgs ?? [])]);
      },
      protocol: distillProtocol(),
    },
  };
}

function trainerProcess(pythonRoot: string, command: string, args: string[]): JobProcessSpec {
  return {
    type: 'spawn',
    command,
    args,
    env: trainerEnv(pythonRoot),
    // it saves a checkpoint at the next step before it stops
    cancelSignal: 'SIGINT',
    cancelGraceMs: 120_000,
  };
}

export interface DistillResumeSpec {
  /** the trainer run to continue (its config.json says the student, teacher and output) */
  run: TrainerRun;
  python: string;
  /** settings.json of the job: a Jobs view run keeps its own (re-run starts that training afresh) */
  settings: JobRequest['settings'];
  /** what may change on resume (steps, device, eval/checkpoint cadence); the trainer refuses anything else */
  flags?: Record<string, string | number>;
  trainerArgs?: string[];
  devices?: number;
}

/**
 * Continues a cancelled or failed training from its latest checkpoint: `--resume <trainer run folder>`. The
 * trainer reads everything else from the run's config.json and keeps appending to its events.jsonl.
 */
export function distillResumeRequest(pythonRoot: string, r: DistillResumeSpec, title: string): { request: JobRequest; output: string | undefined } {
  return {
    output: r.run.output,
    request: {
      kind: 'distill',
      title,
      target: r.run.student,
      executionProvider: typeof r.flags?.device === 'string' ? r.flags.device : undefined,
      settings: r.settings,
      process: () => {
        const cmd = trainerCommand({ python: r.python, student: r.run.student, resume: r.run.dir, devices: r.devices, flags: r.flags });
        return trainerProcess(pythonRoot, cmd.command, [...cmd.args, ...(r.trainerArgs ?? [])]);
      },
      protocol: distillProtocol(),
    },
  };
}
