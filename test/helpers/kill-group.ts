// Running a CLI job and SIGKILLing it as the OOM killer or a lost machine would: the whole process group (the
// CLI and every child it started: the scoring worker, the Python trainer), with no chance to clean up.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface GroupRun {
  child: ChildProcess;
  /** stdout so far */
  out: () => string;
  /** stderr so far */
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `command args` as the leader of a new process group, so killGroup reaches its children too. */
export function spawnGroup(command: string, args: string[], cwd?: string): GroupRun {
  const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, out: () => out, err: () => err, exited };
}

export function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

/** The kill delays are seeded (the fuzzer's mulberry32), so a failing moment can be replayed. */
export { rng as seededRandom } from '../../bench/fuzz/mutate';

export const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Every file under `dir` (relative path → sha256), or one file: compared before and after a job, byte-identical. */
export function treeHashes(dir: string): Record<string, string> {
  if (!statSync(dir).isDirectory()) return { '.': sha256(dir) };
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out[relative(dir, p)] = sha256(p);
    }
  };
  walk(dir);
  return out;
}
