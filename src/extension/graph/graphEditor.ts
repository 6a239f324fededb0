// The `ldSurgeon.graph` custom editor: opening a .onnx file shows its graph in the webview-ui app.
// This side serves the HTML shell, answers the webview's messages (src/protocol/webview.ts) and
// pushes scores and job states to it. Jobs started from a webview outlive it.
import * as vscode from 'vscode';
import * as path from 'node:path';
import {
  WEBVIEW_PROTOCOL_VERSION, createNonce, parseFromWebview, webviewHtml, batchScores,
  type FromWebview, type ToWebview,
} from '../../protocol/webview';
import type { ModelService } from '../model/modelService';
import type { ScoreStore } from '../score/scoreStore';
import { EditRefused, type ChangeSummary, type ModelEdit } from '../../core/edit';
import { humanCount } from '../../core/graph';
import type { CandidateResult } from '../../core/scoring/events';
import { registerEditCommands } from './editCommands';
import { registerStackAction } from './stackAction';
import { GraphDocument } from './graphDocument';
import { GRAPH_VIEW_TYPE } from './graphTabs';

/** What the webview can ask the rest of the extension to do. */
export interface GraphActions {
  scoreOperators(modelPath: string): Promise<void>;
  cancelScoring(modelPath: string): Promise<void>;
  prune(modelPath: string, ids: string[]): Promise<void>;
  distill(modelPath: string, prunedPath: string): Promise<void>;
  measureQuality(modelPath: string, pipeline: string): Promise<void>;
  weightStats(modelPath: string, tensorName: string): Promise<Extract<ToWebview, { type: 'weightStats' }>['stats']>;
  openNode(modelPath: string, nodeId: string): Promise<void>;
  /** messages the host sends right after `init` (scoring state, running jobs) */
  initialState(modelPath: string): ToWebview[];
}

