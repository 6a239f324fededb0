// Runs one job's process (a forked Node module with an IPC channel, any spawned command printing JSON lines,
// or a process another module already supervises, like the scoring worker's ScoringClient), streams its log and progress into the run folder and to listeners, supports cancel, and
// records the outcome in status.json. Nothing here imports `vscode`.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { stripVTControlCharacters } from 'node:util';
import {
  createRunFolder, writeJsonAtomic, writeJsonAtomicSync, INTERRUPTED,
  LOG_FILE, SETTINGS_FILE, STATUS_FILE, type JobKind, type JobStatus,
} from './runFolder';

export type JobProcessSpec =
  | { type: 'fork'; modulePath: string; args: string[]; cwd?: string; env?: NodeJS.ProcessEnv }
  | {
      type: 'spawn'; command: string; args: string[]; cwd?: string; env?: NodeJS.ProcessEnv;
      /** the signal that asks this program to stop cleanly (default SIGTERM; the CLI cleans up on SIGINT) */
      cancelSignal?: NodeJS.Signals;
      /** how long it may take to stop cleanly before it is killed (default CANCEL_GRACE_MS) */
      cancelGraceMs?: number;
    }
  | { type: 'supervised'; commandLine: string; start(): SupervisedProcess };

/**
 * A process whose supervisor (start-up handshake, cancel grace, its scratch files) is someone else's: the job
 * only listens, and asks the supervisor to cancel or kill.
 */
export interface SupervisedProcess {
  readonly pid: number | undefined;
  onMessage(listener: (message: unknown) => void): void;
  onStderr(listener: (text: string) => void): void;
  /** asks for a clean stop; the supervisor escalates when the process does not */
  cancel(): void;
  kill(): void;
  /** settles once the process has exited: code 0 when it finished well, else the reason */
  readonly exited: Promise<{ code: number; error?: string; details?: string }>;
}

/** What a job's process can tell us, whatever its own message format. */
export type JobEvent =
  | { type: 'progress'; fraction?: number; message?: string }
  | { type: 'log'; text: string }
  | { type: 'executionProvider'; name: string }
  | { type: 'output'; path: string }
  | { type: 'error'; message: string }
  /** anything kind-specific (streamed scores, a prune report) for whoever started the job */
  | { type: 'data'; payload: unknown };

/** Adapts one process's message format (worker IPC messages, a CLI's JSON lines) to JobEvents. */
export interface JobProtocol {
  interpret(message: unknown): JobEvent[];
  /** IPC message sent right after the process starts (e.g. the scoring request) */
  startMessage?: unknown;
  /** IPC message asking the process to stop cleanly (it may then write a resumable file) */
  cancelMessage?: unknown;
  /**
   * Sees every stdout line of a spawned process first; events returned replace the default handling
   * (JSON lines to interpret(), other lines to the log). Return undefined for the default.
   */
  line?(text: string): JobEvent[] | undefined;
  /** Last events, once the process has exited and before the outcome is recorded (e.g. its outputs). */
  onExit?(code: number | null): JobEvent[];
}

/** Everything needed to start a job, and to start it again (`settings` is what re-run reads back). */
export interface JobRequest {
  kind: JobKind;
  title: string;
  target: string;
  /** the execution provider asked for; the process may report the one it really got */
  executionProvider?: string;
  /** written to settings.json: must hold all a re-run needs */
  settings: { kind: JobKind; target: string; options: Record<string, unknown> };
  process: (runDir: string) => JobProcessSpec;
  protocol: JobProtocol;
}

/** How long a process gets to stop after a cancel request before SIGTERM, then before SIGKILL. */
export const CANCEL_GRACE_MS = 5000;

function nowIso(): string {
  return new Date().toISOString();
}

export class RunningJob {
  readonly dir: string;
  status: JobStatus;
  /** resolves with the final status once the process has exited and status.json is written */
  readonly finished: Promise<JobStatus>;

  private readonly events = new EventEmitter();
  private child?: ChildProcess;
  private supervised?: SupervisedProcess;
  private spec?: JobProcessSpec;
  private log?: WriteStream;
  private cancelRequested = false;
  private lastError?: string;
  private lastStderr?: string;
  private statusWrite: Promise<void> = Promise.resolve();
  private statusTimer?: NodeJS.Timeout;
  private killTimers: NodeJS.Timeout[] = [];
  private resolveFinished!: (s: JobStatus) => void;

  constructor(dir: string, private readonly request: JobRequest) {
    this.dir = dir;
    this.status = {
      kind: request.kind,
      state: 'running',
      title: request.title,
      target: request.target,
      startedAt: nowIso(),
      executionProvider: request.executionProvider,
      progress: 0,
      outputs: [],
    };
    this.finished = new Promise((r) => (this.resolveFinished = r));
  }

  get logFile(): string {
    return path.join(this.dir, LOG_FILE);
  }

