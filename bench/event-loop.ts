// Does opening, editing or scoring a model ever stall the process that launched it (the extension
// host, the CLI)? Samples this process's event-loop delay (a) while a model (the SD-1.5 U-Net from
// bench/gen_sd_unet.py by default) is opened, analysed and indexed, then edited and undone, in the
// model worker thread (as the graph editor does), beside the same open done on this thread (what the
// editor did before), and (b) while a shipped pipeline is scored through ScoringClient (a forked
// worker); prints the distributions as JSON beside a baseline with nothing running (the idle baseline
// shows what a busy machine alone costs), and (c) while the Model view's service gets the model's
// module tree: before, analysed on this thread (what ModelService did) vs after, from the model worker
// (a fresh analysis, and the graph editor's open document), and (d) while the graph editor's "open node"
// and the inspector's weight statistics are clicked: before, the host read + analysed the model on the
// first click and computed the statistics itself; after, the document's worker thread answers. Target: max ≤ 50 ms.
//   npx tsx bench/event-loop.ts [PIPELINE] [--samples N] [--steps T] [--model M.onnx] [--no-score] [--no-open] [--no-model-view] [--no-clicks]
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sdModels } from './common';
import { ScoringClient } from '../src/worker/client';
import { ModelWorker } from '../src/core/edit';
import { analyzeModel, buildGraphIndex, moduleSummary } from '../src/core/graph';
import { perSampleInputShapes } from '../src/core/graph/input-shapes';
import { nodeDefinition } from '../src/core/graph/node-definition';
import { findTensor, tensorStats } from '../src/core/graph/tensor-stats';
import { numElements } from '../src/core/onnx/types';
import { readTensorBytes } from '../src/core/onnx/tensor-data';
import { readModel } from '../src/core/onnx/reader';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const target = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? 'examples/digits-cond';
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
/** the full-width SD-1.5 U-Net when it was generated, otherwise a narrower one (same graph, fewer weights) */
const model = opt('--model') ?? sdModels()[0] ?? 'examples/digits-cond/unet/model.onnx';

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

/**
 * Runs fn while a 5 ms interval timer measures the gaps between its ticks: a gap well over 5 ms is
 * the event loop being blocked (or this thread not getting a core) for that long.
 */
async function sampled<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; delay: { maxMs: number; p99Ms: number; p50Ms: number; ticks: number } }> {
  const gaps: number[] = [];
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 5);
  const t0 = performance.now();
  try {
    const value = await fn();
    gaps.push(performance.now() - last);
    const sorted = [...gaps].sort((a, b) => a - b);
    const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 100) / 100;
    return { value, seconds: Math.round(performance.now() - t0) / 1000, delay: { maxMs: at(1), p99Ms: at(0.99), p50Ms: at(0.5), ticks: gaps.length } };
  } finally {
    clearInterval(tick);
  }
}

/** Opening and editing in the model worker thread vs opening on this thread. */
async function opening() {
  const entry = workerEntry();
  const worker = ModelWorker.start({ modulePath: entry });
  try {
    const open = await sampled(() => worker.open({ path: resolve(model) }));
    const doc = open.value;
    const block = doc.index.modules.find((m) => /^mid_block\.attentions\.0$/.test(m.id))?.id ?? doc.index.modules.find((m) => m.depth === 2)?.id;
    const edit = await sampled(async () => (block ? doc.apply({ kind: 'bypass', module: block }) : undefined));
    const undo = await sampled(() => doc.undo());
    const onHost = await sampled(async () => {
      const m = await readModel(resolve(model));
      return buildGraphIndex(await analyzeModel(m, { inputShapes: perSampleInputShapes(m) })).nodes.length;
    });
    return {
      model, nodes: doc.index.nodes.length, workerEntry: entry, cpus: cpus().length, loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
      openInWorker: { seconds: open.seconds, eventLoopDelay: open.delay },
      editInWorker: { edit: `bypass ${block}`, seconds: edit.seconds, eventLoopDelay: edit.delay },
      undoInWorker: { seconds: undo.seconds, eventLoopDelay: undo.delay },
      baselineOpenOnHost: { seconds: onHost.seconds, eventLoopDelay: onHost.delay },
    };
  } finally {
    await worker.dispose();
  }
}

function workerEntry(): string {
  return existsSync('dist/model-worker.js') ? resolve('dist/model-worker.js') : resolve('src/worker/model-worker.ts');
}

/**
 * The Model view's tree of the model: ModelService before (read + analyse on this thread) beside
 * after (ModelWorker.modules + linking the tree here), fresh and with the editor's document open.
 */
