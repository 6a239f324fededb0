// The messages between the extension host and the graph webview (webview-ui/), both ways, plus
// the HTML shell the host serves. One file so both sides compile against the same definitions.
//
// Size rule: the graph index travels once (in `init`); scores stream as small batches
// (`batchScores`); weight statistics travel as numbers, never as tensor bytes.
import type { GraphIndex } from '../core/graph/graph-index';
import type { GraphIndexPatch } from '../core/graph/index-patch';
import type { CandidateResult } from '../core/scoring/events';
import type { ModificationKind } from '../core/surgery/types';
import type { WeightStats } from '../core/graph/tensor-stats';
import type { EditKind, ModelEdit } from '../core/edit/types';

export type { GraphIndex, CandidateResult, ModificationKind, WeightStats, ModelEdit };

/** Bumped whenever a message changes shape; the webview sends it in `ready`. */
export const WEBVIEW_PROTOCOL_VERSION = 3;

// ---------------------------------------------------------------------------------------------
// Payloads

export type ScoringPhase = 'idle' | 'running' | 'done' | 'failed' | 'cancelled';

export interface PruneCheck {
  name: string;
  /** passed / failed as measured; skipped: measured nothing (shown as –, never as a tick) */
  status: 'passed' | 'failed' | 'skipped';
  /** what was measured, or why nothing was */
  detail?: string;
  /** the measurement is indicative only (too few samples): why */
  indicative?: string;
}

/** "Check model": the pruned-model checks on the edited document as it is now, against the original. */
export type ModelCheckMsg =
  | { type: 'modelCheck'; state: 'running' }
  | {
      type: 'modelCheck';
      state: 'done';
      /** the document version checked (its edit count): a later edit makes the result stale */
      version: number;
      checks: PruneCheck[];
      /** largest absolute output difference vs the original on the seeded inputs, when run */
      maxAbsDiff?: number;
      latencyBeforeMs?: number;
      latencyAfterMs?: number;
      ep?: string;
      seconds: number;
    }
  | { type: 'modelCheck'; state: 'failed'; error: string };

/** A pruned pipeline's measured quality (its quality.json): the metric of original and pruned, paired seeds. */
export interface QualityCard {
  /** 'FID', 'FAD', ...; absent when the pipeline ships no metric (then noMetric says so) */
  metric?: string;
  original?: number;
  measured?: number;
  originalSpread?: number;
  measuredSpread?: number;
  /** class accuracy (0–1), when the conditions have labels */
  accuracyOriginal?: number;
  accuracyMeasured?: number;
  n: number;
  /** why the metric is indicative only */
  indicative?: string;
  noMetric?: string;
  /** LD-Pruner's distance between the two final-latent sets */
  latentDistance: number;
  file: string;
}

export type BudgetMetric = 'latency' | 'params' | 'flops';

export interface SelectionBudget {
  metric: BudgetMetric;
  /** percent (0..100) of the model's total to save */
  percent: number;
}

// ---------------------------------------------------------------------------------------------
// Host → webview

/** The quality drop predicted for a prune set: latent-score units always, the metric when calibrated. */
export interface PredictedCard {
  /** sum of the set's scores (latent-score units, what LD-Pruner ranks by) */
  latentScore: number;
  metric?: { name: string; drop: number; n: number; rho: number };
  /** why there is no metric prediction */
  note?: string;
}

/** What the prune's own checks measured, beside the prediction: the combined latent score and the metric at the check's n. */
export interface MeasuredCard {
  latentScore?: number;
  metric?: { name: string; before: number; after: number; n: number; indicative?: boolean };
}