  /** status changed (progress, state, outputs) */
  onDidChange(listener: (s: JobStatus) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  /** a kind-specific payload the process sent (see JobEvent 'data') */
  onData(listener: (payload: unknown) => void): () => void {
    this.events.on('data', listener);
    return () => this.events.off('data', listener);
  }

  /** one line of log text (already written to log.txt) */
  onLog(listener: (line: string) => void): () => void {
    this.events.on('log', listener);
    return () => this.events.off('log', listener);
  }

  /** Starts the process. A job that cannot start ends as failed (with the reason); this never throws. */
  async start(): Promise<void> {
    try {
      await this.launch();
    } catch (e) {
      if (this.child) this.child.kill('SIGKILL');
      this.supervised?.kill();
      this.lastError = `could not start the job: ${e instanceof Error ? e.message : String(e)}`;
      this.writeLog(this.lastError);
      this.status = { ...this.status, state: 'failed', endedAt: nowIso(), error: this.lastError };
      this.log?.end();
      await this.writeStatusNow();
      this.emitChange();
      this.resolveFinished(this.status);
    }
  }

  private async launch(): Promise<void> {
    await writeJsonAtomic(path.join(this.dir, SETTINGS_FILE), this.request.settings);
    this.log = createWriteStream(this.logFile, { flags: 'a' });
    const spec = (this.spec = this.request.process(this.dir));
    this.writeLog(`[${nowIso()}] ${this.request.title}`);
    this.writeLog(`[${nowIso()}] run folder: ${this.dir}`);
    if (spec.type === 'supervised') {
      this.writeLog(`[${nowIso()}] ${spec.commandLine}`);
      const p = (this.supervised = spec.start());
      this.status.pid = p.pid;
      p.onMessage((m) => this.handle(m));
      p.onStderr((text) => {
        for (const line of text.split(/\r?\n/)) {
          if (line.trim()) this.lastStderr = line.trim();
          if (line) this.writeLog(line);
        }
      });
      void p.exited.then(({ code, error, details }) => {
        if (error) this.lastError ??= error;
        if (details) this.writeLog(details);
        void this.onExit(code, null);
      });
      await this.writeStatusNow();
      this.emitChange();
      return;
    }
    const env = { ...process.env, ...spec.env, ELECTRON_RUN_AS_NODE: '1' };
    let child: ChildProcess;
    if (spec.type === 'fork') {
      this.writeLog(`[${nowIso()}] node ${[spec.modulePath, ...spec.args].join(' ')}`);
      // execArgv: [] so the job does not inherit the extension host's inspector/debug flags
      child = fork(spec.modulePath, spec.args, {
        cwd: spec.cwd ?? this.dir, env, execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      child.on('message', (m) => this.handle(m));
    } else {
      this.writeLog(`[${nowIso()}] ${[spec.command, ...spec.args].join(' ')}`);
      child = spawn(spec.command, spec.args, { cwd: spec.cwd ?? this.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    }
    this.child = child;
    this.status.pid = child.pid;
    createInterface({ input: child.stdout! }).on('line', (line) => this.stdoutLine(line, spec.type === 'spawn'));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (line.trim()) this.lastStderr = line.trim();
      this.writeLog(line);
    });
    child.on('error', (err) => {
      this.lastError = `could not start the job process: ${err.message}`;
      this.writeLog(this.lastError);
    });
    child.on('close', (code, signal) => void this.onExit(code, signal));
    if (spec.type === 'fork' && this.request.protocol.startMessage !== undefined) {
      child.send(this.request.protocol.startMessage as object);
    }
    await this.writeStatusNow();
    this.emitChange();
  }

  cancel(): void {
    if (this.status.state !== 'running' || this.cancelRequested) return;
    this.cancelRequested = true;
    this.writeLog(`[${nowIso()}] cancel requested`);
    if (this.supervised) return this.supervised.cancel();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const canAsk = child.connected && this.request.protocol.cancelMessage !== undefined;
    if (canAsk) child.send(this.request.protocol.cancelMessage as object);
    const stopSignal = this.spec?.type === 'spawn' ? this.spec.cancelSignal ?? 'SIGTERM' : 'SIGTERM';
    const term = () => child.exitCode === null && child.signalCode === null && child.kill(stopSignal);
    const kill = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
    const grace = this.spec?.type === 'spawn' ? this.spec.cancelGraceMs ?? CANCEL_GRACE_MS : CANCEL_GRACE_MS;
    if (canAsk) {
      this.killTimers.push(setTimeout(term, grace), setTimeout(kill, 2 * grace));
    } else {
      term();
      this.killTimers.push(setTimeout(kill, grace));
    }
  }

  /**
   * The window is going away: stop the process and record the job as interrupted, synchronously
   * (deactivate() may not get to run async work to completion).
   */
  interruptSync(): void {
    if (this.status.state !== 'running') return;
    this.child?.kill('SIGTERM');
    this.supervised?.kill();
    this.status = { ...this.status, state: 'failed', endedAt: nowIso(), error: INTERRUPTED, progress: undefined };
    try {
      writeJsonAtomicSync(path.join(this.dir, STATUS_FILE), this.status);
    } catch {
      // the run folder may be gone (deleted by the user); nothing else to record
    }
  }

  private stdoutLine(line: string, jsonLines: boolean): void {
    const own = this.request.protocol.line?.(line);
    if (own) {
      this.apply(own);
      return;
    }
    const t = line.trim();
    if (jsonLines && t.startsWith('{')) {
      try {
        this.handle(JSON.parse(t));
        return;
      } catch {
        // not JSON after all: keep it as log text
      }
    }
    this.writeLog(line);
  }

  private handle(message: unknown): void {
    let events: JobEvent[];
    try {
      events = this.request.protocol.interpret(message);
    } catch (e) {
      this.writeLog(`unreadable message from the job process: ${(e as Error).message}`);
      return;
    }
    this.apply(events);
  }

  private apply(events: JobEvent[]): void {
    let changed = false;
    for (const ev of events) {
      switch (ev.type) {
        case 'log':
          for (const l of ev.text.split(/\r?\n/)) this.writeLog(l);
          break;
        case 'progress':
          if (typeof ev.fraction === 'number' && Number.isFinite(ev.fraction)) {
            this.status.progress = Math.min(1, Math.max(0, ev.fraction));
          }
          if (ev.message !== undefined) this.status.progressMessage = ev.message;
          changed = true;
          break;
        case 'executionProvider':
          this.status.executionProvider = ev.name;
          this.writeLog(`[${nowIso()}] execution provider: ${ev.name}`);
          changed = true;
          break;
        case 'output':
          if (!this.status.outputs!.includes(ev.path)) this.status.outputs!.push(ev.path);
          this.writeLog(`[${nowIso()}] wrote ${ev.path}`);
          changed = true;
          break;
        case 'error':
          this.lastError = ev.message;
          this.writeLog(`error: ${ev.message}`);
          break;
        case 'data':
          this.events.emit('data', ev.payload);
          break;
      }
    }
    if (changed) {
      this.emitChange();
      this.scheduleStatusWrite();
    }
  }

  private async onExit(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    for (const t of this.killTimers) clearTimeout(t);
    if (this.statusTimer) clearTimeout(this.statusTimer);
    if (this.status.state !== 'running') {
      // interruptSync() already recorded the outcome
      this.resolveFinished(this.status);
      return;
    }
    if (this.request.protocol.onExit) {
      try {
        this.apply(this.request.protocol.onExit(code));
      } catch (e) {
        this.lastError = `could not read the job's results: ${(e as Error).message}`;
      }
    }
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    // a cancelled job counts as cancelled even when its process stops cleanly (exit 0) on the request
    const state = this.cancelRequested ? 'cancelled' : code === 0 && !this.lastError ? 'done' : 'failed';
    this.status = {
      ...this.status,
      state,
      endedAt: nowIso(),
      progress: state === 'done' ? 1 : this.status.progress,
      error: state === 'failed'
        ? this.lastError ?? `the job process exited with ${signal ? `signal ${signal}` : `code ${code}`}${this.lastStderr ? `: ${this.lastStderr}` : ''}`
        : undefined,
    };
    this.writeLog(`[${this.status.endedAt}] ${state}${this.status.error ? `: ${this.status.error}` : ''}`);
    await new Promise<void>((r) => (this.log ? this.log.end(r) : r()));
    await this.writeStatusNow();
    this.emitChange();
    this.resolveFinished(this.status);
  }

  private writeLog(raw: string): void {
    // the runtime colours its own log lines (ESC[1;31m…); log.txt and the output channel get plain text
    const line = stripVTControlCharacters(raw);
    this.log?.write(line + '\n');
    this.events.emit('log', line);
  }

  private emitChange(): void {
    this.events.emit('change', this.status);
  }

  /** Progress can arrive many times a second; status.json is rewritten at most twice a second. */
  private scheduleStatusWrite(): void {
    if (this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      void this.writeStatusNow();
    }, 500);
  }

  private writeStatusNow(): Promise<void> {
    const snapshot = { ...this.status, outputs: [...(this.status.outputs ?? [])] };
    // serialized, so an older snapshot never lands after a newer one
    this.statusWrite = this.statusWrite
      .then(() => writeJsonAtomic(path.join(this.dir, STATUS_FILE), snapshot))
      .catch((e) => this.writeLog(`could not write ${STATUS_FILE}: ${(e as Error).message}`));
    return this.statusWrite;
  }
}

/**
 * Creates the run folder under `runsRoot` and starts the job's process. `beforeStart` sees the job before
 * its first log line, so listeners miss nothing.
 */
export async function startJob(runsRoot: string, request: JobRequest, beforeStart?: (job: RunningJob) => void): Promise<RunningJob> {
  return startJobIn(await createRunFolder(runsRoot, request.kind), request, beforeStart);
}

/**
 * Starts the job in an existing run folder: a resumed job continues in its own folder (its log is appended
 * to, its status rewritten), so one training keeps one folder, one Jobs view row and one chart.
 */
export async function startJobIn(dir: string, request: JobRequest, beforeStart?: (job: RunningJob) => void): Promise<RunningJob> {
  const job = new RunningJob(dir, request);
  beforeStart?.(job);
  await job.start();
  return job;
}
