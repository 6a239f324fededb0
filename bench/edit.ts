// Editing an SD-scale U-Net (bench/gen_sd_unet.py) in the model worker thread, as the graph editor
// does: open (read + analyse + graph index, the baseline every edit is compared with), the first
// edit (which also lists the candidates), a second edit (candidates already listed, as after the
// worker's idle warm-up), undo right after it (it must not wait for a warm-up), redo, and the graph index the webview then re-draws from. Worker-side
// milliseconds (what the edit itself costs) beside the host's round trip, and sentBytes: what reached the
// host for the graph (the index patch; a --baseline-worker from before patches sends the whole index). Prints JSON.
// analysisMs: per edit, the document's re-analysis of the edited model in this process, full (as
// before the incremental shape pass) beside incremental (re-inferring only what the edit changed).
// applyPartsMs: per edit, where EditableModel.apply's time goes in this process (lastApplyMs: the edit
// itself, re-analysis, checks, the change summary) and its total, medians over `runs` (candidates listed
// beforehand, as after the worker's idle warm-up).
// --baseline-worker W.js: the same steps on another model-worker bundle (an older commit's, built with
// esbuild as scripts/build.mjs does), run by run beside dist/model-worker.js, medians side by side.
//   npm run build && npx tsx bench/edit.ts [--model M.onnx] [--runs N] [--baseline-worker W.js]
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { sdModels } from './common';
import { EditableModel, ModelWorker, type ModelEdit } from '../src/core/edit';
import { analyzeWithValues, readFoldValues } from '../src/core/graph';
import { foldCandidates } from '../src/core/graph/analyze';
import { perSampleInputShapes } from '../src/core/graph/input-shapes';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const model = resolve(opt('--model') ?? sdModels()[0] ?? 'examples/digits-cond/unet/model.onnx');
const runs = Number(opt('--runs') ?? 3);
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
      doc.candidates();
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

type Rows = Record<string, { workerMs: number[]; roundTripMs: number[]; sentBytes: number[] }>;

async function main() {
  const entry = existsSync('dist/model-worker.js') ? resolve('dist/model-worker.js') : resolve('src/worker/model-worker.ts');
  const baselineEntry = opt('--baseline-worker') && resolve(opt('--baseline-worker')!);
  if (baselineEntry && !existsSync(baselineEntry)) throw new Error(`--baseline-worker: no file ${baselineEntry}`);
  const rows: Rows = {};
  const baseRows: Rows = {};
  let nodes = 0;
  let indexBytes = 0;
  const measure = async (modulePath: string, into: Rows) => {
    const add = (k: string, worker: number, round: number, sent: number) => {
      into[k] ??= { workerMs: [], roundTripMs: [], sentBytes: [] };
      into[k].workerMs.push(worker);
      into[k].roundTripMs.push(round);
      into[k].sentBytes.push(sent);
    };
    const w = ModelWorker.start({ modulePath });
    try {
      let doc: Awaited<ReturnType<ModelWorker['open']>> | undefined;
      const time = async (k: string, fn: () => Promise<unknown>) => {
        const t0 = performance.now();
        await fn();
        const ms = performance.now() - t0;
        // what reached the host for the graph: the index patch (this build) or the whole index JSON
        // (an older worker bundle; read after the clock stopped)
        add(k, w.lastWorkerMs, ms, doc?.lastPatch ? JSON.stringify(doc.lastPatch).length : (doc?.indexJson.length ?? 0));
      };
      await time('open (baseline)', async () => (doc = await w.open({ path: model })));
      if (!doc) throw new Error('no document');
      const d = doc;
      nodes = d.index.nodes.length;
      indexBytes = d.indexJson.length;
      await time('first edit: bypass mid_block.attentions.0', () => d.apply({ kind: 'bypass', module: 'mid_block.attentions.0' }));
      // the user looks at the graph: the worker lists the candidates once idle (untimed, as in the editor)
      await d.candidates();
      await time('next edit: bypass up_blocks.1.attentions.0', () => d.apply({ kind: 'bypass', module: 'up_blocks.1.attentions.0' }));
      await time('undo', () => d.undo());
      await time('redo', () => d.redo());
      await time('rename a node', () => d.apply({ kind: 'rename-node', node: '/conv_in/Conv', to: 'stem' }));
    } finally {
      await w.dispose();
    }
  };
  for (let run = 0; run < runs; run++) {
    if (baselineEntry) await measure(baselineEntry, baseRows);
    await measure(entry, rows);
  }
  const applyPartsMs = await applyParts();
  const analysisMs = await analysisSideBySide();
  const medians = (r: Rows) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { workerMs: r1(median(v.workerMs)), roundTripMs: r1(median(v.roundTripMs)), sentBytes: median(v.sentBytes) }]));
  console.log(JSON.stringify({
    model, nodes, indexJsonBytes: indexBytes, runs, cpus: cpus().length, loadAverage1m: r1(loadavg()[0]), budget: BUDGET,
    ...(baselineEntry ? { baselineWorker: baselineEntry, baselineMedians: medians(baseRows) } : {}),
    medians: medians(rows),
    applyPartsMs,
    analysisMs,
  }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
