// A job's run folder: `<root>/<timestamp>-<kind>/` holding settings.json (what was asked), log.txt,
// status.json (state, times, execution provider, outputs) and whatever results the job writes.
// The folder is the job's only record, so the jobs view survives a window reload.
// Nothing here imports `vscode`: the same code is used by tests outside VS Code.
import { promises as fs, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { isProcessAlive, tempFileFor } from '../../core/work-dirs';
import { writeFileAtomic } from '../../core/pipeline/output-files';

export { isProcessAlive };

export type JobKind = 'score' | 'prune' | 'distill' | 'measure';
export type JobState = 'running' | 'done' | 'failed' | 'cancelled';

export interface JobStatus {
  kind: JobKind;
  state: JobState;
  /** short human title, e.g. "Score operators: unet/model.onnx" */
  title: string;
  /** the model file or pipeline folder the job works on */
  target: string;
  startedAt: string;
  endedAt?: string;
  /** the execution provider actually used, once the job reports it (else the requested one) */
  executionProvider?: string;
  /** pid of the job's process, to tell a live job from one whose process died while no window watched it */
  pid?: number;
  /** 0..1 while running */
  progress?: number;
  progressMessage?: string;
  /** files the job produced (absolute paths), newest last */
  outputs?: string[];
  error?: string;
}

export const STATUS_FILE = 'status.json';
export const SETTINGS_FILE = 'settings.json';
export const LOG_FILE = 'log.txt';

/** 2024-05-01T12:03:04.567Z → 20240501-120304 (UTC, sorts by time) */
function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** Creates a fresh run folder; a second job started within the same second gets a -2, -3... suffix. */
export async function createRunFolder(root: string, kind: JobKind, now = new Date()): Promise<string> {
  await fs.mkdir(root, { recursive: true });
  const base = `${stamp(now)}-${kind}`;
  for (let i = 1; ; i++) {
    const dir = path.join(root, i === 1 ? base : `${base}-${i}`);
    try {
      await fs.mkdir(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Writes JSON through a hidden, owner-named temp file + rename (core/work-dirs), so a reader never sees half a file. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = tempFileFor(file);
  try {
    await fs.writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** Synchronous variant, for the extension's deactivate() where awaiting is not guaranteed to finish. */
export function writeJsonAtomicSync(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

const STATES: readonly JobState[] = ['running', 'done', 'failed', 'cancelled'];
const KINDS: readonly JobKind[] = ['score', 'prune', 'distill', 'measure'];

/** Reads a run folder's status; undefined when it is missing or not a status this extension wrote. */
export async function readStatus(dir: string): Promise<JobStatus | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(path.join(dir, STATUS_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  const s = raw as Partial<JobStatus>;
  if (!s || typeof s !== 'object' || !STATES.includes(s.state as JobState) || !KINDS.includes(s.kind as JobKind)) {
    return undefined;
  }
  if (typeof s.target !== 'string' || typeof s.startedAt !== 'string') return undefined;
  return { ...s, title: typeof s.title === 'string' ? s.title : `${s.kind} ${path.basename(s.target)}` } as JobStatus;
}


export const INTERRUPTED = 'interrupted: the job process ended without reporting a result (was the VS Code window closed?)';

/**
 * A status as it should be shown when nobody in this window is running the job: a "running" job whose
 * process is gone is reported as failed (interrupted).
 */
export function settleOrphan(status: JobStatus): JobStatus {
  if (status.state !== 'running' || isProcessAlive(status.pid)) return status;
  return { ...status, state: 'failed', error: status.error ?? INTERRUPTED, progress: undefined };
}

export interface RunRecord {
  /** absolute run folder path; also the job's id */
  dir: string;
  status: JobStatus;
}

/** Every run folder under `root` that has a readable status, newest first. */
export async function listRuns(root: string): Promise<RunRecord[]> {
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch {
    return [];
  }
  const records = await Promise.all(
    names.map(async (name) => {
      const dir = path.join(root, name);
      const status = await readStatus(dir);
      return status ? { dir, status } : undefined;
    }),
  );
  return records
    .filter((r): r is RunRecord => !!r)
    .sort((a, b) => b.status.startedAt.localeCompare(a.status.startedAt) || b.dir.localeCompare(a.dir));
}
