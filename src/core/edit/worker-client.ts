// The host side of the model worker threads: documents opened, analysed and edited off the host's
// event loop. The host only posts requests and receives plain replies (the graph index, a change
// summary), so a multi-GB U-Net opens and takes edits without stalling the extension host.
//
// Isolation: every open document has a thread of its own, and requests about files no editor has
// open (the Model view's tree, a node or tensor of a closed file) share one more. Requests in a
// thread run in order and a running analysis cannot be interrupted, so with one thread for all, a
// long open of one file held up every other editor; with a thread per document, a second file opens
// at once (a pool of two would still queue the third; cancelling is impossible mid-analysis). The
// cost is a V8 isolate per open model (a few MB beside the model itself, which is per document anyway).
// Every request has a time limit: a thread that does not answer in time is stopped (terminate is the
// only way to end a stuck analysis), its requests fail with a message naming the file and the step,
// and the document is opened again on the next request about it, with its whole edit stack (undone edits
// included) and saved position, so Undo, Redo, Revert and the dirty state are as before. A thread
// that dies (a crash, out of memory) is handled the same way.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { GraphIndex, IndexModule } from '../graph/graph-index';
import { applyGraphIndexPatch, type GraphIndexPatch } from '../graph/index-patch';
import type { WeightStats } from '../graph/tensor-stats';
import type { EditCheckResult } from './check-model';
import type { SaveResult } from './save';
import { EditRefused, type ChangeSummary, type ModelEdit } from './types';
import type { CandidateBrief, DocState, OpenRequest, WorkerMessage, WorkerReply, WorkerRequest } from './worker-protocol';

/** The default time limit of a request: generous (an SD-1.5 U-Net opens in 1-2 s, full-scale FLUX in well under a minute). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

/** Steps that legitimately take much longer on SD-scale models (writing GBs; onnxruntime runs of both models) get this many limits. */
const LONG_STEPS: Partial<Record<WorkerRequest['op'], number>> = { save: 4, check: 4 };

export interface ModelWorkerOptions {
  /**
   * the worker's entry: dist/model-worker.js beside the bundle by default; a .ts entry (tests,
   * benches) is loaded through tsx
   */
  modulePath?: string;
  /** a request's time limit in ms (read for each request, so a setting can change it); default DEFAULT_REQUEST_TIMEOUT_MS */
  timeoutMs?: number | (() => number);
}

/** A worker thread was stopped (no answer in time) or died: the request failed, the next one starts a fresh thread. */
export class ModelWorkerStopped extends Error {
  constructor(message: string, readonly timedOut: boolean) {
    super(message);
    this.name = 'ModelWorkerStopped';
  }
}

