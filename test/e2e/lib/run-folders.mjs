// Where an e2e run keeps its state. Every run has its own folder, OUT/runs/<pid>-<time>/{run,screenshots}: two runs
// in one working tree (two terminals, two helpers) no longer delete each other's code-server state. OUT/run and
// OUT/screenshots link to the latest run's, where people and CI look; a run's folder is removed by a later run once
// its process is gone. Plain node, no dependencies: the harness uses it before test/e2e/node_modules exists.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

/** This run's folders under `out` (not created yet). */
export function runFolders(out, pid = process.pid, now = Date.now()) {
  const dir = join(out, 'runs', `${pid}-${now.toString(36)}`);
  return { dir, run: join(dir, 'run'), screenshots: join(dir, 'screenshots') };
}

/**
 * Whether process `pid` still runs. Written here rather than taken from src/core/work-dirs.ts (isProcessAlive): the
 * harness runs under plain node, before anything is built, and does not load TypeScript sources.
 */
export function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return e.code === 'EPERM';
  }
  // a zombie (exited, not reaped) answers signal 0 too
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return true;
  }
}

/** Removes the run folders under `out` whose process is gone; returns their names. A running one's is left alone. */
export function removeFinishedRuns(out) {
  const runs = join(out, 'runs');
  const removed = [];
  for (const name of existsSync(runs) ? readdirSync(runs) : []) {
    const owner = /^(\d+)-[0-9a-z]+$/.exec(name);
    if (!owner || Number(owner[1]) === process.pid || alive(Number(owner[1]))) continue;
    rmSync(join(runs, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Points `out/<name>` at `target` in one rename (the layout before per-run folders had a real folder there: removed). */
export function linkLatest(out, name, target) {
  const link = join(out, name);
  const st = lstatSync(link, { throwIfNoEntry: false });
  if (st && !st.isSymbolicLink()) rmSync(link, { recursive: true, force: true });
  const tmp = join(out, `.${name}.${process.pid}.link`);
  rmSync(tmp, { force: true });
  symlinkSync(relative(out, target), tmp, 'dir');
  renameSync(tmp, link);
}

/** Sets a run up: finished runs' folders removed, this run's made, out/run and out/screenshots pointed at them. */
export function startRun(out, run, screenshots) {
  removeFinishedRuns(out);
  mkdirSync(run, { recursive: true });
  mkdirSync(screenshots, { recursive: true });
  linkLatest(out, 'run', run);
  linkLatest(out, 'screenshots', screenshots);
}
