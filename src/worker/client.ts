// ScoringClient: starts the scoring worker (child_process.fork), relays its events, cancels it.
// Used by the CLI and the VS Code extension alike (nothing here imports vscode). The worker dying
// (a crash, out of memory, a kill) rejects `finished`; the caller carries on.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CancelledError, UserError } from '../core/errors';
import { EVAL_DIR_PREFIX, WORKER_DIR_PREFIX, makeWorkDir, removeStaleWorkDirs } from '../core/work-dirs';
import type { ScoreRequest, ScoringEvent, ScoringSummary } from '../core/scoring/events';
import { CANCEL_MESSAGE, isWorkerMessage, startMessage, type WorkerToHost } from '../protocol/worker';

export interface WorkerLaunch {
  /** the worker module (default: dist/worker.js next to the running bundle) */
  modulePath: string;
  /** node flags for the worker (e.g. ['--import', 'tsx'] to run src/worker/worker.ts) */
  execArgv: string[];
}

export interface ScoringClientOptions extends Partial<WorkerLaunch> {
  env?: NodeJS.ProcessEnv;
  /** how long a cancelled worker gets to write its file and exit before SIGTERM (then SIGKILL) */
  cancelGraceMs?: number;
}

export interface ScoringOutcome {
  state: 'done' | 'cancelled';
  scoreFile: string;
  summary?: ScoringSummary;
}

/** dist/worker.js next to the running bundle; from the TypeScript sources, src/worker/worker.ts through tsx. */
export function defaultWorker(): WorkerLaunch {
  if (__filename.endsWith('.ts')) return { modulePath: resolve(__dirname, 'worker.ts'), execArgv: ['--import', 'tsx'] };
  const bundled = join(__dirname, 'worker.js');
  if (!existsSync(bundled)) throw new Error(`the scoring worker ${bundled} is missing; run npm run build`);
  return { modulePath: bundled, execArgv: [] };
}

type Listener<K extends ScoringEvent['type']> = (e: Extract<ScoringEvent, { type: K }>) => void;

export class ScoringClient {
  readonly finished: Promise<ScoringOutcome>;
  private readonly events = new EventEmitter();
  private readonly child: ChildProcess;
  private cancelRequested = false;
  private timers: NodeJS.Timeout[] = [];

  private constructor(request: ScoreRequest, o: ScoringClientOptions) {
    const launch = o.modulePath ? { modulePath: o.modulePath, execArgv: o.execArgv ?? [] } : defaultWorker();
    // the worker writes its evaluation model under a folder the client owns, so a worker that is
    // killed (and cannot clean up) leaves nothing behind; what crashed hosts left is cleared first
    removeStaleWorkDirs([WORKER_DIR_PREFIX, EVAL_DIR_PREFIX], request.workDir);
    const workDir = makeWorkDir(WORKER_DIR_PREFIX, request.workDir);
    request = { ...request, workDir };
    this.child = fork(launch.modulePath, [], {
      execArgv: launch.execArgv,
      env: { ...process.env, ...o.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const grace = o.cancelGraceMs ?? 30000;
    let lastStderr = '';
    this.child.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      const line = text.split('\n').map((l) => l.trim()).filter(Boolean).pop();
      if (line) lastStderr = line;
      this.events.emit('stderr', text);
    });
    this.finished = new Promise<ScoringOutcome>((ok, fail) => {
      let outcome: ScoringOutcome | undefined;
      let error: Error | undefined;
      this.child.on('message', (m: unknown) => {
        if (!isWorkerMessage(m)) return;
        const msg = m as WorkerToHost;
        if (msg.type === 'ready') {
          this.child.send(startMessage(request));
          return;
        }
        if (msg.type === 'error') {
          error = msg.userError ? new UserError(msg.message) : Object.assign(new Error(msg.message), { workerStack: msg.stack });
          return;
        }
        if (msg.type === 'done') outcome = { state: 'done', scoreFile: msg.scoreFile, summary: msg.summary };
        if (msg.type === 'cancelled') outcome = { state: 'cancelled', scoreFile: msg.scoreFile };
        this.events.emit(msg.type, msg);
        this.events.emit('event', msg);
      });
      this.child.on('error', (e) => (error ??= new Error(`could not start the scoring worker: ${e.message}`)));
      this.child.on('exit', (code, signal) => {
        for (const t of this.timers) clearTimeout(t);
        rmSync(workDir, { recursive: true, force: true });
        if (error) return fail(error);
        if (outcome) return ok(outcome);
        if (this.cancelRequested) return fail(new CancelledError());
        const how = signal ? `was killed (${signal}${signal === 'SIGKILL' ? ', possibly out of memory' : ''})` : `exited with code ${code}`;
        fail(new Error(`the scoring worker ${how} before finishing${lastStderr ? `: ${lastStderr}` : ''}; the score file keeps what was scored and a re-run resumes from it`));
      });
    });
    this.finished.catch(() => undefined);
    this.cancel = () => {
      if (this.cancelRequested || this.child.exitCode !== null || this.child.signalCode !== null) return;
      this.cancelRequested = true;
      if (this.child.connected) this.child.send(CANCEL_MESSAGE);
      this.timers.push(
        setTimeout(() => this.child.exitCode === null && this.child.kill('SIGTERM'), grace),
        setTimeout(() => this.child.exitCode === null && this.child.kill('SIGKILL'), grace + 5000),
      );
    };
  }

  /** Forks the worker and starts scoring. */
  static start(request: ScoreRequest, options: ScoringClientOptions = {}): ScoringClient {
    return new ScoringClient(request, options);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  on<K extends ScoringEvent['type']>(type: K, listener: Listener<K>): this {
    this.events.on(type, listener as (e: unknown) => void);
    return this;
  }

  /** every event, in order */
  onEvent(listener: (e: ScoringEvent) => void): this {
    this.events.on('event', listener);
    return this;
  }

  /** raw stderr of the worker (onnxruntime warnings and the like) */
  onStderr(listener: (text: string) => void): this {
    this.events.on('stderr', listener);
    return this;
  }

  /** Asks the worker to stop after the current evaluation (it saves its file); kills it if it does not. */
  cancel: () => void;

  /** Stops the worker at once (no clean save beyond what is already written). */
  kill(): void {
    this.cancelRequested = true;
    this.child.kill('SIGKILL');
  }
}
