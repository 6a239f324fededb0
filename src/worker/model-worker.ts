// The model worker thread: opens, analyses and edits models for the host (the extension host, the
// bench) so none of that work runs on the host's event loop. One EditableModel per document id.
import { parentPort } from 'node:worker_threads';
import { EditableModel, EditRefused } from '../core/edit';
import { checkEditedModel } from '../core/edit/check-model';
import type { DocState, WorkerReply, WorkerRequest } from '../core/edit/worker-protocol';
import { UserError } from '../core/errors';
import { analyzeModel, indexModules } from '../core/graph';
import { perSampleInputShapes } from '../core/graph/input-shapes';
import { readModel } from '../core/onnx/reader';

const docs = new Map<number, EditableModel>();

function doc(id: number): EditableModel {
  const d = docs.get(id);
  if (!d) throw new Error(`model worker: no open document ${id}`);
  return d;
}

function state(d: EditableModel): DocState {
  return { version: d.version, dirty: d.dirty, canUndo: d.canUndo, canRedo: d.canRedo, edits: d.edits, rejected: [...d.rejected] };
}

async function handle(r: WorkerRequest): Promise<WorkerReply> {
  switch (r.op) {
    case 'open': {
      const o = r.open;
      const d = await EditableModel.open(o.path, { inputShapes: o.inputShapes, latencyShare: o.latencyShare && new Map(o.latencyShare) }, o.replay ?? []);
      docs.set(r.doc, d);
      return { indexJson: d.graphIndexJson(), state: state(d) };
    }
    case 'apply': {
      const d = doc(r.doc);
      const summary = await d.apply(r.edit);
      return { summary, indexJson: d.graphIndexJson(), state: state(d) };
    }
    case 'undo': case 'redo': case 'revert': {
      const d = doc(r.doc);
      const summary = r.op === 'undo' ? d.undo() : r.op === 'redo' ? d.redo() : d.revert();
      return { summary, indexJson: d.graphIndexJson(), state: state(d) };
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
      const open = [...docs.values()].reverse().find((d) => d.path === r.path);
      if (open) return { modules: indexModules(open.analysis()).modules };
      const m = await readModel(r.path);
      return { modules: indexModules(await analyzeModel(m, { inputShapes: perSampleInputShapes(m) })).modules };
    }
  }
}

// Candidate warm-up runs only once the worker has been idle this long after a reply: listing them
// takes 1-2 s on SD-1.5 and cannot be interrupted, so an undo/redo clicked right after an edit must
// not queue behind it (the edit that needs them lists them itself; undo/redo keep each snapshot's).
const WARM_AFTER_IDLE_MS = 300;
let warmTimer: ReturnType<typeof setTimeout> | undefined;
let waiting = 0;

function warmWhenIdle(docId: number): void {
  clearTimeout(warmTimer);
  warmTimer = setTimeout(() => {
    const d = docs.get(docId);
    if (waiting === 0 && d && !d.candidatesListed) d.candidates();
  }, WARM_AFTER_IDLE_MS);
}

// requests run one at a time, in order: an edit never sees a half-applied one before it
let queue: Promise<unknown> = Promise.resolve();
parentPort!.on('message', (m: { id: number; req: WorkerRequest }) => {
  waiting++;
  clearTimeout(warmTimer);
  queue = queue.then(async () => {
    waiting--;
    const t0 = performance.now();
    try {
      const reply = await handle(m.req);
      parentPort!.postMessage({ id: m.id, ok: true, reply, ms: performance.now() - t0 });
      // while the user looks at the graph: the candidates the next bypass/replace/accept needs
      const r = m.req;
      if (r.op !== 'close' && r.op !== 'save' && r.op !== 'check' && r.op !== 'candidates' && r.op !== 'modules' && waiting === 0) warmWhenIdle(r.doc);
    } catch (e) {
      const err = e as Error;
      const refused = e instanceof EditRefused || e instanceof UserError;
      parentPort!.postMessage({ id: m.id, ok: false, refused, message: refused ? err.message : (err.stack ?? String(err)), subject: e instanceof EditRefused ? e.subject : undefined });
    }
  });
});
