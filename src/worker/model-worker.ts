// The model worker thread: opens, analyses and edits models for the host (the extension host, the
// bench) so none of that work runs on the host's event loop. One EditableModel per document id.
import { parentPort } from 'node:worker_threads';
import { EditableModel, EditRefused } from '../core/edit';
import { checkEditedModel } from '../core/edit/check-model';
import type { DocState, WorkerReply, WorkerRequest } from '../core/edit/worker-protocol';
import { UserError } from '../core/errors';
import { analyzeModel, indexModules, type ModelAnalysis } from '../core/graph';
import { perSampleInputShapes } from '../core/graph/input-shapes';
import { nodeDefinition } from '../core/graph/node-definition';
import { findTensor, tensorStats } from '../core/graph/tensor-stats';
import { readModel } from '../core/onnx/reader';
import { stat } from 'node:fs/promises';

const docs = new Map<number, EditableModel>();

function doc(id: number): EditableModel {
  const d = docs.get(id);
  if (!d) throw new Error(`model worker: no open document ${id}`);
  return d;
}

/**
 * The analysis requests about a file see: the latest document opened on it (what its graph editor
 * shows, edits included), else the file itself, read and analysed once per version (mtime + size)
 * so clicking through nodes and tensors of a file reads it once.
 */
let fileCache: { path: string; version: string; analysis: Promise<ModelAnalysis> } | undefined;
async function analysisOf(path: string): Promise<ModelAnalysis> {
  const open = [...docs.values()].reverse().find((d) => d.path === path);
  if (open) return open.analysis();
  const st = await stat(path).catch(() => undefined);
  const version = st ? `${st.mtimeMs}:${st.size}` : 'missing';
  if (fileCache?.path !== path || fileCache.version !== version) {
    const analysis = readModel(path).then((m) => analyzeModel(m, { inputShapes: perSampleInputShapes(m) }));
    fileCache = { path, version, analysis };
    // a failed read is not kept: the user may fix the file and ask again
    analysis.catch(() => {
      if (fileCache?.analysis === analysis) fileCache = undefined;
    });
  }
  return fileCache.analysis;
}

/**
 * Test hook (LD_SURGEON_TEST_MODEL_WORKER=hang|exit:OP:PATH-SUBSTRING): a request OP about a file whose
 * path contains the substring blocks this thread for good (as a stuck analysis would) or ends it (as
 * a crash would), so tests can prove the host's timeouts and restarts. Unset in normal use.
 */
