// Messages between the host (extension host, CLI, bench) and the model worker thread, which opens,
// analyses and edits models so the host's event loop never runs a shape pass or reads a model.
// Plain data only (structured clone).
import type { IndexModule } from '../graph/graph-index';
import type { GraphIndexPatch } from '../graph/index-patch';
import type { WeightStats } from '../graph/tensor-stats';
import type { EditCheckResult } from './check-model';
import type { SaveResult } from './save';
import type { ChangeSummary, EditHistory, ModelEdit } from './types';

export interface OpenRequest {
  path: string;
  inputShapes?: Record<string, number[]>;
  /** module path → measured latency share, from a latency profile */
  latencyShare?: [string, number][];
  /** edits to re-apply after opening (a hot-exit backup) */
  replay?: ModelEdit[];
  /**
   * instead of `replay`, a document's whole history to restore (a thread that was stopped or died): every edit
   * of its stack, undone ones included, the position it stood at and the saved one (-1: none reachable), so
   * Redo, Revert and the dirty state are as before
   */
  history?: EditHistory;
}

export type WorkerRequest =
  | { op: 'open'; doc: number; open: OpenRequest }
  | { op: 'apply'; doc: number; edit: ModelEdit }
  | { op: 'undo' | 'redo' | 'revert' | 'index' | 'candidates'; doc: number }
  | { op: 'save'; doc: number; to?: string; overwriteOriginal?: boolean }
  /** the pruned-model checks on the document as it is now ("Check model") */
  | { op: 'check'; doc: number }
  | { op: 'close'; doc: number }
  /**
   * the Model view's module tree of the file at `path`: the open document's on that file when there is
   * one (one analysis per file, edits included), otherwise read and analysed for this request
   */
  | { op: 'modules'; path: string }
  /** "open node": a node's definition, from the open document on `path` when there is one (as edited), else the file */
  | { op: 'node'; path: string; nodeId: string }
  /** the inspector's weight statistics of a constant tensor, from the open document on `path` or the file */
  | { op: 'weightStats'; path: string; tensorName: string };

/** Where a document stands, sent with every reply that can change it. */
export interface DocState {
  version: number;
  dirty: boolean;
  canUndo: boolean;
  canRedo: boolean;
  /** replaying these on the original gives the current model (hot-exit backup) */
  edits: ModelEdit[];
  rejected: string[];
}

/** The candidates as the graph view lists them (plain, without node indices). */
export interface CandidateBrief {
  id: string;
  kind: string;
  level: 'block' | 'layer';
  params: number;
  flops: number;
  /** null: cannot be modified, `reason` says why */
  method: string | null;
  reason?: string;
}

export interface WorkerReply {
  /**
   * the graph after the operation (open, apply, undo, redo, revert, index), as JSON: a string
   * crosses to the host as one copy, where the index object would be rebuilt on the host's thread
   * (~30 ms for an SD-1.5 U-Net); the host hands it on to the webview unparsed
   */
  indexJson?: string;
  /**
   * instead of indexJson after apply, undo, redo and revert: what changed in the index since the
   * one the host had (src/core/graph/index-patch.ts); the host hands it on to the webview
   */
  indexPatch?: GraphIndexPatch;
  summary?: ChangeSummary;
  state?: DocState;
  saved?: SaveResult;
  candidates?: CandidateBrief[];
  check?: EditCheckResult;
  /** module hierarchy with subtree totals only (no nodes, no weights): a few KB for an SD-1.5 U-Net */
  modules?: IndexModule[];
  node?: Record<string, unknown>;
  weightStats?: WeightStats;
}

export type WorkerMessage =
  | { id: number; ok: true; reply: WorkerReply; ms: number }
  /** refused: an EditRefused or UserError (a message for the user); otherwise an internal error */
  | { id: number; ok: false; refused: boolean; message: string; subject?: string };
