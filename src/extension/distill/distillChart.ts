// The live chart of a distillation run: one webview panel per run, fed from the run's events.jsonl
// (replayed, then followed while the trainer appends). Reading the file rather than the job's stdout
// means a chart works the same for a run started here, from the CLI, on a cluster, or after a reload.
import * as vscode from 'vscode';
import { hostname } from 'node:os';
import { EventsFileFollower, type EventsFileState } from '../../core/distill/eventsFollower';
import { RunSeriesReducer, isLive, statusText, type RunSeries } from '../../core/distill/runSeries';
import { isProcessAlive } from '../jobs/runFolder';
import type { TrainerEvent } from '../../core/distill/events';
import {
  DISTILL_CHART_PROTOCOL_VERSION, eventMessages, parseFromChart, type ChartSnapshot, type ToChart,
} from '../../protocol/distillChart';
import { createNonce, webviewHtml } from '../../protocol/webview';

export interface DistillChartRun {
  /** the job's id: show() with the same id reveals the open panel */
  id: string;
  title: string;
  /** <trainer run dir>/events.jsonl; need not exist yet */
  eventsFile: string;
}

export type { ChartSnapshot };

/** How often a live run's trainer process is looked for (only when it runs on this host). */
const TRAINER_CHECK_MS = 2000;

class ChartPanel {
  private events: TrainerEvent[] = [];
  private reducer = new RunSeriesReducer();
  private skippedLines = 0;
  private fileState: EventsFileState | undefined;
  private follower: EventsFileFollower;
  private ready = false;
  private shortStatus = '';
  /** the trainer pid found gone while the events still said it ran (killed or crashed) */
  private goneFor: number | undefined;
  private readonly trainerCheck: ReturnType<typeof setInterval>;
  lastSnapshot: ChartSnapshot | undefined;

  constructor(
    readonly panel: vscode.WebviewPanel,
    private run: DistillChartRun,
    private readonly log: (line: string) => void,
    onClosed: () => void,
  ) {
    panel.webview.onDidReceiveMessage((raw) => this.receive(raw));
    // a hidden webview is torn down (no retainContextWhenHidden): it says `ready` again when shown and gets
    // the whole run again, which costs less memory than keeping a hidden chart alive
    panel.onDidChangeViewState(() => {
      if (!panel.visible) this.ready = false;
    });
    panel.onDidDispose(() => {
      this.follower.dispose();
      clearInterval(this.trainerCheck);
      onClosed();
    });
    this.follower = this.follow();
    this.trainerCheck = setInterval(() => void this.checkTrainer(), TRAINER_CHECK_MS);
  }

  /**
   * A trainer killed with SIGKILL (or by the OOM killer, or a crash of Python itself) writes no final event: its
   * chart would say "running" forever. When it ran on this machine its pid tells: gone means it stopped.
   */
  private async checkTrainer(): Promise<void> {
    const trainer = this.reducer.series.trainer;
    if (!isLive(this.reducer.series) || !trainer || trainer.host !== hostname() || isProcessAlive(trainer.pid)) return;
    // its last lines may have been written just before it exited: read them before deciding
    await this.follower.check();
    const s = this.reducer.series;
    if (!isLive(s) || s.trainer?.pid !== trainer.pid) return;
    this.reducer.markTrainerGone();
    this.goneFor = trainer.pid;
    this.postFileState();
    this.updateTitle();
  }

  /** show() again for the same id: a re-run may write somewhere else. */
  update(run: DistillChartRun): void {
    const moved = run.eventsFile !== this.run.eventsFile;
    this.run = run;
    this.panel.title = this.titleText();
    if (!moved) return;
    this.follower.dispose();
    this.events = [];
    this.reducer = new RunSeriesReducer();
    this.skippedLines = 0;
    this.fileState = undefined;
    this.goneFor = undefined;
    this.post({ type: 'init', title: run.title, eventsFile: run.eventsFile });
    for (const m of eventMessages([], true)) this.post(m);
    this.follower = this.follow();
  }

  get series(): RunSeries {
    return this.reducer.series;
  }

  dispose(): void {
    this.follower.dispose();
    clearInterval(this.trainerCheck);
    this.panel.dispose();
  }

