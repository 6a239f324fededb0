// The "Model" view: the module hierarchy of the active model (the graph editor in focus, or the model a
// command last ran on) with op counts, parameters and FLOPs, and operator scores once known.
// Selecting a module reveals it in the graph editor.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { humanBytes, humanCount, type IndexModule, type ModuleSummary, type SummaryModule } from '../../core/graph';
import type { CandidateResult } from '../../protocol/webview';
import type { ModelService } from './modelService';
import type { ScoreStore } from '../score/scoreStore';

export class ModuleItem extends vscode.TreeItem {
  constructor(
    readonly modelPath: string,
    readonly module: SummaryModule,
    readonly stats: ModuleTotals,
    readonly score: CandidateResult | undefined,
  ) {
    const isRoot = module.parent === null;
    super(
      isRoot ? path.basename(modelPath) : module.name,
      isRoot
        ? vscode.TreeItemCollapsibleState.Expanded
        : module.children.length
          ? vscode.TreeItemCollapsibleState.Collapsed
          : vscode.TreeItemCollapsibleState.None,
    );
    this.id = `${modelPath}::${module.id}`;
    this.description = describe(stats, score);
    this.tooltip = tooltip(modelPath, module, stats, score);
    this.iconPath = new vscode.ThemeIcon(isRoot ? 'file-binary' : module.children.length ? 'symbol-namespace' : 'symbol-method');
    this.contextValue = isRoot ? 'ldSurgeon.model' : score ? 'ldSurgeon.module.scored' : 'ldSurgeon.module';
  }
}

/** a module's subtree totals, as the model worker sends them */
type ModuleTotals = IndexModule;

function flopsText(s: ModuleTotals): string {
  // nodes with unknown cost are left out of the sum: say the number is a lower bound
  return `${humanCount(s.flops)}${s.uncounted ? '+' : ''} FLOPs`;
}

function scoreText(score: CandidateResult): string {
  if (score.modification === 'none') return 'not prunable';
  return score.score === null ? 'score n/a' : `score ${score.score.toPrecision(3)}`;
}

/** The row's description: the score (the status) first, so a narrow view truncates the sizes instead. */
function describe(s: ModuleTotals, score: CandidateResult | undefined): string {
  const parts = [`${s.ops} ops`, `${humanCount(s.params)} params`, flopsText(s)];
  if (score) parts.unshift(scoreText(score));
  return parts.join(' · ');
}

function tooltip(modelPath: string, m: SummaryModule, s: ModuleTotals, score: CandidateResult | undefined): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  md.appendMarkdown(`**${m.id || path.basename(modelPath)}**\n\n`);
  md.appendMarkdown(`${s.ops.toLocaleString('en-US')} ops (${s.nodes.toLocaleString('en-US')} nodes)  \n`);
  md.appendMarkdown(`${s.params.toLocaleString('en-US')} parameters (${humanBytes(s.paramBytes)})  \n`);
  md.appendMarkdown(`${s.flops.toLocaleString('en-US')} FLOPs, ${s.macs.toLocaleString('en-US')} MACs per sample`);
  if (s.uncounted) md.appendMarkdown(` (${s.uncounted} ops of unknown cost not counted)`);
  const ops = Object.entries(s.opCounts).sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (ops.length) md.appendMarkdown(`\n\n${ops.map(([op, n]) => `${op} ×${n}`).join(', ')}`);
  if (score) {
    md.appendMarkdown(`\n\n---\n\nLD-Pruner: ${scoreText(score)} (${score.modification})`);
    if (score.reason) md.appendText(`\n${score.reason}`);
  }
  return md;
}

export class ModelTreeProvider implements vscode.TreeDataProvider<ModuleItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ModuleItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly activeChanged = new vscode.EventEmitter<string | undefined>();
  /** the model shown changed */
  readonly onDidChangeModel = this.activeChanged.event;
  private modelPath?: string;
  private analysis?: ModuleSummary;
  private error?: string;
  private loading?: Promise<void>;
  private readonly items = new Map<SummaryModule, ModuleItem>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly models: ModelService, private readonly scores: ScoreStore) {
    this.disposables.push(
      this.changed,
      this.activeChanged,
      models.onDidChangeModel((p) => {
        // keep showing the old tree (and its expanded rows) until the new one arrives
        if (p === this.modelPath) void this.load(p, true);
      }),
      scores.onDidChange((p) => {
        if (p === this.modelPath) this.refresh();
      }),
    );
  }

  get model(): string | undefined {
    return this.modelPath;
  }

  /** Shows `file`'s modules; resolves once they are loaded (or failed to load). */
  show(file: string, reload = false): Promise<void> {
    if (!reload && file === this.modelPath && this.loading) return this.loading;
    return this.load(file);
  }

  private load(file: string, inPlace = false): Promise<void> {
    this.modelPath = file;
    if (!inPlace) {
      this.analysis = undefined;
      this.activeChanged.fire(file);
    }
    this.error = undefined;
    const loading = this.models.modules(file).then(
      (a) => {
        if (this.modelPath === file) this.analysis = a;
      },
      (e) => {
        if (this.modelPath !== file) return;
        this.analysis = undefined;
        this.error = e instanceof Error ? e.message : String(e);
      },
    ).finally(() => this.refresh());
    this.loading = loading;
    if (!inPlace) this.refresh();
    return loading;
  }

  refresh(): void {
    this.items.clear();
    this.changed.fire(undefined);
  }

  /** The module tree shown, once loaded. */
  current(): { modelPath: string; analysis: ModuleSummary } | undefined {
    return this.modelPath && this.analysis ? { modelPath: this.modelPath, analysis: this.analysis } : undefined;
  }

  /** A message for the view (loading, or why the model could not be read). */
  statusMessage(): string | undefined {
    if (!this.modelPath) return undefined;
    if (this.error) return this.error;
    if (!this.analysis) return `Reading ${path.basename(this.modelPath)}…`;
    return undefined;
  }

  getTreeItem(item: ModuleItem): ModuleItem {
    return item;
  }

  getChildren(parent?: ModuleItem): ModuleItem[] {
    const a = this.analysis;
    const file = this.modelPath;
    if (!a || !file) return [];
    if (!parent) return [this.item(file, a.root)];
    return parent.module.children.map((m) => this.item(file, m));
  }

  getParent(item: ModuleItem): ModuleItem | undefined {
    const p = item.module.parent;
    return this.analysis && p && this.modelPath ? this.item(this.modelPath, p) : undefined;
  }

  /** The item of module `id`, for TreeView.reveal. */
  itemFor(moduleId: string): ModuleItem | undefined {
    const a = this.analysis;
    const m = a?.byId.get(moduleId);
    return m && this.modelPath ? this.item(this.modelPath, m) : undefined;
  }

  private item(file: string, m: SummaryModule): ModuleItem {
    let it = this.items.get(m);
    if (!it) {
      it = new ModuleItem(file, m, m.stats, this.scores.get(file)?.get(m.id));
      this.items.set(m, it);
    }
    return it;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