async function modelView() {
  const worker = ModelWorker.start({ modulePath: workerEntry() });
  const file = resolve(model);
  try {
    await worker.modules(file); // starts the worker and warms the file cache for both sides alike
    const before = await sampled(async () => {
      const m = await readModel(file);
      const a = await analyzeModel(m, { inputShapes: perSampleInputShapes(m) });
      return a.total.get(a.tree.root)!.params;
    });
    let messageBytes = 0;
    const after = await sampled(async () => {
      const list = await worker.modules(file);
      messageBytes = JSON.stringify(list).length;
      return moduleSummary(list).root.stats.params;
    });
    if (after.value !== before.value) throw new Error(`model view: worker tree has ${after.value} params, host analysis ${before.value}`);
    const doc = await worker.open({ path: file });
    const fromEditor = await sampled(async () => moduleSummary(await worker.modules(file)).root.stats.params);
    await doc.close();
    return {
      model, modules: moduleSummary(await worker.modules(file)).byId.size, messageBytes, cpus: cpus().length, loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
      beforeAnalysisOnHost: { seconds: before.seconds, eventLoopDelay: before.delay },
      afterWorker: { seconds: after.seconds, eventLoopDelay: after.delay },
      afterWorkerEditorOpen: { seconds: fromEditor.seconds, eventLoopDelay: fromEditor.delay },
    };
  } finally {
    await worker.dispose();
  }
}

/**
 * "Open node" and the weight statistics of the largest weight of the node, clicked in a graph editor:
 * before (what graphActions/nodeDocument did on the host: read + analyse on the first click, then the
 * statistics on this thread) beside after (the open document's worker thread answers both).
 */
async function clicks() {
  const worker = ModelWorker.start({ modulePath: workerEntry() });
  const file = resolve(model);
  try {
    const doc = await worker.open({ path: file });
    // the node with the largest weight: the slowest statistics a click can ask for
    const m = await readModel(file);
    const a = await analyzeModel(m, { inputShapes: perSampleInputShapes(m) });
    let best: { node: string; tensor: string; elements: number } | undefined;
    for (const n of m.graph.nodes) {
      for (const i of n.inputs) {
        const t = a.view.initializer(i);
        const elements = t ? numElements(t.dims) : 0;
        if (t && elements > (best?.elements ?? 0)) best = { node: a.view.nodeId(n), tensor: i, elements };
      }
    }
    if (!best) throw new Error(`${file} has no weights`);
    const pick = best;
    const beforeNode = await sampled(async () => {
      const m2 = await readModel(file);
      return nodeDefinition(await analyzeModel(m2, { inputShapes: perSampleInputShapes(m2) }), pick.node);
    });
    // before: graphActions read the whole tensor (async I/O), then decoded and summed it on this thread in
    // one go; the same here: the bytes read, then the statistics of them in memory (no await inside)
    const beforeStats = await sampled(async () => {
      const t = findTensor(a, pick.tensor)!;
      const bytes = await readTensorBytes(t);
      return tensorStats({ ...t, location: { kind: 'inline', bytes, field: 'raw' } }, file);
    });
    const afterNode = await sampled(() => worker.node(file, pick.node));
    const afterStats = await sampled(() => worker.weightStats(file, pick.tensor));
    if (JSON.stringify(afterNode.value) !== JSON.stringify(beforeNode.value)) throw new Error('open node: the worker and the host disagree');
    if (afterStats.value.std !== beforeStats.value.std) throw new Error('weight statistics: the worker and the host disagree');
    await doc.close();
    return {
      model, node: pick.node, tensor: pick.tensor, elements: pick.elements, cpus: cpus().length, loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
      beforeOpenNodeOnHost: { seconds: beforeNode.seconds, eventLoopDelay: beforeNode.delay },
      beforeWeightStatsOnHost: { seconds: beforeStats.seconds, eventLoopDelay: beforeStats.delay },
      afterOpenNodeInWorker: { seconds: afterNode.seconds, eventLoopDelay: afterNode.delay },
      afterWeightStatsInWorker: { seconds: afterStats.seconds, eventLoopDelay: afterStats.delay },
    };
  } finally {
    await worker.dispose();
  }
}

async function main() {
  const baseline = (await sampled(() => new Promise((r) => setTimeout(r, 3000)))).delay;
  const open = args.includes('--no-open') ? undefined : await opening();
  const modelViewTree = args.includes('--no-model-view') ? undefined : await modelView();
  const graphClicks = args.includes('--no-clicks') ? undefined : await clicks();
  if (args.includes('--no-score')) {
    console.log(JSON.stringify({ eventLoopDelayIdleBaseline: baseline, open, modelView: modelViewTree, clicks: graphClicks }, null, 2));
    return;
  }
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
    eventLoopDelayWhileScoring: summary(h), eventLoopDelayIdleBaseline: baseline, open, modelView: modelViewTree, clicks: graphClicks,
  }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
