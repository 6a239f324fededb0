// The host side of the model worker thread: documents opened, analysed and edited off the host's
// event loop. The host only posts requests and receives plain replies (the graph index, a change
// summary), so a multi-GB U-Net opens and takes edits without stalling the extension host.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { GraphIndex, IndexModule } from '../graph/graph-index';
import type { EditCheckResult } from './check-model';
import type { SaveResult } from './save';
import { EditRefused, type ChangeSummary, type ModelEdit } from './types';
import type { CandidateBrief, DocState, OpenRequest, WorkerMessage, WorkerReply, WorkerRequest } from './worker-protocol';

export interface ModelWorkerOptions {
  /**
   * the worker's entry: dist/model-worker.js beside the bundle by default; a .ts entry (tests,
   * benches) is loaded through tsx
   */
  modulePath?: string;
}

interface Pending {
  resolve: (r: WorkerReply) => void;
  reject: (e: Error) => void;
}

export class ModelWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private nextDoc = 1;
  private failed: Error | undefined;
  /** milliseconds the worker spent on the last request (for benches) */
  lastWorkerMs = 0;

  private constructor(modulePath: string) {
    this.worker = modulePath.endsWith('.ts')
      ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(modulePath)});`, { eval: true })
      : new Worker(modulePath);
    this.worker.on('message', (m: WorkerMessage) => this.settle(m));
    const fail = (e: Error) => {
      this.failed = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', (e) => fail(new Error(`the model worker failed: ${e.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`the model worker stopped (exit code ${code})`)));
    // the worker must not keep a CLI or a test process alive on its own
    this.worker.unref();
  }

  static start(o: ModelWorkerOptions = {}): ModelWorker {
    return new ModelWorker(o.modulePath ?? join(__dirname, 'model-worker.js'));
  }

  private settle(m: WorkerMessage): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.unref();
    if (m.ok) {
      this.lastWorkerMs = m.ms;
      p.resolve(m.reply);
    } else p.reject(m.refused ? new EditRefused(m.message, undefined, m.subject) : new Error(m.message));
  }

  call(req: WorkerRequest): Promise<WorkerReply> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    this.worker.ref(); // a request in flight keeps the process alive until it is answered
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, req });
    });
  }

  /** Opens (reads and analyses) a model in the worker. */
  async open(open: OpenRequest): Promise<WorkerDocument> {
    const doc = this.nextDoc++;
    const r = await this.call({ op: 'open', doc, open });
    return new WorkerDocument(this, doc, open.path, r.indexJson!, r.state!);
  }

  /**
   * The module tree with subtree totals of the model at `path` (the Model view): from the document
   * open on that file in this worker when there is one, otherwise read and analysed in the worker.
   */
  async modules(path: string): Promise<IndexModule[]> {
    return (await this.call({ op: 'modules', path })).modules!;
  }

  async dispose(): Promise<void> {
    await this.worker.terminate();
  }
}

/** A model document living in the worker; the host keeps the last index (as JSON) and state it was sent. */
export class WorkerDocument {
  private parsed: GraphIndex | undefined;

  constructor(private readonly worker: ModelWorker, readonly id: number, readonly path: string, public indexJson: string, public state: DocState) {}

  /** The graph index, parsed on first use (the host normally passes indexJson on unparsed). */
  get index(): GraphIndex {
    this.parsed ??= JSON.parse(this.indexJson) as GraphIndex;
    return this.parsed;
  }

  private async change(req: WorkerRequest): Promise<ChangeSummary | undefined> {
    const r = await this.worker.call(req);
    if (r.indexJson) {
      this.indexJson = r.indexJson;
      this.parsed = undefined;
    }
    if (r.state) this.state = r.state;
    return r.summary;
  }

  /** Applies the edit, or throws EditRefused with the reason (nothing changes then). */
  async apply(edit: ModelEdit): Promise<ChangeSummary> {
    return (await this.change({ op: 'apply', doc: this.id, edit }))!;
  }

  undo(): Promise<ChangeSummary | undefined> {
    return this.change({ op: 'undo', doc: this.id });
  }

  redo(): Promise<ChangeSummary | undefined> {
    return this.change({ op: 'redo', doc: this.id });
  }

  revert(): Promise<ChangeSummary | undefined> {
    return this.change({ op: 'revert', doc: this.id });
  }

  async save(to?: string, overwriteOriginal = false): Promise<SaveResult> {
    const r = await this.worker.call({ op: 'save', doc: this.id, to, overwriteOriginal });
    this.state = r.state!;
    return r.saved!;
  }

  /** "Check model": the pruned-model checks on the document as it is now, run in the worker. */
  async check(): Promise<EditCheckResult> {
    return (await this.worker.call({ op: 'check', doc: this.id })).check!;
  }

  async candidates(): Promise<CandidateBrief[]> {
    return (await this.worker.call({ op: 'candidates', doc: this.id })).candidates!;
  }

  async close(): Promise<void> {
    await this.worker.call({ op: 'close', doc: this.id });
  }
}