  private follow(): EventsFileFollower {
    const f = new EventsFileFollower(this.run.eventsFile, {
      onEvents: (events, reset, skipped) => {
        if (reset) {
          this.events = [];
          this.reducer = new RunSeriesReducer();
          this.skippedLines = 0;
        }
        this.events.push(...events);
        this.reducer.addAll(events);
        // a resume appending to the same file starts a new trainer; a replaced file is checked afresh
        if (reset || this.reducer.series.trainer?.pid !== this.goneFor) this.goneFor = undefined;
        else if (this.goneFor !== undefined) this.reducer.markTrainerGone();
        this.skippedLines += skipped;
        for (const m of eventMessages(events, reset, skipped)) this.post(m);
        this.updateTitle();
      },
      onState: (state) => {
        this.fileState = state;
        this.postFileState();
        if (state.error) this.log(`distillation chart: ${state.error}`);
      },
    });
    f.start().catch((e) => this.log(`distillation chart: cannot read ${this.run.eventsFile}: ${e instanceof Error ? e.message : String(e)}`));
    return f;
  }

  private receive(raw: unknown): void {
    let msg;
    try {
      msg = parseFromChart(raw);
    } catch (e) {
      this.log(`distillation chart: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    switch (msg.type) {
      case 'ready':
        if (msg.protocolVersion !== DISTILL_CHART_PROTOCOL_VERSION) {
          this.log(`distillation chart: the webview speaks protocol ${msg.protocolVersion}, the host ${DISTILL_CHART_PROTOCOL_VERSION}; reload the window`);
        }
        this.ready = true;
        this.replay();
        break;
      case 'rendered':
        this.lastSnapshot = msg.snapshot;
        break;
      case 'openOutput':
        // only the path this run's own `done` line named: a webview must not open arbitrary files
        if (this.reducer.series.output && msg.path === this.reducer.series.output) {
          void vscode.commands.executeCommand('vscode.open', vscode.Uri.file(msg.path));
        }
        break;
      case 'reportError':
        this.log(`distillation chart (webview): ${msg.message}${msg.stack ? `\n${msg.stack}` : ''}`);
        break;
    }
  }

  private replay(): void {
    this.post({ type: 'init', title: this.run.title, eventsFile: this.run.eventsFile });
    for (const m of eventMessages(this.events, true, this.skippedLines)) this.post(m);
    this.postFileState();
  }

  private postFileState(): void {
    const f = this.fileState;
    const gone = this.goneFor !== undefined ? { trainerGone: true } : {};
    if (f) this.post({ type: 'file', exists: f.exists, mtimeMs: f.mtimeMs, hostNowMs: Date.now(), error: f.error, ...gone });
  }

  private post(m: ToChart): void {
    // before `ready` the webview would drop it; replay() sends everything once it is ready
    if (this.ready) void this.panel.webview.postMessage(m);
  }

  private updateTitle(): void {
    const t = this.titleText();
    if (t !== this.shortStatus) {
      this.shortStatus = t;
      this.panel.title = t;
    }
  }

  private titleText(): string {
    const s = this.reducer.series;
    const tail = s.state === 'running' && s.step > 0 ? (s.totalSteps ? `${s.step}/${s.totalSteps}` : `step ${s.step}`) : s.state === 'waiting' || isLive(s) ? '' : s.state === 'lost' ? 'stopped' : s.state;
    return tail ? `${this.run.title} (${tail})` : this.run.title;
  }
}

export class DistillChartPanels implements vscode.Disposable {
  private panels = new Map<string, ChartPanel>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    /** where host-side problems go (the extension's output channel); the console when not given */
    private readonly log: (line: string) => void = (l) => console.warn(l),
  ) {}

  show(run: DistillChartRun): void {
    const open = this.panels.get(run.id);
    if (open) {
      open.update(run);
      open.panel.reveal(undefined, true);
      return;
    }
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    const panel = vscode.window.createWebviewPanel(
      'ldSurgeon.distillChart',
      run.title,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [dist] },
    );
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'ld-surgeon.svg');
    panel.webview.html = webviewHtml({
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'distillChart.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'distillChart.css')).toString(),
      cspSource: panel.webview.cspSource,
      nonce: createNonce(),
      title: run.title,
      loadingText: 'Loading the distillation chart…',
    });
    this.panels.set(run.id, new ChartPanel(panel, run, this.log, () => this.panels.delete(run.id)));
  }

  /** What the chart for `id` last drew (points per series, status text); undefined before its first draw. */
  snapshot(id: string): ChartSnapshot | undefined {
    return this.panels.get(id)?.lastSnapshot;
  }

  /** The host's own reduction of the run, e.g. for a job summary; undefined when no panel is open for `id`. */
  summary(id: string): { series: RunSeries; status: string } | undefined {
    const p = this.panels.get(id);
    return p ? { series: p.series, status: statusText(p.series) } : undefined;
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
    this.panels.clear();
  }
}