export type ToWebview =
  | {
      type: 'init';
      /** the graph index, or (graphJson) its JSON as the model worker made it: the host passes it on unparsed */
      graph?: GraphIndex;
      graphJson?: string;
      modelName: string;
      modelPath: string;
      /** only for harnesses; in VS Code the body classes (vscode-light/-dark/-high-contrast) decide */
      theme?: 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';
    }
  /**
   * the model changed (an edit, undo, redo, revert): what changed in the index the view has
   * (src/core/graph/index-patch.ts) instead of a whole init; a view whose index it does not fit
   * sends `ready` again to be sent the whole index
   */
  | { type: 'patch'; patch: GraphIndexPatch }
  /** a batch of results, streamed while scoring runs; `reset` drops earlier ones first */
  | { type: 'scores'; results: CandidateResult[]; reset?: boolean }
  | { type: 'scoringState'; state: ScoringPhase; done?: number; total?: number; message?: string }
  | { type: 'weightStats'; requestId: number; tensorName: string; stats?: WeightStats; error?: string }
  /** the pipeline's calibration (ld-surgeon report): metric drop per latent-score unit; `note` says where from or why none */
  | { type: 'calibration'; fit?: { metric: string; slope: number; n: number; rho: number; source: string }; note: string }
  | {
      type: 'pruneResult';
      ok: boolean;
      checks: PruneCheck[];
      /** measured latency ratio original / pruned (1.35 = 35% faster), when measured */
      speedup?: number;
      latencyBeforeMs?: number;
      latencyAfterMs?: number;
      /** the parameter counts, absent when they could not be read (paramsUnknown says why) */
      paramsBefore?: number;
      paramsAfter?: number;
      paramsUnknown?: string;
      removedIds: string[];
      outputPath?: string;
      /** a pipeline prune: the PNG of the original's (top row) and the pruned pipeline's samples from the same seeds */
      samples?: { path: string; count: number };
      /** a pipeline prune: the pruned pipeline folder (what Measure quality measures) */
      outputPipeline?: string;
      /** its quality.json, once measured */
      quality?: QualityCard;
      /** the drop predicted from the scores before the prune, and what the prune's checks measured */
      predicted?: PredictedCard;
      measured?: MeasuredCard;
      error?: string;
    }
  | { type: 'pruneState'; state: 'running' | 'cancelled'; message?: string }
  /** a Measure quality job on a pruned pipeline (`pipeline`, the prune result's outputPipeline) */
  | { type: 'qualityState'; pipeline: string; state: 'running' | 'done' | 'failed' | 'cancelled'; message?: string; quality?: QualityCard }
  | ModelCheckMsg
  | { type: 'distillState'; state: 'running' | 'done' | 'failed'; message?: string; outputPath?: string }
  | { type: 'reveal'; moduleId: string }
  /** put the k lowest-scored blocks of a depth stack (GraphIndex.stacks) into the prune selection: the context menu's "Prune the k Lowest…" */
  | { type: 'selectStackLowest'; stackId: string; k: number }
  | ({ type: 'selectionBudget' } & SelectionBudget)
  /** the file could not be read (truncated, not ONNX): the view shows the reader's message and Reopen */
  | { type: 'loadError'; modelName: string; message: string };

// ---------------------------------------------------------------------------------------------
// Webview → host

export type FromWebview =
  | { type: 'ready'; protocolVersion: number }
  /** the host reads the tensor by range and answers `weightStats` with the same requestId */
  | { type: 'requestWeightStats'; requestId: number; tensorName: string }
  | { type: 'applyPrune'; ids: string[] }
  | { type: 'distill'; prunedPath: string }
  /** measure the pruned pipeline's quality against its original (ld-surgeon measure, as a job) */
  | { type: 'measureQuality'; pipeline: string }
  | { type: 'scoreOperators' }
  | { type: 'cancelScoring' }
  /** show the node's full definition (attributes, all inputs) in an editor */
  | { type: 'openNode'; nodeId: string }
  | { type: 'selectionChanged'; ids: string[] }
  /** an edit of the model (src/core/edit); the host answers with a new `init`, or shows why it was refused */
  | { type: 'edit'; edit: ModelEdit }
  | { type: 'reportError'; message: string; stack?: string }
  /** read the file again (after a loadError) */
  | { type: 'reopen' }
  /** run the pruned-model checks on the document as it is now; the host answers `modelCheck` */
  | { type: 'checkModel' };

export type ToWebviewType = ToWebview['type'];
export type FromWebviewType = FromWebview['type'];

// ---------------------------------------------------------------------------------------------
// Validation: each side checks what arrives, so a malformed message fails loudly at the boundary
// instead of deep in a view. Only the fields each side relies on are checked.

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

type Check = (m: Record<string, unknown>) => string | undefined;

