// Editing an SD-scale U-Net (bench/gen_sd_unet.py) in the model worker thread, as the graph editor
// does: open (read + analyse + graph index, the baseline every edit is compared with), a first edit,
// a next edit, undo right after it (it must not wait for the worker's idle work), redo, a rename. The
// editor never lists all candidates: each edit builds the one it names. Worker-side milliseconds (what
// the edit itself costs) beside the host's round trip, `cpuMs` (CPU time of every thread of this process
// during the step: the worker, V8's compiler and GC helpers; less sensitive to other processes' load than
// wall time), and sentBytes: what reached the host for the graph (the index patch; a --baseline-worker
// from before patches sends the whole index). Prints JSON.
// Two ways of clicking, both in the output: `medians`, back to back (each request sent as soon as the
// last was answered: the worker is never idle), and with --pause-ms N `pausedMedians`: N ms after open
// and before each step but the undo, as a user who reads the graph before clicking (the worker's idle
// work, such as its rehearsal of an edit after open, runs then).
// analysisMs: per edit, the document's re-analysis of the edited model in this process, full (as
// before the incremental shape pass) beside incremental (re-inferring only what the edit changed).
// applyPartsMs: per edit, where EditableModel.apply's time goes in this process (lastApplyMs: the edit
// itself, re-analysis, checks, the change summary) and its total, medians over `runs`, warm (the same
// edits applied and undone `runs` times in one process).
// --baseline-worker W.js: the same steps on another model-worker bundle (an older commit's, built with
// esbuild as scripts/build.mjs does), run by run beside dist/model-worker.js, medians side by side.
// `machine.cpuShare`: the fraction of one core a busy loop got over 0.5 s before the runs (~1 idle).
//   npm run build && npx tsx bench/edit.ts [--model M.onnx] [--runs N] [--pause-ms N] [--baseline-worker W.js]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { measureCpuShare, sdModels } from './common';
import { EditableModel, ModelWorker, type ModelEdit } from '../src/core/edit';
import { analyzeWithValues, readFoldValues } from '../src/core/graph';
import { foldCandidates } from '../src/core/graph/analyze';
import { perSampleInputShapes } from '../src/core/graph/input-shapes';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const model = resolve(opt('--model') ?? sdModels()[0] ?? 'examples/digits-cond/unet/model.onnx');
const runs = Number(opt('--runs') ?? 3);
const pauseMs = Number(opt('--pause-ms') ?? 0);
if (!Number.isFinite(pauseMs) || pauseMs < 0) throw new Error(`--pause-ms: not a number of milliseconds: ${opt('--pause-ms')}`);
const BUDGET = { editMs: 200, undoMs: 100 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r1 = (x: number) => Math.round(x * 10) / 10;

const EDITS: [string, ModelEdit][] = [
  ['bypass mid_block.attentions.0', { kind: 'bypass', module: 'mid_block.attentions.0' }],
  ['bypass up_blocks.1.attentions.0', { kind: 'bypass', module: 'up_blocks.1.attentions.0' }],
  ['rename a node', { kind: 'rename-node', node: '/conv_in/Conv', to: 'stem' }],
];

/** Full vs incremental re-analysis of each edited snapshot, medians over `runs`, in this process. */
async function analysisSideBySide(): Promise<Record<string, { fullMs: number; incrementalMs: number }>> {
  const doc = await EditableModel.open(model);
  const times: Record<string, { full: number[]; incremental: number[] }> = {};
  for (const [label, edit] of EDITS) {
    const before = doc.analysis();
    await doc.apply(edit);
    const m = doc.model;
    const folded = await readFoldValues(foldCandidates(m));
    const shapes = perSampleInputShapes(m);
    const t = (times[label] = { full: [] as number[], incremental: [] as number[] });
    for (let run = 0; run < runs; run++) {
      let t0 = performance.now();
      analyzeWithValues(m, folded, shapes);
      t.full.push(performance.now() - t0);
      t0 = performance.now();
      analyzeWithValues(m, folded, shapes, undefined, before);
      t.incremental.push(performance.now() - t0);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { fullMs: r1(median(v.full)), incrementalMs: r1(median(v.incremental)) }]));
}

/** EditableModel.apply's parts for each edit in sequence, medians over `runs`, in this process. */
async function applyParts(): Promise<Record<string, Record<string, number>>> {
  const doc = await EditableModel.open(model);
  const times: Record<string, Record<string, number[]>> = {};
  for (let run = 0; run < runs; run++) {
    for (const [label, edit] of EDITS) {
      const t0 = performance.now();
      await doc.apply(edit);
      const total = performance.now() - t0;
      const row = (times[label] ??= {});
      for (const [k, v] of Object.entries({ ...doc.lastApplyMs!, total })) (row[k] ??= []).push(v);
    }
    for (let i = 0; i < EDITS.length; i++) doc.undo();
  }
  return Object.fromEntries(Object.entries(times).map(([k, parts]) => [k, Object.fromEntries(Object.entries(parts).map(([p, xs]) => [p, r1(median(xs))]))]));
}