function testHook(r: WorkerRequest): void {
  const hook = /^(hang|exit):([a-zA-Z]+):(.+)$/.exec(process.env.LD_SURGEON_TEST_MODEL_WORKER ?? '');
  if (!hook || hook[2] !== r.op) return;
  const path = 'path' in r ? r.path : r.op === 'open' ? r.open.path : docs.get(r.doc)?.path;
  if (!path?.includes(hook[3])) return;
  if (hook[1] === 'exit') process.exit(70);
  // blocks the thread without spinning a core; only terminate() ends it
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

function state(d: EditableModel): DocState {
  return { version: d.version, dirty: d.dirty, canUndo: d.canUndo, canRedo: d.canRedo, edits: d.edits, rejected: [...d.rejected] };
}

async function handle(r: WorkerRequest): Promise<WorkerReply> {
  testHook(r);
  switch (r.op) {
    case 'open': {
      const o = r.open;
      const options = { inputShapes: o.inputShapes, latencyShare: o.latencyShare && new Map(o.latencyShare) };
      const d = o.history ? await EditableModel.restore(o.path, options, o.history) : await EditableModel.open(o.path, options, o.replay ?? []);
      docs.set(r.doc, d);
      return { indexJson: d.graphIndexJson(), state: state(d) };
    }
    // a change sends what changed in the index since the snapshot the host had, not the whole index
    case 'apply': {
      const d = doc(r.doc);
      const from = d.version;
      const summary = await d.apply(r.edit);
      return { summary, indexPatch: d.graphIndexPatch(from), state: state(d) };
    }
    case 'undo': case 'redo': case 'revert': {
      const d = doc(r.doc);
      const from = d.version;
      const summary = r.op === 'undo' ? d.undo() : r.op === 'redo' ? d.redo() : d.revert();
      return { summary, ...(d.version !== from ? { indexPatch: d.graphIndexPatch(from) } : {}), state: state(d) };
    }
    case 'index': {
      const d = doc(r.doc);
      return { indexJson: d.graphIndexJson(), state: state(d) };
    }
    case 'candidates': {
      const d = doc(r.doc);
      return {
        candidates: d.candidates().map((c) => ({
          id: c.id, kind: c.kind, level: c.level, params: c.params, flops: c.flops, method: c.modification?.method ?? null, ...(c.reason ? { reason: c.reason } : {}),
        })),
      };
    }
    case 'save': {
      const d = doc(r.doc);
      const saved = await d.save(r.to, { overwriteOriginal: r.overwriteOriginal });
      return { saved, state: state(d) };
    }
    case 'check':
      return { check: await checkEditedModel(doc(r.doc)) };
    case 'close':
      docs.delete(r.doc);
      return {};
    case 'modules': {
      // the latest document opened on the file: what its graph editor shows
      return { modules: indexModules(await analysisOf(r.path)).modules };
    }
    case 'node': {
      const node = nodeDefinition(await analysisOf(r.path), r.nodeId);
      if (!node) throw new UserError(`${r.path} has no node '${r.nodeId}'`);
      return { node };
    }
    case 'weightStats': {
      // the bytes are read here, lazily, through the reader's resolved (path-checked) tensor locations
      const t = findTensor(await analysisOf(r.path), r.tensorName);
      if (!t) throw new UserError(`${r.path} has no constant tensor '${r.tensorName}'`);
      // its refusals (too large, strings, unreadable bytes) are for the user, not internal errors
      return { weightStats: await tensorStats(t, r.path).catch((e: Error) => Promise.reject(e instanceof UserError ? e : new UserError(e.message))) };
    }
  }
}

// Warm-up runs only once the worker has been idle this long after a reply, so an undo/redo clicked
// right after an edit does not queue behind it. Candidates are not listed here: an edit builds only the
// candidate it names (EditableModel.candidatesFor), and a listing (70-100 ms on SD-1.5 idle, 1-2 s on a
// loaded machine, not interruptible) would only delay the user's next click.
const WARM_AFTER_IDLE_MS = 300;
/**
 * Throwaway edits this thread rehearses once, while idle after an open (EditableModel.rehearse): in a
 * fresh thread the edit path runs cold, and the first real edits took 2-3x the time of later ones.
 * Four rounds (bypass, rename, bypass, rename, each on the one before's result): V8 optimizes the long
 * loops over the graph only after a few runs. Worker-thread CPU in one process, SD-1.5, loaded machine:
 * first bypass 190-256 ms cold, 100-180 after the rehearsal; second 170-250 → 70-130 (bench/edit.ts
 * --pause-ms measures it in the worker). The rehearsal costs ~0.5 s of one core, once per thread.
 */
const REHEARSAL_ROUNDS = 4;
let rehearsed = 0;
let warmTimer: ReturnType<typeof setTimeout> | undefined;
let waiting = 0;
/** requests received so far: a rehearsal step sees whether one came in since it started */
let received = 0;

/**
 * Test hook (LD_SURGEON_TEST_WARM_STEP_MS=N): each rehearsal step also blocks this thread N ms, so a
 * test's request surely arrives while a rehearsal runs. Unset in normal use.
 */
const testStepMs = Number(process.env.LD_SURGEON_TEST_WARM_STEP_MS ?? 0);

function warmWhenIdle(docId: number): void {
  clearTimeout(warmTimer);
  warmTimer = setTimeout(() => {
    const d = docs.get(docId);
    if (waiting !== 0 || !d) return;
    // the index patch an undo would send (after an edit it came with the edit's; a diff after a revert)
    d.prepareUndoPatch();
    if (rehearsed < REHEARSAL_ROUNDS) rehearse(d);
  }, WARM_AFTER_IDLE_MS);
}

/**
 * Runs the rehearsal one step per macrotask, so a request's message is taken between two steps; the
 * rehearsal is dropped as soon as one arrives (the rounds not done start again once idle).
 */
function rehearse(d: EditableModel): void {
  const at = received;
  const steps = d.rehearse(REHEARSAL_ROUNDS - rehearsed);
  const next = () => {
    if (received !== at || ![...docs.values()].includes(d)) return void steps.return();
    try {
      const r = steps.next();
      if (testStepMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, testStepMs);
      if (r.value === 'round') rehearsed++;
      if (r.done) rehearsed = REHEARSAL_ROUNDS; // done, or no block to bypass: not tried again
      else setImmediate(next);
    } catch {
      rehearsed = REHEARSAL_ROUNDS; // a rehearsal that fails is not the user's concern: not tried again
    }
  };
  setImmediate(next);
}

// requests run one at a time, in order: an edit never sees a half-applied one before it
let queue: Promise<unknown> = Promise.resolve();
parentPort!.on('message', (m: { id: number; req: WorkerRequest }) => {
  waiting++;
  received++;
  clearTimeout(warmTimer);
  queue = queue.then(async () => {
    waiting--;
    const t0 = performance.now();
    try {
      const reply = await handle(m.req);
      parentPort!.postMessage({ id: m.id, ok: true, reply, ms: performance.now() - t0 });
      // while the user looks at the graph: what the next undo sends
      const r = m.req;
      if (r.op !== 'close' && r.op !== 'save' && r.op !== 'check' && r.op !== 'candidates' && r.op !== 'modules' && r.op !== 'node' && r.op !== 'weightStats' && waiting === 0) warmWhenIdle(r.doc);
    } catch (e) {
      const err = e as Error;
      const refused = e instanceof EditRefused || e instanceof UserError;
      parentPort!.postMessage({ id: m.id, ok: false, refused, message: refused ? err.message : (err.stack ?? String(err)), subject: e instanceof EditRefused ? e.subject : undefined });
    }
  });
});