const EDIT_KINDS: EditKind[] = ['bypass', 'replace', 'remove-node', 'rename-node', 'rename-value', 'set-attribute', 'set-output', 'clear-output', 'accept-prunes', 'reject-prunes'];

const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStrArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isStr);
const need = (ok: boolean, what: string): string | undefined => (ok ? undefined : what);

function checkCandidate(c: unknown): string | undefined {
  if (!c || typeof c !== 'object') return 'a result is not an object';
  const r = c as Record<string, unknown>;
  if (!isStr(r.id) || !r.id) return 'a result has no id';
  if (!(r.score === null || isNum(r.score))) return `result ${r.id}: score must be a finite number or null`;
  if (!isNum(r.params) || !isNum(r.flops)) return `result ${r.id}: params and flops must be numbers`;
  if (r.latencyShare !== undefined && !isNum(r.latencyShare)) return `result ${r.id}: latencyShare must be a number`;
  if (r.modification !== 'remove' && r.modification !== 'replace' && r.modification !== 'none') {
    return `result ${r.id}: unknown modification ${String(r.modification)}`;
  }
  return undefined;
}

const toWebviewChecks: Record<ToWebviewType, Check> = {
  init: (m) =>
    need((!!m.graph && typeof m.graph === 'object') || (isStr(m.graphJson) && m.graphJson !== ''), 'init needs graph (an object) or graphJson (a string)') ??
    need(isStr(m.modelName) && isStr(m.modelPath), 'init needs modelName and modelPath'),
  patch: (m) => {
    const p = m.patch as Record<string, unknown> | undefined;
    if (!p || typeof p !== 'object') return 'patch.patch must be an object';
    if (!p.base || typeof p.base !== 'object') return 'patch.patch.base must be an object';
    for (const k of ['modules', 'values', 'nodes', 'edges']) {
      const sp = p[k] as Record<string, unknown> | undefined;
      if (!sp || !isNum(sp.at) || !isNum(sp.remove) || !Array.isArray(sp.insert) || !Array.isArray(sp.set)) return `patch.patch.${k} must be a splice (at, remove, insert, set)`;
    }
    return need(Array.isArray(p.inputs) && Array.isArray(p.outputs), 'patch.patch needs inputs and outputs');
  },
  scores: (m) => {
    if (!Array.isArray(m.results)) return 'scores.results must be an array';
    for (const r of m.results) {
      const e = checkCandidate(r);
      if (e) return e;
    }
    return undefined;
  },
  scoringState: (m) =>
    need(['idle', 'running', 'done', 'failed', 'cancelled'].includes(m.state as string), `unknown scoring state ${String(m.state)}`),
  weightStats: (m) =>
    need(isNum(m.requestId), 'weightStats.requestId must be a number') ??
    need(m.stats !== undefined || isStr(m.error), 'weightStats needs stats or error'),
  calibration: (m) =>
    need(isStr(m.note), 'calibration.note must be a string') ??
    need(m.fit === undefined || (typeof m.fit === 'object' && !!m.fit && isNum((m.fit as { slope?: unknown }).slope)), 'calibration.fit needs a numeric slope'),
  pruneResult: (m) =>
    need(Array.isArray(m.checks), 'pruneResult.checks must be an array') ??
    need(isStrArray(m.removedIds), 'pruneResult.removedIds must be strings') ??
    need(isNum(m.paramsBefore) && isNum(m.paramsAfter) ? m.paramsUnknown === undefined : m.paramsBefore === undefined && m.paramsAfter === undefined && isStr(m.paramsUnknown), 'pruneResult needs paramsBefore and paramsAfter, or paramsUnknown saying why they are missing'),
  modelCheck: (m) =>
    need(['running', 'done', 'failed'].includes(m.state as string), 'unknown modelCheck state') ??
    need(m.state !== 'done' || (Array.isArray(m.checks) && isNum(m.version)), 'modelCheck done needs checks and version') ??
    need(m.state !== 'failed' || isStr(m.error), 'modelCheck failed needs error'),
  pruneState: (m) => need(m.state === 'running' || m.state === 'cancelled', 'unknown prune state'),
  qualityState: (m) =>
    need(isStr(m.pipeline), 'qualityState.pipeline must be a string') ??
    need(['running', 'done', 'failed', 'cancelled'].includes(m.state as string), 'unknown qualityState state') ??
    need(m.state !== 'done' || (!!m.quality && typeof m.quality === 'object'), 'qualityState done needs quality'),
  distillState: (m) => need(['running', 'done', 'failed'].includes(m.state as string), 'unknown distill state'),
  reveal: (m) => need(isStr(m.moduleId), 'reveal.moduleId must be a string'),
  selectStackLowest: (m) =>
    need(isStr(m.stackId) && m.stackId !== '', 'selectStackLowest.stackId must be a non-empty string') ??
    need(isNum(m.k) && Number.isInteger(m.k) && (m.k as number) >= 1, 'selectStackLowest.k must be a whole number ≥ 1'),
  loadError: (m) => need(isStr(m.modelName) && isStr(m.message), 'loadError needs modelName and message'),
  selectionBudget: (m) =>
    need(['latency', 'params', 'flops'].includes(m.metric as string), 'selectionBudget.metric must be latency, params or flops') ??
    need(isNum(m.percent) && (m.percent as number) >= 0 && (m.percent as number) <= 100, 'selectionBudget.percent must be within 0..100'),
};

