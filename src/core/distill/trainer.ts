// Runs the PyTorch distillation trainer (python/ld_surgeon_distill) and turns its JSON-lines progress
// protocol into typed events. Used by `ld-surgeon distill` and by the VS Code task; no vscode here.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CancelledError, UserError } from '../errors';
import { trainerEnv, trainerRoot } from './python-env';
import { parseEvent, type TrainerEvent } from './events';

export interface DistillOptions {
  python: string;
  student: string;
  teacher?: string;
  runDir?: string;
  resume?: string;
  output?: string;
  data?: string;
  /** processes per machine; > 1 runs under torchrun (DDP) */
  devices?: number;
  /** any further trainer flags by their CLI name without dashes: { steps: 300, lr: 1e-4, 'lambda-out': 1 } */
  flags?: Record<string, string | number | boolean | undefined>;
}

/** The command line that runs the trainer: `python -m ld_surgeon_distill ...`, or torchrun for several devices. */
export function trainerCommand(o: DistillOptions): { command: string; args: string[] } {
  const args: string[] = ['--student', o.student];
  const add = (flag: string, v: string | number | boolean | undefined) => {
    if (v === undefined || v === false) return;
    args.push(`--${flag}`);
    if (v !== true) args.push(String(v));
  };
  add('teacher', o.teacher);
  add('run-dir', o.runDir);
  add('resume', o.resume);
  add('output', o.output);
  add('data', o.data);
  for (const [k, v] of Object.entries(o.flags ?? {})) add(k, v);
  const devices = o.devices ?? 1;
  // torch 1.13's torchrun dies on Python 3.11 before starting workers; the package ships a patched entry point
  const launcher = devices > 1 ? ['-m', 'ld_surgeon_distill.torchrun', `--nproc_per_node=${devices}`, '-m', 'ld_surgeon_distill'] : ['-m', 'ld_surgeon_distill'];
  return { command: o.python, args: [...launcher, ...args] };
}

export interface RunHooks {
  onEvent?: (e: TrainerEvent) => void;
  /** the trainer's human log (stderr) and any non-JSON stdout */
  onLog?: (line: string) => void;
  /** aborting sends SIGINT: the trainer writes a checkpoint, then stops */
  signal?: AbortSignal;
}

/** Runs the trainer to the end; resolves with its `done` event, rejects with its error or a CancelledError. */
export function runTrainer(o: DistillOptions, hooks: RunHooks = {}): Promise<Extract<TrainerEvent, { event: 'done' }>> {
  const { command, args } = trainerCommand(o);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: trainerEnv(trainerRoot()), stdio: ['ignore', 'pipe', 'pipe'] });
    let done: Extract<TrainerEvent, { event: 'done' }> | undefined;
    let error: string | undefined;
    let cancelled = false;
    const onAbort = () => {
      cancelled = true;
      child.kill('SIGINT');
    };
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const e = parseEvent(line);
      if (!e) return hooks.onLog?.(line);
      if (e.event === 'done') done = e;
      if (e.event === 'error') error = e.message;
      hooks.onEvent?.(e);
    });
    createInterface({ input: child.stderr }).on('line', (line) => hooks.onLog?.(line));
    child.on('error', (e) => reject(new Error(`cannot start ${command}: ${e.message}`)));
    child.on('close', (code) => {
      hooks.signal?.removeEventListener('abort', onAbort);
      if (done && code === 0) resolve(done);
      else if (cancelled) reject(new CancelledError());
      // the trainer exits 2 on a problem with what it was given (a model, a run folder, a setting)
      else if (code === 2 && error) reject(new UserError(error));
      else reject(new Error(error ?? `the trainer exited with code ${code}`));
    });
  });
}