interface Pending {
  req: WorkerRequest;
  resolve: (r: WorkerReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** the file a request is about, in full (as the reader's own errors name it) */
function fileOf(req: WorkerRequest, fallback: string): string {
  return 'path' in req ? req.path : req.op === 'open' ? req.open.path : fallback;
}

/** One worker_threads Worker and its requests in flight, each with its time limit. */
class WorkerThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** why this thread no longer takes requests (stopped, died, disposed) */
  failure: ModelWorkerStopped | undefined;

  constructor(modulePath: string, private readonly file: string, private readonly onReply: (ms: number) => void) {
    this.worker = modulePath.endsWith('.ts')
      ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(modulePath)});`, { eval: true })
      : new Worker(modulePath);
    this.worker.on('message', (m: WorkerMessage) => this.settle(m));
    this.worker.on('error', (e) => this.fail(new ModelWorkerStopped(`the model worker failed${this.during()}: ${e.message}`, false)));
    this.worker.on('exit', (code) => this.fail(new ModelWorkerStopped(`the model worker stopped (exit code ${code})${this.during()}`, false)));
    // the worker must not keep a CLI or a test process alive on its own
    this.worker.unref();
  }

  private during(): string {
    const first = this.pending.values().next().value as Pending | undefined;
    return first ? ` while ${first.req.op === 'open' ? 'opening' : `'${first.req.op}' on`} ${fileOf(first.req, this.file)}` : '';
  }

  private fail(e: ModelWorkerStopped): void {
    this.failure ??= e;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }

  private settle(m: WorkerMessage): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.unref();
    if (m.ok) {
      this.onReply(m.ms);
      p.resolve(m.reply);
    } else p.reject(m.refused ? new EditRefused(m.message, undefined, m.subject) : new Error(m.message));
  }

  call(req: WorkerRequest, limitMs: number): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    this.worker.ref(); // a request in flight keeps the process alive until it is answered
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const what = req.op === 'open' ? `opening ${fileOf(req, this.file)}` : `'${req.op}' on ${fileOf(req, this.file)}`;
        this.stop(new ModelWorkerStopped(`the model worker did not finish ${what} within ${Math.round(limitMs / 1000)} s and was stopped`, true));
      }, limitMs);
      this.pending.set(id, { req, resolve, reject, timer });
      this.worker.postMessage({ id, req });
    });
  }

  /** Fails every request in flight with `why` and ends the thread (a stuck one cannot be reached otherwise). */
  stop(why: ModelWorkerStopped): Promise<number> {
    this.fail(why);
    return this.worker.terminate();
  }
}

export class ModelWorker {
  /** requests about files no document is open on */
  private shared: WorkerThread | undefined;
  private readonly documents = new Set<WorkerDocument>();
  private readonly threads = new Set<WorkerThread>();
  private nextDoc = 1;
  private disposed = false;
  /** milliseconds the worker spent on the last request (for benches) */
  lastWorkerMs = 0;

  private constructor(private readonly modulePath: string, private readonly timeout: () => number) {}

  static start(o: ModelWorkerOptions = {}): ModelWorker {
    const t = o.timeoutMs;
    return new ModelWorker(o.modulePath ?? join(__dirname, 'model-worker.js'), typeof t === 'function' ? t : () => t ?? DEFAULT_REQUEST_TIMEOUT_MS);
  }

  /** the time limit of a request `op` */
  limit(op: WorkerRequest['op']): number {
    return this.timeout() * (LONG_STEPS[op] ?? 1);
  }

  /** A fresh thread (for a document, or the shared one). */
  spawn(file: string): WorkerThread {
    if (this.disposed) throw new Error('the model worker was shut down');
    const t = new WorkerThread(this.modulePath, file, (ms) => (this.lastWorkerMs = ms));
    this.threads.add(t);
    return t;
  }

  /** Ends a thread that is no longer needed (a closed document, a failed open). */
  retire(t: WorkerThread): Promise<unknown> {
    this.threads.delete(t);
    return t.stop(new ModelWorkerStopped('the document was closed', false));
  }

  /** Opens (reads and analyses) a model in a thread of its own. */
  async open(open: OpenRequest): Promise<WorkerDocument> {
    const { thread, doc, reply } = await this.reopen(open);
    const d = new WorkerDocument(this, thread, doc, open, reply.indexJson!, reply.state!);
    this.documents.add(d);
    return d;
  }

  /** Opens `open` in a fresh thread (a new document, or one whose thread was stopped or died); a failed open ends the thread. */
  async reopen(open: OpenRequest): Promise<{ thread: WorkerThread; doc: number; reply: WorkerReply }> {
    const thread = this.spawn(open.path);
    const doc = this.nextDoc++;
    try {
      return { thread, doc, reply: await thread.call({ op: 'open', doc, open }, this.limit('open')) };
    } catch (e) {
      void this.retire(thread);
      throw e;
    }
  }

  forget(d: WorkerDocument): void {
    this.documents.delete(d);
  }

  /** the latest document opened on `path` (what its graph editor shows) */
  private documentOn(path: string): WorkerDocument | undefined {
    return [...this.documents].reverse().find((d) => d.path === path);
  }

  /** A request about the file at `path`: to the document open on it, else to the shared thread (started again if it was stopped). */
  private about(path: string, req: WorkerRequest): Promise<WorkerReply> {
    const d = this.documentOn(path);
    if (d) return d.request(() => req);
    if (!this.shared || this.shared.failure) {
      if (this.shared) this.threads.delete(this.shared);
      this.shared = this.spawn(path);
    }
    return this.shared.call(req, this.limit(req.op));
  }

  /**
   * The module tree with subtree totals of the model at `path` (the Model view): from the document
   * open on that file when there is one, otherwise read and analysed in the worker.
   */
  async modules(path: string): Promise<IndexModule[]> {
    return (await this.about(path, { op: 'modules', path })).modules!;
  }

  /** "Open node": the definition of node `nodeId` (a graph-index id) of the model at `path`, as edited when a document is open on it. */
  async node(path: string, nodeId: string): Promise<Record<string, unknown>> {
    return (await this.about(path, { op: 'node', path, nodeId })).node!;
  }

  /** The inspector's statistics of constant tensor `tensorName` (its bytes are read in the worker). */
  async weightStats(path: string, tensorName: string): Promise<WeightStats> {
    return (await this.about(path, { op: 'weightStats', path, tensorName })).weightStats!;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const threads = [...this.threads];
    this.threads.clear();
    this.documents.clear();
    await Promise.all(threads.map((t) => t.stop(new ModelWorkerStopped('the model worker was shut down', false))));
  }
}

/** A model document living in its worker thread; the host keeps the last index (as JSON) and state it was sent. */
export class WorkerDocument {
  private parsed: GraphIndex | undefined;
  private json: string;
  /** index patches since `json`, applied only when the whole index is asked for (rarely: a view's reload) */
  private patches: GraphIndexPatch[] = [];
  /** what the last change changed in the index: the views apply it instead of a whole new index */
  lastPatch: GraphIndexPatch | undefined;
  private closed = false;
  private reviving: Promise<void> | undefined;
  /**
   * The document's edit stack as the host has seen it change (undone edits included) and its saved position, kept
   * so that a thread that is stopped or dies is replaced by one with the same Redo, Revert and dirty state.
   */
  private history: ModelEdit[];
  private savedAt: number;

  constructor(
    private readonly owner: ModelWorker,
    private thread: WorkerThread,
    private docId: number,
    private readonly opened: OpenRequest,
    indexJson: string,
    public state: DocState,
  ) {
    this.json = indexJson;
    this.history = [...state.edits];
    // a hot-exit replay leaves the edits unsaved: the saved state is the file
    this.savedAt = state.dirty ? 0 : state.version;
  }

  /** Follows the stack through a reply's state: `op` moved it from position `from`. */
  private track(op: WorkerRequest['op'], from: number, s: DocState): void {
    if (op === 'apply') {
      // a new edit drops the undone ones; a saved state among them can no longer be reached
      this.history = [...s.edits];
      if (this.savedAt > from) this.savedAt = -1;
    } else if (s.edits.length > this.history.length || s.edits.some((e, i) => JSON.stringify(e) !== JSON.stringify(this.history[i]))) {
      this.history = [...s.edits]; // not a move along the known stack (never expected): trust the worker
    }
    if (!s.dirty) this.savedAt = s.version;
  }

  /** The graph index as JSON: as the worker sent it, with the later changes' patches applied on first use. */
  get indexJson(): string {
    if (this.patches.length) {
      this.parsed = this.patches.reduce(applyGraphIndexPatch, JSON.parse(this.json) as GraphIndex);
      this.json = JSON.stringify(this.parsed);
      this.patches = [];
    }
    return this.json;
  }

  set indexJson(json: string) {
    this.json = json;
    this.patches = [];
    this.parsed = undefined;
    this.lastPatch = undefined;
  }

  get id(): number {
    return this.docId;
  }

  get path(): string {
    return this.opened.path;
  }

  /** The graph index, parsed on first use (the host normally passes indexJson on unparsed). */
  get index(): GraphIndex {
    this.parsed ??= JSON.parse(this.indexJson) as GraphIndex;
    return this.parsed;
  }

  /**
   * A request in this document's thread. When the thread was stopped or died since the last one, the
   * model is opened again in a fresh thread with the edits the host last heard of (the model it shows).
   */
  async request(make: (doc: number) => WorkerRequest): Promise<WorkerReply> {
    if (this.closed) throw new Error(`${this.path} was closed`);
    if (this.thread.failure) await (this.reviving ??= this.revive().finally(() => (this.reviving = undefined)));
    const req = make(this.docId);
    return this.thread.call(req, this.owner.limit(req.op)).catch((e: unknown) => {
      if (!(e instanceof ModelWorkerStopped) || this.closed) throw e;
      throw new ModelWorkerStopped(`${e.message}; the next step opens the model again with its ${this.state.edits.length} edit(s)`, e.timedOut);
    });
  }

  private async revive(): Promise<void> {
    let r: Awaited<ReturnType<ModelWorker['reopen']>>;
    try {
      const { replay: _firstOpen, ...opened } = this.opened;
      r = await this.owner.reopen({ ...opened, history: { edits: this.history, at: this.state.version, savedAt: this.savedAt } });
    } catch (e) {
      throw new Error(`${this.path}: the model worker had stopped and opening the model again failed: ${(e as Error).message}`);
    }
    void this.owner.retire(this.thread);
    this.thread = r.thread;
    this.docId = r.doc;
    this.indexJson = r.reply.indexJson!;
    this.state = r.reply.state!;
  }

  private async change(req: WorkerRequest): Promise<ChangeSummary | undefined> {
    const from = this.state.version;
    const r = await this.request((doc) => ({ ...req, doc }) as WorkerRequest);
    if (r.state) this.track(req.op, from, r.state);
    if (r.indexJson) this.indexJson = r.indexJson;
    else if (r.indexPatch) {
      // kept, not applied: the host's thread applies them only if the whole index is asked for
      this.patches.push(r.indexPatch);
      this.parsed = undefined;
    }
    this.lastPatch = r.indexPatch;
    if (r.state) this.state = r.state;
    return r.summary;
  }

  /** Applies the edit, or throws EditRefused with the reason (nothing changes then). */
  async apply(edit: ModelEdit): Promise<ChangeSummary> {
    return (await this.change({ op: 'apply', doc: this.docId, edit }))!;
  }

  undo(): Promise<ChangeSummary | undefined> {
    return this.change({ op: 'undo', doc: this.docId });
  }

  redo(): Promise<ChangeSummary | undefined> {
    return this.change({ op: 'redo', doc: this.docId });
  }

  revert(): Promise<ChangeSummary | undefined> {
    return this.change({ op: 'revert', doc: this.docId });
  }

  async save(to?: string, overwriteOriginal = false): Promise<SaveResult> {
    const r = await this.request((doc) => ({ op: 'save', doc, to, overwriteOriginal }));
    this.track('save', this.state.version, r.state!);
    this.state = r.state!;
    return r.saved!;
  }

  /** "Check model": the pruned-model checks on the document as it is now, run in the worker. */
  async check(): Promise<EditCheckResult> {
    return (await this.request((doc) => ({ op: 'check', doc }))).check!;
  }

  async candidates(): Promise<CandidateBrief[]> {
    return (await this.request((doc) => ({ op: 'candidates', doc }))).candidates!;
  }

  /** Lets the document go: its thread ends (and with it the model's memory). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.owner.forget(this);
    await this.reviving?.catch(() => undefined);
    await this.owner.retire(this.thread);
  }
}