const fromWebviewChecks: Record<FromWebviewType, Check> = {
  ready: (m) => need(isNum(m.protocolVersion), 'ready.protocolVersion must be a number'),
  requestWeightStats: (m) =>
    need(isNum(m.requestId), 'requestWeightStats.requestId must be a number') ??
    need(isStr(m.tensorName) && m.tensorName !== '', 'requestWeightStats.tensorName must be a non-empty string'),
  applyPrune: (m) => need(isStrArray(m.ids) && m.ids.length > 0, 'applyPrune.ids must be a non-empty list of strings'),
  distill: (m) => need(isStr(m.prunedPath) && m.prunedPath !== '', 'distill.prunedPath must be a non-empty string'),
  measureQuality: (m) => need(isStr(m.pipeline) && m.pipeline !== '', 'measureQuality.pipeline must be a non-empty string'),
  scoreOperators: () => undefined,
  cancelScoring: () => undefined,
  openNode: (m) => need(isStr(m.nodeId), 'openNode.nodeId must be a string'),
  selectionChanged: (m) => need(isStrArray(m.ids), 'selectionChanged.ids must be strings'),
  edit: (m) => need(!!m.edit && typeof m.edit === 'object' && EDIT_KINDS.includes((m.edit as { kind?: string }).kind as EditKind), 'edit.edit must be an edit with a known kind'),
  reportError: (m) => need(isStr(m.message), 'reportError.message must be a string'),
  reopen: () => undefined,
  checkModel: () => undefined,
};

function parseWith<T>(raw: unknown, checks: Record<string, Check>, side: string): T {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ProtocolError(`${side}: message is not an object`);
  const m = raw as Record<string, unknown>;
  const check = isStr(m.type) ? checks[m.type] : undefined;
  if (!check || !Object.prototype.hasOwnProperty.call(checks, m.type as string)) {
    throw new ProtocolError(`${side}: unknown message type ${JSON.stringify(m.type)}`);
  }
  const problem = check(m);
  if (problem) throw new ProtocolError(`${side}: ${problem}`);
  return m as T;
}

/** Validates a message the webview received; throws ProtocolError naming the problem. */
/**
 * The k of "prune the k lowest of this stack" (selectStackLowest, the context menu's input box, the
 * inspector's field): a whole number from 1 to size − 1, one block of the stack always stays. Why `k`
 * (a number, or text as typed) is not one, or undefined when it is.
 */
export function stackKProblem(k: number | string, size: number): string | undefined {
  const v = typeof k === 'number' ? k : /^\d+$/.test(k.trim()) ? Number(k.trim()) : NaN;
  if (Number.isInteger(v) && v >= 1 && v <= size - 1) return undefined;
  return `k must be a whole number from 1 to ${size - 1} (the stack has ${size} blocks; at least one stays)`;
}

export function parseToWebview(raw: unknown): ToWebview {
  return parseWith<ToWebview>(raw, toWebviewChecks, 'message to webview');
}

/** Validates a message the host received from the webview; throws ProtocolError naming the problem. */
export function parseFromWebview(raw: unknown): FromWebview {
  return parseWith<FromWebview>(raw, fromWebviewChecks, 'message from webview');
}

