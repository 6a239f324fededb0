// Scratch folders for large temporary files (a gated evaluation model can be hundreds of MB), named after the
// process that owns them, PREFIX<pid>-XXXXXX. A process killed outright (out of memory, SIGKILL, a crashed
// host) cannot delete its folder; the next run sees that the owner is gone and removes it.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** ld-surgeon's scratch folders: the scoring worker's (owned by its host), and a gated evaluation model's. */
export const WORKER_DIR_PREFIX = 'ld-surgeon-worker-';
export const EVAL_DIR_PREFIX = 'ld-surgeon-eval-';
/** the graph editor's "Check model": the edited document encoded for onnxruntime, removed afterwards */
export const EDIT_CHECK_DIR_PREFIX = 'ld-surgeon-edit-check-';

/** Folders from versions that did not name their owner are removed once untouched this long. */
export const UNOWNED_STALE_MS = 24 * 60 * 60 * 1000;

export function isProcessAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to someone else, so it is alive
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * Whether a process has exited but not been reaped. A SIGKILLed CLI's forked worker is re-parented to
 * PID 1, and in a container whose PID 1 does not reap (a shell, node) it stays a zombie for good: signal 0
 * still reaches it, so without this its locks and folders would count as held forever. Linux only (/proc).
 */
function isZombie(pid: number): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

/** A fresh folder PREFIX<this pid>-XXXXXX under `root` (default: the OS temp dir), created with `root` if need be. */
export function makeWorkDir(prefix: string, root?: string): string {
  if (root) mkdirSync(root, { recursive: true });
  return mkdtempSync(join(root ?? tmpdir(), `${prefix}${process.pid}-`));
}

/**
 * Removes the folders under `root` (default: the OS temp dir) that one of `prefixes` names and whose owning
 * process is gone; returns their paths. A live owner's folder is never touched, whoever runs this.
 */
export function removeStaleWorkDirs(prefixes: readonly string[], root: string = tmpdir(), now = Date.now()): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const prefix = prefixes.find((p) => name.startsWith(p));
    if (!prefix) continue;
    const dir = join(root, name);
    const owner = /^(\d+)-[^-]+$/.exec(name.slice(prefix.length));
    try {
      if (owner ? isProcessAlive(Number(owner[1])) : now - statSync(dir).mtimeMs < UNOWNED_STALE_MS) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // gone already, or not ours to remove (permissions): leave it
    }
  }
  return removed;
}

/**
 * A temporary file beside `target`, owned by this process: `.NAME.<pid>-<random>.tmp`. Hidden, so a killed
 * writer's leftover is never taken for an output, and named after its owner, so the next writer of the same
 * target can tell a dead process's leftover (removeStaleTempFiles) from a live one's. The Python trainer names
 * its temps the same way (ld_surgeon_distill/export.py).
 */
export function tempFileFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/** `s` matched literally inside a RegExp */
export const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Removes the temp files (tempFileFor's names, also `….tmp.data`, a temp model's weights) that a killed writer
 * of `target` left beside it, when their owner is gone; returns their paths. A live writer's temps are kept.
 */
export function removeStaleTempFiles(target: string): string[] {
  const re = new RegExp(`^\\.${escapeRe(basename(target))}\\.(\\d+)-[A-Za-z0-9_]+\\.tmp(\\.data)?$`);
  return removeDeadOwners(dirname(target), (name) => {
    const m = re.exec(name);
    return m ? [Number(m[1])] : undefined;
  });
}

/**
 * Removes the entries of `dir` (files or folders) whose owners are all gone; returns their paths. `owners` gives the
 * pids an entry's name carries (undefined: not ours, left alone); this process and live owners keep theirs.
 */
export function removeDeadOwners(dir: string, owners: (name: string) => number[] | undefined): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pids = owners(name);
    if (!pids || pids.some((pid) => pid === process.pid || isProcessAlive(pid))) continue;
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(join(dir, name));
    } catch {
      // not ours to remove (permissions): leave it
    }
  }
  return removed;
}

/**
 * Staging folders (`.NAME.staging-<pid>-<hex>`, and their `.old` side) a killed prune or distillation left
 * beside the output `final`: removed when the process that made them is gone, so a crash leaves nothing for long.
 */
export function removeStaleStaging(final: string): void {
  const prefix = `.${basename(final)}.staging-`;
  const tail = /^(\d+)-[0-9a-f]{8}(\.old)?$/;
  removeDeadOwners(dirname(final), (name) => {
    const m = name.startsWith(prefix) ? tail.exec(name.slice(prefix.length)) : null;
    return m ? [Number(m[1])] : undefined;
  });
}
