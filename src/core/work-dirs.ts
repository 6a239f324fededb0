// Scratch folders for large temporary files (a gated evaluation model can be hundreds of MB), named after the
// process that owns them, PREFIX<pid>-XXXXXX. A process killed outright (out of memory, SIGKILL, a crashed
// host) cannot delete its folder; the next run sees that the owner is gone and removes it.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else, so it is alive
    return (e as NodeJS.ErrnoException).code === 'EPERM';
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
