// Hostile-input fuzzer: mutated ONNX files (from the backend corpus and the shipped models) through
// reader → analysis → writer → reader, each case in a worker with a time limit. Prints JSON: counts
// per outcome, failures (crash, hang, oom, unclear error, reads outside the model folder), slowest
// cases, peak RSS.
//
//   npx tsx bench/fuzz.ts [--cases N] [--seed S] [--workers W] [--timeout-ms T] [--save DIR]
//
// --save copies every failing case's model (and what happened) to DIR, for minimising.
import { cpus } from 'node:os';
import { runFuzz } from './fuzz/engine';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const cases = Number(arg('--cases') ?? 10000);
  const seed = Number(arg('--seed') ?? 1);
  const workers = Number(arg('--workers') ?? Math.max(1, Math.min(4, cpus().length)));
  const timeoutMs = Number(arg('--timeout-ms') ?? 60000);
  let last = 0;
  const summary = await runFuzz({
    cases, seed, workers, timeoutMs, saveDir: arg('--save'),
    onProgress: (n) => { if (n - last >= 500) { last = n; process.stderr.write(`${n}/${cases}\n`); } },
  });
  console.log(JSON.stringify({
    ...summary,
    topRejections: summary.topRejections.slice(0, 25),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    workers,
    timeoutMs,
  }, null, 2));
}

main().catch((e) => { console.error(e); process.exit(1); });
