// Distillation jobs: the Python trainer (python/ld_surgeon_distill, run with the `ldSurgeon.pythonPath`
// interpreter) fine-tunes a pruned U-Net against the original. It prints one JSON event per line
// ({"event":"step",...}); SIGINT makes it save a checkpoint and stop (exit 130).
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseEvent, trainerCommand, trainerEnv } from '../../core/distill';
import type { JobEvent, JobProtocol, JobRequest } from './jobRunner';

export interface DistillJobSpec {
  /** the pruned model (.onnx, or a pruned pipeline folder) */
  student: string;
  /** the original U-Net (.onnx) */
  teacher: string;
  steps: number;
  device: 'auto' | 'cpu' | 'cuda';
  /** the interpreter ('' = find one with torch + onnx: findPython in src/core/distill) */
  python: string;
  /** further trainer flags, e.g. ['--data-samples', '64'] (python -m ld_surgeon_distill --help) */
  trainerArgs?: string[];
}

/** MODEL.distilled.onnx beside the student (-2, -3... when taken). */
export function distillOutput(student: string): string {
  const model = student.toLowerCase().endsWith('.onnx') ? student : path.join(student, 'unet', 'model.onnx');
  const base = model.replace(/\.onnx$/i, '');
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

/** The job request that distills `spec.student` from `spec.teacher`; the trainer's files go in the run folder. */
export function distillJobRequest(pythonRoot: string, spec: DistillJobSpec, title: string): { request: JobRequest; output: string } {
  const output = distillOutput(spec.student);
  return {
    output,
    request: {
      kind: 'distill',
      title,
      target: spec.student,
      executionProvider: spec.device,
      settings: { kind: 'distill', target: spec.student, options: { teacher: spec.teacher, steps: spec.steps, device: spec.device, trainerArgs: spec.trainerArgs ?? [] } },
      process: (runDir) => {
        const cmd = trainerCommand({
          python: spec.python, student: spec.student, teacher: spec.teacher, runDir: path.join(runDir, 'trainer'), output,
          flags: { steps: spec.steps, device: spec.device },
        });
        return {
          type: 'spawn',
          command: cmd.command,
          args: [...cmd.args, ...(spec.trainerArgs ?? [])],
          env: trainerEnv(pythonRoot),
          // it saves a checkpoint at the next step before it stops
          cancelSignal: 'SIGINT',
          cancelGraceMs: 120_000,
        };
      },
      protocol: distillProtocol(),
    },
  };
}