type Rows = Record<string, { workerMs: number[]; roundTripMs: number[]; cpuMs: number[]; sentBytes: number[] }>;

/** CPU time (ms) of every thread of this process so far, from /proc (0 where there is none). */
function threadsCpuMs(): number {
  if (!existsSync('/proc/self/task')) return 0;
  let ns = 0;
  for (const t of readdirSync('/proc/self/task')) {
    try {
      ns += Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return ns / 1e6;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const entry = existsSync('dist/model-worker.js') ? resolve('dist/model-worker.js') : resolve('src/worker/model-worker.ts');
  const baselineEntry = opt('--baseline-worker') && resolve(opt('--baseline-worker')!);
  if (baselineEntry && !existsSync(baselineEntry)) throw new Error(`--baseline-worker: no file ${baselineEntry}`);
  const rows: Rows = {};
  const baseRows: Rows = {};
  const pausedRows: Rows = {};
  const basePausedRows: Rows = {};
  let nodes = 0;
  let indexBytes = 0;
  const measure = async (modulePath: string, into: Rows, pause: number) => {
    const add = (k: string, worker: number, round: number, cpu: number, sent: number) => {
      into[k] ??= { workerMs: [], roundTripMs: [], cpuMs: [], sentBytes: [] };
      into[k].workerMs.push(worker);
      into[k].roundTripMs.push(round);
      into[k].cpuMs.push(cpu);
      into[k].sentBytes.push(sent);
    };
    const w = ModelWorker.start({ modulePath });
    try {
      let doc: Awaited<ReturnType<ModelWorker['open']>> | undefined;
      const time = async (k: string, fn: () => Promise<unknown>, wait = pause) => {
        if (wait) await sleep(wait);
        const c0 = threadsCpuMs();
        const t0 = performance.now();
        await fn();
        const ms = performance.now() - t0;
        const cpu = threadsCpuMs() - c0;
        // what reached the host for the graph: the index patch (this build) or the whole index JSON
        // (an older worker bundle; read after the clock stopped)
        add(k, w.lastWorkerMs, ms, cpu, doc?.lastPatch ? JSON.stringify(doc.lastPatch).length : (doc?.indexJson.length ?? 0));
      };
      await time('open (baseline)', async () => (doc = await w.open({ path: model })), 0);
      if (!doc) throw new Error('no document');
      const d = doc;
      nodes = d.index.nodes.length;
      indexBytes = d.indexJson.length;
      await time('first edit: bypass mid_block.attentions.0', () => d.apply({ kind: 'bypass', module: 'mid_block.attentions.0' }));
      await time('next edit: bypass up_blocks.1.attentions.0', () => d.apply({ kind: 'bypass', module: 'up_blocks.1.attentions.0' }));
      await time('undo (right after the edit)', () => d.undo(), 0);
      await time('redo', () => d.redo());
      await time('rename a node', () => d.apply({ kind: 'rename-node', node: '/conv_in/Conv', to: 'stem' }));
    } finally {
      await w.dispose();
    }
  };
  const cpuShare = measureCpuShare();
  for (let run = 0; run < runs; run++) {
    if (baselineEntry) await measure(baselineEntry, baseRows, 0);
    await measure(entry, rows, 0);
    if (pauseMs > 0) {
      if (baselineEntry) await measure(baselineEntry, basePausedRows, pauseMs);
      await measure(entry, pausedRows, pauseMs);
    }
  }
  const applyPartsMs = await applyParts();
  const analysisMs = await analysisSideBySide();
  const medians = (r: Rows) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { workerMs: r1(median(v.workerMs)), roundTripMs: r1(median(v.roundTripMs)), cpuMs: r1(median(v.cpuMs)), sentBytes: median(v.sentBytes), workerMsRuns: v.workerMs.map(r1) }]));
  console.log(JSON.stringify({
    model, nodes, indexJsonBytes: indexBytes, runs, pauseMs, budget: BUDGET,
    machine: { cpus: cpus().length, loadAverage1m: r1(loadavg()[0]), cpuShare },
    ...(baselineEntry ? { baselineWorker: baselineEntry, baselineMedians: medians(baseRows) } : {}),
    medians: medians(rows),
    ...(pauseMs > 0 ? { ...(baselineEntry ? { baselinePausedMedians: medians(basePausedRows) } : {}), pausedMedians: medians(pausedRows) } : {}),
    applyPartsMs,
    analysisMs,
  }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