/** A static page (no script) for when the graph app cannot be served at all. */
function errorHtml(message: string): string {
  const esc = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"></head>
<body><p style="color: var(--vscode-errorForeground); font-family: var(--vscode-font-family)">${esc}</p></body></html>`;
}

/** One line for the status bar: what the edit did to the totals, and the estimated speed-up. */
export function describeChange(s: ChangeSummary): string {
  const pct = (now: number, was: number) => (was > 0 ? `${(100 * (now / was - 1)).toFixed(1)}%` : '–');
  return `${s.label}: params ${humanCount(s.now.params)} (${pct(s.now.params, s.original.params)}), FLOPs ${humanCount(s.now.flops)} (${pct(s.now.flops, s.original.flops)}), est. speed-up ×${s.speedup.estimate.toFixed(2)} (${s.speedup.basis})`;
}

/** how long a shown graph view may take to say `ready` before its page is loaded again */
const HANDSHAKE_MS = 15_000;
const MAX_WEBVIEW_RELOADS = 2;

export class GraphPanel implements vscode.Disposable {
  private readyResolve!: () => void;
  private readyReject!: (e: Error) => void;
  /** resolves once the webview said `ready` and got its `init`; rejects with the reader's error for a broken file (until Reopen reads it) */
  ready: Promise<void>;
  private isReady = false;
  /** `ready` was rejected because the file could not be read */
  private failed = false;
  private readonly disposables: vscode.Disposable[] = [];
  /** module ids currently selected in the webview */
  selection: string[] = [];
  /** what the host sent, newest last (kept short; for tests and diagnostics) */
  readonly sent: ToWebview['type'][] = [];

  private readonly loadHtml: () => void;
  /** the webview said `ready` since its HTML was last set */
  private handshaken = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private reloads = 0;

  /**
   * A shown webview whose script never says `ready` is loaded again (at most twice). Seen in real VS Code: the
   * editor a prune opens, visible and active, whose webview never sent a message while a second editor group
   * opened beside it — it stayed on a blank page for good. Setting the HTML again (a fresh nonce makes it new)
   * has VS Code load the frame again. A hidden tab does not load until shown, so the clock starts when it is.
   */
  private watchHandshake(): void {
    clearTimeout(this.handshakeTimer);
    if (this.handshaken || !this.panel.visible || this.reloads >= MAX_WEBVIEW_RELOADS) return;
    this.handshakeTimer = setTimeout(() => {
      if (this.handshaken || !this.panel.visible) return;
      this.reloads++;
      this.output.appendLine(`graph view ${path.basename(this.modelPath)}: the webview did not start within ${HANDSHAKE_MS / 1000} s; loading it again (${this.reloads}/${MAX_WEBVIEW_RELOADS})`);
      this.loadHtml();
      this.watchHandshake();
    }, HANDSHAKE_MS);
  }

  /** what the webview sent, newest last (kept short; says where a graph that never showed got stuck) */
  readonly received: string[] = [];
  /** the score results the webview has, by id (as sent), so a change sends only what changed */
  private readonly sentScores = new Map<string, string>();

  constructor(
    readonly document: GraphDocument,
    readonly modelPath: string,
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly models: ModelService,
    private readonly scores: ScoreStore,
    private readonly actions: GraphActions,
    private readonly output: vscode.OutputChannel,
    private readonly applyEdit: (document: GraphDocument, edit: ModelEdit) => Promise<unknown>,
  ) {
    this.ready = new Promise((res, rej) => {
      this.readyResolve = res;
      this.readyReject = rej;
    });
    this.ready.catch(() => undefined);
    const dropFor = process.env.LD_SURGEON_TEST_DROP_WEBVIEW_READY;
    this.dropReady = !!dropFor && modelPath.includes(dropFor);
    if (document.loadError) {
      // known now, whether or not the webview ever loads (a tab opened in the background does not until
      // it is shown): whoever waits for this graph gets the error at once instead of waiting for good
      this.failed = true;
      this.readyReject(new Error(document.loadError));
    }
    const dist = vscode.Uri.joinPath(extensionUri, 'dist');
    // VS Code's own icon font, so the graph's buttons look like the rest of the workbench
    const codicons = vscode.Uri.joinPath(extensionUri, 'node_modules', '@vscode', 'codicons', 'dist');
    panel.webview.options = { enableScripts: true, localResourceRoots: [dist, codicons, vscode.Uri.joinPath(extensionUri, 'media')] };
    this.loadHtml = () => {
      this.handshaken = false;
      panel.webview.html = webviewHtml({
        scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js')).toString(),
        styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.css')).toString(),
        cspSource: panel.webview.cspSource,
        nonce: createNonce(),
        codiconsUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(codicons, 'codicon.css')).toString(),
        title: path.basename(modelPath),
      });
    };
    try {
      this.loadHtml();
      this.watchHandshake();
    } catch (e) {
      const text = `cannot show the graph of ${modelPath}: ${e instanceof Error ? e.message : String(e)}`;
      output.appendLine(text);
      panel.webview.html = errorHtml(text);
      this.readyReject(new Error(text));
    }
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw) => void this.receive(raw)),
      panel.onDidChangeViewState(() => this.watchHandshake()),
      { dispose: () => clearTimeout(this.handshakeTimer) },
      scores.onDidChange((p) => {
        if (p === modelPath && this.isReady) void this.sendScoreChanges(scores.all(p));
      }),
      document.onDidChangeModel(() => {
        // an edit, undo or redo: only what changed in the index (read now: the next change replaces it)
        const patch = document.lastPatch;
        if (this.isReady && patch) void this.post({ type: 'patch', patch });
        // a file that could not be read and was read again (Reopen) shows its graph now
        else if (this.isReady || this.failed) void this.sendInit();
      }),
    );
  }

  async post(message: ToWebview): Promise<boolean> {
    this.sent.push(message.type);
    if (this.sent.length > 200) this.sent.splice(0, this.sent.length - 200);
    return this.panel.webview.postMessage(message);
  }

  /** Posts after the webview is ready (messages sent before its script runs would be lost). */
  async postWhenReady(message: ToWebview): Promise<void> {
    await this.ready;
    await this.post(message);
  }

  /** One line on where this editor stands, for diagnostics (a test that waited too long says it). */
  describe(): string {
    const p = this.panel;
    return `visible ${p.visible}, active ${p.active}, webview reloads ${this.reloads}, ready ${this.isReady}, failed ${this.failed}, load error ${this.document.loadError ?? 'none'}; webview sent [${this.received.join(', ')}]; host sent [${this.sent.slice(-12).join(', ')}]`;
  }

  private async receive(raw: unknown): Promise<void> {
    this.received.push(typeof raw === 'object' && raw !== null && 'type' in raw ? String((raw as { type: unknown }).type) : typeof raw);
    if (this.received.length > 50) this.received.splice(0, this.received.length - 50);
    let msg: FromWebview;
    try {
      msg = parseFromWebview(raw);
    } catch (e) {
      this.output.appendLine(`graph view ${path.basename(this.modelPath)}: ${(e as Error).message}`);
      return;
    }
    try {
      await this.handle(msg);
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      this.output.appendLine(`graph view ${path.basename(this.modelPath)}: ${msg.type} failed: ${text}`);
      void vscode.window.showErrorMessage(text);
    }
  }

  /**
   * Test hook (LD_SURGEON_TEST_DROP_WEBVIEW_READY=PATH-SUBSTRING): the first `ready` of a graph view on a file whose
   * path contains the substring is ignored, as if the webview had never started, so a test can prove the handshake
   * watchdog loads the page again. Unset in normal use.
   */
  private dropReady = false;

  private async handle(msg: FromWebview): Promise<void> {
    switch (msg.type) {
      case 'ready':
        if (this.dropReady) {
          this.dropReady = false;
          this.output.appendLine(`graph view ${path.basename(this.modelPath)}: test hook: the webview's first 'ready' ignored`);
          return;
        }
        this.handshaken = true;
        clearTimeout(this.handshakeTimer);
        if (msg.protocolVersion !== WEBVIEW_PROTOCOL_VERSION) {
          const text = `The graph view speaks protocol ${msg.protocolVersion}, the extension ${WEBVIEW_PROTOCOL_VERSION}: rebuild the extension (npm run build).`;
          this.readyReject(new Error(text));
          void vscode.window.showErrorMessage(text);
          return;
        }
        await this.sendInit();
        return;
      case 'requestWeightStats': {
        try {
          const stats = await this.actions.weightStats(this.modelPath, msg.tensorName);
          await this.post({ type: 'weightStats', requestId: msg.requestId, tensorName: msg.tensorName, stats });
        } catch (e) {
          await this.post({ type: 'weightStats', requestId: msg.requestId, tensorName: msg.tensorName, error: (e as Error).message });
        }
        return;
      }
      case 'applyPrune':
        return this.actions.prune(this.modelPath, msg.ids);
      case 'distill':
        return this.actions.distill(this.modelPath, msg.prunedPath);
      case 'measureQuality':
        return this.actions.measureQuality(this.modelPath, msg.pipeline);
      case 'scoreOperators':
        return this.actions.scoreOperators(this.modelPath);
      case 'cancelScoring':
        return this.actions.cancelScoring(this.modelPath);
      case 'openNode':
        return this.actions.openNode(this.modelPath, msg.nodeId);
      case 'selectionChanged':
        this.selection = msg.ids;
        return;
      case 'edit':
        await this.applyEdit(this.document, msg.edit);
        return;
      case 'reportError':
        this.output.appendLine(`graph view ${path.basename(this.modelPath)}: ${msg.message}${msg.stack ? `\n${msg.stack}` : ''}`);
        return;
      case 'reopen':
        return this.document.reopen();
      case 'checkModel':
        return this.checkModel();
    }
  }

  private checking = false;

  /** "Check model": runs in the model worker; the webview's side panel shows the result. */
  async checkModel(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await this.postWhenReady({ type: 'modelCheck', state: 'running' });
      const r = await this.document.check();
      await this.post({
        type: 'modelCheck',
        state: 'done',
        version: r.version,
        checks: r.checks,
        maxAbsDiff: r.latents?.maxAbsDiff,
        latencyBeforeMs: r.latency?.originalMs,
        latencyAfterMs: r.latency?.prunedMs,
        ep: r.ep,
        seconds: r.seconds,
      });
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      this.output.appendLine(`check model ${path.basename(this.modelPath)}: ${text}`);
      await this.post({ type: 'modelCheck', state: 'failed', error: text });
    } finally {
      this.checking = false;
    }
  }

  private async sendInit(): Promise<void> {
    const loadError = this.document.loadError;
    if (loadError) {
      this.isReady = false;
      this.output.appendLine(`cannot show ${this.modelPath}: ${loadError}`);
      this.readyReject(new Error(loadError));
      this.failed = true;
      await this.post({ type: 'loadError', modelName: path.basename(this.modelPath), message: loadError });
      return;
    }
    if (this.failed) {
      // read at last (Reopen): `ready` was rejected with the reader's error; waiters from now on wait for this init
      this.failed = false;
      this.ready = new Promise((res, rej) => {
        this.readyResolve = res;
        this.readyReject = rej;
      });
      this.ready.catch(() => undefined);
    }
    try {
      // the index as the model worker made it: never analysed or parsed on the extension host
      await this.post({
        type: 'init',
        graphJson: this.document.indexJson,
        modelName: path.basename(this.modelPath),
        modelPath: this.modelPath,
      });
      const results = this.scores.all(this.modelPath);
      this.sentScores.clear();
      for (const r of results) this.sentScores.set(r.id, JSON.stringify(r));
      for (const m of batchScores(results)) await this.post(m);
      for (const m of this.actions.initialState(this.modelPath)) await this.post(m);
      this.isReady = true;
      this.readyResolve();
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      this.readyReject(new Error(text));
      this.output.appendLine(`cannot show ${this.modelPath}: ${text}`);
      void vscode.window.showErrorMessage(`Cannot show the graph of ${path.basename(this.modelPath)}: ${text}`);
    }
  }

  /**
   * Score changes as batches of the results that changed since the last send (a scoring run adds one
   * result at a time: resending every result each time is O(N²) messages and webview work).
   */
  private async sendScoreChanges(all: CandidateResult[]): Promise<void> {
    const ids = new Set(all.map((r) => r.id));
    const dropped = [...this.sentScores.keys()].some((id) => !ids.has(id));
    const changed = dropped ? all : all.filter((r) => this.sentScores.get(r.id) !== JSON.stringify(r));
    if (dropped) this.sentScores.clear();
    for (const r of changed) this.sentScores.set(r.id, JSON.stringify(r));
    const batches = batchScores(changed);
    if (dropped) await this.post({ type: 'scores', results: [], reset: true });
    for (const m of batches) await this.post(m);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

export class GraphEditorProvider implements vscode.CustomEditorProvider<GraphDocument>, vscode.Disposable {
  private readonly panels = new Set<GraphPanel>();
  private readonly edited = new vscode.EventEmitter<vscode.CustomDocumentEditEvent<GraphDocument>>();
  readonly onDidChangeCustomDocument = this.edited.event;
  /** the reason the last refused edit was given (for tests and diagnostics) */
  lastRefusal: string | undefined;
  private readonly activeChanged = new vscode.EventEmitter<GraphPanel>();
  /** a graph editor became the active editor */
  readonly onDidActivate = this.activeChanged.event;
  actions!: GraphActions;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly models: ModelService,
    private readonly scores: ScoreStore,
    private readonly output: vscode.OutputChannel,
  ) {}

  register(): vscode.Disposable {
    return vscode.Disposable.from(
      vscode.window.registerCustomEditorProvider(GRAPH_VIEW_TYPE, this, {
        // re-laying out a large graph on every tab switch is slow; keep the webview alive while hidden
        webviewOptions: { retainContextWhenHidden: true },
        supportsMultipleEditorsPerDocument: false,
      }),
      ...registerEditCommands(this),
      registerStackAction(this),
      vscode.commands.registerCommand('ldSurgeon.graph.checkModel', async () => {
        const panel = this.activePanel();
        if (!panel) return void vscode.window.showInformationMessage('Open a model in the LD Surgeon graph editor first.');
        await panel.checkModel();
      }),
    );
  }

  /**
   * Opening and analysing happen in the model worker thread, shared with the Model view (ModelService):
   * the tree of a file open here is this document's analysis.
   */
  async openCustomDocument(uri: vscode.Uri, context: vscode.CustomDocumentOpenContext): Promise<GraphDocument> {
    const document = await GraphDocument.open(uri, this.models.worker, context.backupId);
    // edits, undo, redo and revert change the document the Model view's tree is made from; once an
    // edited document closes, the tree is the file's again
    let changed = false;
    document.onDidChangeModel(() => {
      changed = true;
      this.models.documentChanged(uri.fsPath);
    });
    document.onDidClose(() => {
      if (changed) this.models.documentChanged(uri.fsPath);
    });
    return document;
  }

  /**
   * Applies an edit to the document: one VS Code edit (undo/redo go back to the worker), the totals
   * and estimated speed-up in the status bar; a refused edit shows its reason and changes nothing.
   * Resolves with the summary, or undefined when refused.
   */
  async applyEdit(document: GraphDocument, edit: ModelEdit): Promise<ChangeSummary | undefined> {
    let summary: ChangeSummary;
    try {
      summary = await document.apply(edit);
    } catch (e) {
      if (!(e instanceof EditRefused)) throw e;
      this.lastRefusal = e.message;
      this.output.appendLine(`edit refused: ${e.message}`);
      void vscode.window.showWarningMessage(e.message);
      return undefined;
    }
    this.edited.fire({ document, label: summary.label, undo: () => document.undo(), redo: () => document.redo() });
    vscode.window.setStatusBarMessage(describeChange(summary), 15000);
    return summary;
  }

  async saveCustomDocument(document: GraphDocument): Promise<void> {
    const out = await document.save();
    vscode.window.setStatusBarMessage(`Saved the edited model to ${path.basename(out)} (the original is unchanged)`, 10000);
  }

  async saveCustomDocumentAs(document: GraphDocument, destination: vscode.Uri): Promise<void> {
    const r = await document.saveAs(destination);
    if (r.backup) void vscode.window.showInformationMessage(`Saved over ${path.basename(r.path)}; the previous file is kept as ${path.basename(r.backup)}.`);
  }

  revertCustomDocument(document: GraphDocument): Promise<void> {
    return document.revert();
  }

  backupCustomDocument(document: GraphDocument, context: vscode.CustomDocumentBackupContext): Promise<vscode.CustomDocumentBackup> {
    return document.backup(context.destination);
  }

  /** The graph in focus (or the only open one). */
  activePanel(): GraphPanel | undefined {
    const panels = [...this.panels];
    return panels.find((p) => p.panel.active) ?? (panels.length === 1 ? panels[0] : undefined);
  }

  activeDocument(): GraphDocument | undefined {
    return this.activePanel()?.document;
  }

  resolveCustomEditor(document: GraphDocument, webviewPanel: vscode.WebviewPanel): void {
    const panel = new GraphPanel(document, document.uri.fsPath, webviewPanel, this.extensionUri, this.models, this.scores, this.actions, this.output, (d, e) => this.applyEdit(d, e));
    this.panels.add(panel);
    webviewPanel.onDidDispose(() => {
      this.panels.delete(panel);
      panel.dispose();
    });
    webviewPanel.onDidChangeViewState((e) => {
      if (e.webviewPanel.active) this.activeChanged.fire(panel);
    });
    if (webviewPanel.active) this.activeChanged.fire(panel);
  }

  panelsFor(modelPath: string): GraphPanel[] {
    return [...this.panels].filter((p) => p.modelPath === modelPath);
  }

  /** Sends `message` to every open graph editor of `modelPath` (once each is ready). */
  broadcast(modelPath: string, message: ToWebview): void {
    for (const p of this.panelsFor(modelPath)) void p.postWhenReady(message);
  }

  /** Opens (or focuses) the graph editor of `modelPath` and resolves with its ready panel. */
  async open(modelPath: string, options: { preserveFocus?: boolean } = {}): Promise<GraphPanel> {
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(modelPath), GRAPH_VIEW_TYPE, {
      preserveFocus: options.preserveFocus ?? false,
      preview: false,
    });
    const panel = this.panelsFor(modelPath)[0];
    if (!panel) throw new Error(`the graph editor of ${modelPath} did not open`);
    await panel.ready;
    return panel;
  }

  /** Shows module `moduleId` in the graph of `modelPath`, opening the graph if needed. */
  async reveal(modelPath: string, moduleId: string): Promise<void> {
    const panel = this.panelsFor(modelPath)[0] ?? (await this.open(modelPath, { preserveFocus: true }));
    await panel.postWhenReady({ type: 'reveal', moduleId });
  }

  dispose(): void {
    for (const p of this.panels) p.dispose();
    this.panels.clear();
    this.activeChanged.dispose();
    this.edited.dispose();
  }
}