/** Splits results into `scores` messages of at most `size` results each (postMessage stays small). */
export function batchScores(results: readonly CandidateResult[], size = 200): ToWebview[] {
  if (!(size >= 1)) throw new RangeError('batch size must be at least 1');
  const out: ToWebview[] = [];
  for (let i = 0; i < results.length; i += size) out.push({ type: 'scores', results: results.slice(i, i + size) });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Request/reply over a one-way message channel: the requester numbers each request and the reply
// carries the number back. Used by the webview for weight statistics; generic so tests and the
// host can use it too.

export class RequestTracker<Reply> {
  private nextId = 1;
  private pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; timer?: ReturnType<typeof setTimeout> }>();

  constructor(private readonly timeoutMs = 60_000) {}

  /** Allocates an id, calls send(id), and resolves with the reply settled for that id. */
  request(send: (requestId: number) => void): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const entry: { resolve: (r: Reply) => void; reject: (e: Error) => void; timer?: ReturnType<typeof setTimeout> } = { resolve, reject };
      if (this.timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new Error(`request ${id} got no reply within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
      }
      this.pending.set(id, entry);
      try {
        send(id);
      } catch (e) {
        this.settleError(id, e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** Delivers a reply; false when no request with that id is waiting (late or duplicate reply). */
  settle(requestId: number, reply: Reply): boolean {
    const p = this.pending.get(requestId);
    if (!p) return false;
    this.pending.delete(requestId);
    if (p.timer) clearTimeout(p.timer);
    p.resolve(reply);
    return true;
  }

  settleError(requestId: number, error: Error): boolean {
    const p = this.pending.get(requestId);
    if (!p) return false;
    this.pending.delete(requestId);
    if (p.timer) clearTimeout(p.timer);
    p.reject(error);
    return true;
  }

  /** Rejects everything still waiting (the view is being disposed). */
  rejectAll(reason: string): void {
    for (const id of [...this.pending.keys()]) this.settleError(id, new Error(reason));
  }

  get size(): number {
    return this.pending.size;
  }
}

// ---------------------------------------------------------------------------------------------
// The HTML shell

export interface WebviewHtmlOptions {
  /** webview URI of dist/webview.js */
  scriptUri: string;
  /** webview URI of dist/webview.css */
  styleUri: string;
  /** webview.cspSource */
  cspSource: string;
  /** a fresh random nonce per render (see createNonce) */
  nonce: string;
  /** webview URI of @vscode/codicons' codicon.css, when the host ships it */
  codiconsUri?: string;
  title?: string;
  /** what shows until the script draws (other webviews than the graph reuse this shell) */
  loadingText?: string;
}

/** 32 random characters from [A-Za-z0-9], for the CSP nonce. */
export function createNonce(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    `default-src 'none'`,
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    // the layout engine runs in a worker built from a Blob URL (see webview-ui/src/layout)
    `worker-src blob:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

const escapeAttr = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The complete HTML document for the graph webview, with a strict CSP. */
export function webviewHtml(o: WebviewHtmlOptions): string {
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(o.nonce)) throw new Error('webviewHtml: the nonce must be at least 16 base64 characters');
  if (/[;"<>\r\n]/.test(o.cspSource) || !o.cspSource.trim()) {
    throw new Error(`webviewHtml: cspSource ${JSON.stringify(o.cspSource)} contains characters a CSP source cannot`);
  }
  const csp = contentSecurityPolicy(o.cspSource, o.nonce);
  const codicons = o.codiconsUri
    ? `\n  <link rel="stylesheet" id="vscode-codicon-stylesheet" href="${escapeAttr(o.codiconsUri)}">`
    : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta http-equiv="Content-Security-Policy" content="${escapeAttr(csp)}">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="${escapeAttr(o.styleUri)}">${codicons}
  <title>${escapeAttr(o.title ?? 'LD Surgeon')}</title>
</head>
<body>
  <div id="app" class="app" data-loading="true"><div class="app-loading" role="status">${escapeAttr(o.loadingText ?? 'Loading graph…')}</div></div>
  <script nonce="${escapeAttr(o.nonce)}" src="${escapeAttr(o.scriptUri)}"></script>
</body>
</html>
`;
}
