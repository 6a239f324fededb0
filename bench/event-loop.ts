// Does scoring ever stall the process that launched it (the extension host, the CLI)? Scores a shipped
// pipeline through ScoringClient (a forked worker, as the extension does) while sampling this process's
// event-loop delay, and prints the distribution as JSON beside a baseline with no job running.
//   npx tsx bench/event-loop.ts [PIPELINE] [--samples N] [--steps T]
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ScoringClient } from '../src/worker/client';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const target = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? 'examples/digits-cond';

function summary(h: ReturnType<typeof monitorEventLoopDelay>) {
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  return { maxMs: ms(h.max), p99Ms: ms(h.percentile(99)), p50Ms: ms(h.percentile(50)), meanMs: ms(h.mean) };
}

async function idle(ms: number) {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  await new Promise((r) => setTimeout(r, ms));
  h.disable();
  return summary(h);
}

async function main() {
  const baseline = await idle(3000);
  const dir = mkdtempSync(join(tmpdir(), 'ld-bench-loop-'));
  const h = monitorEventLoopDelay({ resolution: 10 });
  const t0 = Date.now();
  let events = 0;
  h.enable();
  const client = ScoringClient.start(
    { target: resolve(target), out: join(dir, 'scores.json'), settings: { samples: flag('--samples', 8), steps: flag('--steps', 10), granularity: 'block', ep: 'cpu' } },
    { modulePath: resolve('src/worker/worker.ts'), execArgv: ['--import', 'tsx'] },
  );
  client.onEvent(() => events++);
  const outcome = await client.finished;
  h.disable();
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({
    target, state: outcome.state, scoringSeconds: (Date.now() - t0) / 1000, workerEvents: events,
    eventLoopDelayWhileScoring: summary(h), eventLoopDelayIdleBaseline: baseline,
  }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
