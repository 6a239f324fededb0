// CLI start-up benchmark: `ld-surgeon --help` (the command list: dist/cli.js alone) against a bare
// `node -e 0` and against a command's own help (`ld-surgeon help inspect`: the commands bundle,
// the model reader and onnxruntime-node load), run interleaved in the same session. Prints JSON.
//
//   npm run build && npx tsx bench/cli-startup.ts [--runs 30]
//
// Wall time is per process (spawn to exit); cpuMs is the mean user+system time of the children, from
// /proc/self/stat (Linux; 10 ms ticks, so only the mean over all runs is meaningful).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'bin', 'ld-surgeon.js');
const TARGET_MS = 150;

const variants: Record<string, string[]> = {
  'node -e 0 (baseline)': ['-e', '0'],
  'ld-surgeon --help': [CLI, '--help'],
  'ld-surgeon help inspect': [CLI, 'help', 'inspect'],
};

/** user+system CPU of waited-for children, ms (fields cutime, cstime of /proc/self/stat) */
function childrenCpuMs(): number | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100; // USER_HZ is 100 on Linux
}

function stats(xs: number[]): { medianMs: number; minMs: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { medianMs: +s[Math.floor(s.length / 2)].toFixed(1), minMs: +s[0].toFixed(1) };
}

function main(): void {
  const i = process.argv.indexOf('--runs');
  const runs = i > 0 ? Number(process.argv[i + 1]) : 30;
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: npm run build first');
  const wall: Record<string, number[]> = {};
  const cpu: Record<string, number> = {};
  for (let r = 0; r < runs; r++) {
    for (const [name, args] of Object.entries(variants)) {
      const c0 = childrenCpuMs();
      const t0 = performance.now();
      const p = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      const ms = performance.now() - t0;
      if (p.status !== 0) throw new Error(`${name} failed (${p.status}): ${p.stderr}`);
      (wall[name] ??= []).push(ms);
      const c1 = childrenCpuMs();
      if (c0 !== undefined && c1 !== undefined) cpu[name] = (cpu[name] ?? 0) + (c1 - c0) / runs;
    }
  }
  const results = Object.keys(variants).map((name) => ({ variant: name, ...stats(wall[name]), cpuMs: cpu[name] === undefined ? null : +cpu[name].toFixed(1) }));
  const help = results[1];
  const base = results[0];
  process.stdout.write(JSON.stringify({
    bench: 'cli-startup', runs, node: process.version, results,
    // On a loaded machine bare node alone can exceed the target: the CPU time and the distance over
    // bare node say more there than the wall time.
    target: {
      ms: TARGET_MS, wallMet: help.medianMs <= TARGET_MS, cpuMet: help.cpuMs === null ? null : help.cpuMs <= TARGET_MS,
      overBareNodeMs: +(help.medianMs - base.medianMs).toFixed(1),
    },
  }, null, 2) + '\n');
}

main();
