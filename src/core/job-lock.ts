// An owner lock for a file that a long job writes (a score file, a prune's output): `<file>.lock` holds
// the owner's pid, host, start time and a random token. A second job finds it and refuses with a message
// naming the running one, or waits; a lock whose pid is gone (SIGKILL, out of memory) is taken over.
//
// Hand-written rather than proper-lockfile: that library marks ownership with a directory whose mtime the
// owner must keep refreshing, so an owner whose event loop is busy longer than the stale time (onnxruntime
// building a session for a large model) loses its lock to a second job, and the lock records no owner to
// name in the refusal. Here staleness is decided by the owner's pid (core/work-dirs isProcessAlive), as
// the scratch folders and prune staging folders already are.
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { CancelledError, UserError } from './errors';
import { isProcessAlive } from './work-dirs';

export interface LockOwner {
  /** the process that writes the file (for scoring: the worker, not the CLI or extension that forked it) */
  pid: number;
  /** the process that started it (the CLI or the extension host), when there is one */
  parentPid?: number;
  host: string;
  startedAt: string;
  /** what the owner is doing, e.g. "score examples/digits-uncond" */
  job: string;
  token: string;
}

export interface LockOptions {
  /** wait for the running job to finish instead of refusing */
  wait?: boolean;
  signal?: AbortSignal;
  /** told once when the lock is held by another job and this one waits */
  onWait?: (owner: LockOwner) => void;
  /** how often a waiting job looks again (default 250 ms) */
  pollMs?: number;
}

export const lockPathFor = (file: string) => `${file}.lock`;

/** Another job holds the lock (and the caller did not ask to wait). */
export class LockedError extends UserError {
  constructor(message: string, file: string, readonly owner: LockOwner) {
    super(message, file);
    this.name = 'LockedError';
  }
}

export function describeOwner(o: LockOwner): string {
  const by = o.parentPid ? `, started by pid ${o.parentPid}` : '';
  return `${o.job} (pid ${o.pid}${by}, on ${o.host}, started at ${o.startedAt})`;
}

function readOwner(lock: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(lock, 'utf8')) as LockOwner;
    return typeof o?.pid === 'number' && typeof o.token === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

/** A lock from this machine whose process is gone; a lock from another host is never judged stale. */
function isStale(o: LockOwner): boolean {
  return o.host === hostname() && !isProcessAlive(o.pid);
}

/**
 * The file is complete before it becomes the lock: written under a private name, then hard-linked to
 * the lock's name, which (like O_EXCL) fails if the lock exists — so a reader never sees a half-written
 * owner, and exactly one of two racing jobs gets it.
 */
function tryCreate(lock: string, owner: LockOwner): boolean {
  const tmp = `${lock}.${owner.pid}.${owner.token}.tmp`;
  writeFileSync(tmp, JSON.stringify(owner) + '\n');
  try {
    linkSync(tmp, lock);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new UserError(`${lock}: cannot create the lock file: ${(e as Error).message}`, lock);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Removes a dead owner's lock. Moved aside first and checked: if another job replaced the stale lock
 * between our read and the move, its lock is put back (and we try again) instead of being deleted.
 */
function removeStale(lock: string, stale: LockOwner): void {
  const aside = `${lock}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lock, aside);
  } catch {
    return; // gone already: someone else removed it
  }
  const moved = readOwner(aside);
  if (moved && moved.token !== stale.token) {
    try {
      linkSync(aside, lock);
    } catch {
      // a third job got in; the owner we displaced finds out at its next write (HeldLock.check)
    }
  }
  rmSync(aside, { force: true });
}

/** The live job holding `file`'s lock, if any (a dead owner's lock does not count). */
export function runningOwner(file: string): LockOwner | undefined {
  const o = readOwner(lockPathFor(file));
  return o && !isStale(o) ? o : undefined;
}

export class HeldLock {
  private released = false;
  constructor(readonly file: string, readonly path: string, readonly owner: LockOwner) {}

  /**
   * Before each write: the lock is still ours. It can only be lost if someone deleted the lock file by
   * hand (or judged this process dead); then this job stops rather than interleave with the new owner.
   */
  check(): void {
    const now = readOwner(this.path);
    if (now?.token === this.owner.token) return;
    throw new UserError(
      `${this.file}: this job's lock ${this.path} was ${now ? `taken over by ${describeOwner(now)}` : 'removed'}; stopping without writing (the file keeps what was written)`,
      this.file,
    );
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    // only our own lock: never a successor's
    if (readOwner(this.path)?.token === this.owner.token) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Takes the lock on `file` for this process. Another live job's lock: LockedError naming it, or (with
 * `wait`) polls until that job ends (cancellable through `signal`). A dead job's lock is taken over.
 */
export async function acquireLock(file: string, job: string, o: LockOptions = {}): Promise<HeldLock> {
  const path = lockPathFor(file);
  const owner: LockOwner = {
    pid: process.pid,
    ...(process.send && process.ppid > 1 ? { parentPid: process.ppid } : {}),
    host: hostname(),
    startedAt: new Date().toISOString(),
    job,
    token: randomBytes(8).toString('hex'),
  };
  let told = false;
  for (;;) {
    if (o.signal?.aborted) throw new CancelledError();
    if (tryCreate(path, owner)) return new HeldLock(file, path, owner);
    const other = readOwner(path);
    if (!other) {
      // removed between our attempt and the read, or not a lock we can read: an unreadable one is left
      // for the user (it may belong to another program), a vanished one is simply retried
      try {
        readFileSync(path);
      } catch {
        continue;
      }
      throw new UserError(`${path}: exists but is not an ld-surgeon lock; delete it if no job is running on ${file}`, path);
    }
    if (isStale(other)) {
      removeStale(path, other);
      continue;
    }
    if (!o.wait) {
      const remote = other.host !== hostname() ? `; it runs on another machine: delete ${path} if it is no longer running` : '';
      throw new LockedError(`${file}: in use by ${describeOwner(other)}; wait for it to finish (or pass --wait)${remote}`, file, other);
    }
    if (!told) {
      told = true;
      o.onWait?.(other);
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 250));
  }
}
