// Two e2e runs in one working tree keep apart: each has its own folder under .e2e/runs/, a second run starting
// leaves the first one's code-server state alone, .e2e/run and .e2e/screenshots point at the latest run, and a run's
// folder goes once its process is gone (test/e2e/lib/run-folders.mjs, what test/e2e/run.mjs calls at start).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tempDir } from './pipeline-fixtures';

interface Folders { dir: string; run: string; screenshots: string }
interface RunFolders {
  runFolders(out: string, pid?: number, now?: number): Folders;
  startRun(out: string, run: string, screenshots: string): void;
}
const MODULE = pathToFileURL(resolve(__dirname, 'e2e', 'lib', 'run-folders.mjs')).href;

test('a second e2e run leaves a running one alone, takes over .e2e/run, and sweeps runs that are over', async () => {
  const { runFolders, startRun } = (await import(MODULE)) as RunFolders;
  const t = tempDir('e2e-runs-');
  // a run of another process that is still going
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  try {
    const out = join(t.dir, '.e2e');
    // the layout before per-run folders: a real .e2e/run folder
    mkdirSync(join(out, 'run'), { recursive: true });
    writeFileSync(join(out, 'run', 'e2e.log'), 'old layout');
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const finished = runFolders(out, dead, 1);
    mkdirSync(finished.run, { recursive: true });

    const a = runFolders(out, other.pid!, 2);
    startRun(out, a.run, a.screenshots);
    assert.ok(lstatSync(join(out, 'run')).isSymbolicLink(), 'the old real folder became the link');
    assert.ok(!existsSync(finished.dir), "a run whose process is gone is swept");
    writeFileSync(join(a.run, 'e2e.log'), 'run A');
    mkdirSync(join(a.run, 'data'));

    const b = runFolders(out, process.pid, 3);
    startRun(out, b.run, b.screenshots);
    assert.equal(readFileSync(join(a.run, 'e2e.log'), 'utf8'), 'run A', "the running run's state is untouched");
    assert.ok(existsSync(join(a.run, 'data')));
    assert.equal(realpathSync(join(out, 'run')), realpathSync(b.run), '.e2e/run is the latest run');
    assert.equal(realpathSync(join(out, 'screenshots')), realpathSync(b.screenshots));

    // run A ends: the next run removes its folder, never this (running) one's
    other.kill();
    await new Promise((r) => other.once('exit', r));
    const c = runFolders(out, process.pid, 4);
    startRun(out, c.run, c.screenshots);
    assert.ok(!existsSync(a.dir), "the ended run's folder is gone");
    assert.ok(existsSync(b.run), "this process's own earlier folder stays");
    assert.equal(realpathSync(join(out, 'run')), realpathSync(c.run));
  } finally {
    other.kill();
    t.done();
  }
});
