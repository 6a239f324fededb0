// The graph editor's edit commands: the webview's context menu on a block or node (package.json
// `webview/context`, fed by the item's data-vscode-context) and keyboard shortcuts (which act on
// the blocks selected in the graph). Each builds one ModelEdit and hands it to the provider, which
// applies it in the model worker or shows why it was refused.
import * as vscode from 'vscode';
import type { ModelEdit } from '../../core/edit';
import type { GraphIndex, IndexAttribute } from '../../core/graph/graph-index';
import type { GraphDocument } from './graphDocument';

/** The part of the graph editor provider the commands use (kept narrow: no import cycle with it). */
export interface GraphEditTarget {
  activePanel(): { selection: string[] } | undefined;
  activeDocument(): GraphDocument | undefined;
  /** resolves with a summary, or undefined when the edit was refused (the reason was shown) */
  applyEdit(document: GraphDocument, edit: ModelEdit): Promise<unknown>;
}

/** What VS Code passes from a webview context menu: the clicked item's data-vscode-context. */
interface ItemContext {
  moduleId?: string;
  nodeId?: string;
}

type EditFor = (ctx: ItemContext, graphs: GraphEditTarget) => Promise<ModelEdit | ModelEdit[] | undefined>;

function modules(ctx: ItemContext | undefined, graphs: GraphEditTarget): string[] {
  if (ctx?.moduleId) return [ctx.moduleId];
  return graphs.activePanel()?.selection ?? [];
}

function nodeOf(ctx: ItemContext | undefined): string | undefined {
  return ctx?.nodeId;
}

/** The index node of `id` (parsed on demand: only commands that need a node's attributes or outputs read it). */
function indexNode(graphs: GraphEditTarget, id: string): { attrs: IndexAttribute[]; outputs: string[] } | undefined {
  const doc = graphs.activeDocument();
  if (!doc) return undefined;
  const g = JSON.parse(doc.indexJson) as GraphIndex;
  const n = g.nodes.find((x) => x.id === id);
  return n && { attrs: n.attrs ?? [], outputs: n.out.map((v) => g.values.name[v]) };
}

const perModule = (make: (id: string) => ModelEdit): EditFor => async (ctx, graphs) => {
  const ids = modules(ctx, graphs);
  if (!ids.length) {
    void vscode.window.showInformationMessage('Select a block in the graph first (or right-click one).');
    return undefined;
  }
  return ids.map(make);
};

const EDITS: Record<string, EditFor> = {
  'ldSurgeon.graph.bypass': perModule((module) => ({ kind: 'bypass', module })),
  'ldSurgeon.graph.replaceByIdentity': perModule((module) => ({ kind: 'replace', module, with: 'identity' })),
  'ldSurgeon.graph.replaceByShortcut': perModule((module) => ({ kind: 'replace', module, with: 'shortcut' })),
  'ldSurgeon.graph.acceptPrunes': async (ctx, graphs) => {
    const ids = modules(ctx, graphs);
    return ids.length ? { kind: 'accept-prunes', modules: ids } : undefined;
  },
  'ldSurgeon.graph.rejectPrunes': async (ctx, graphs) => {
    const ids = modules(ctx, graphs);
    return ids.length ? { kind: 'reject-prunes', modules: ids } : undefined;
  },
  'ldSurgeon.graph.removeNode': async (ctx) => {
    const node = nodeOf(ctx);
    return node ? { kind: 'remove-node', node } : undefined;
  },
  'ldSurgeon.graph.renameNode': async (ctx) => {
    const node = nodeOf(ctx);
    if (!node) return undefined;
    const to = await vscode.window.showInputBox({ title: `Rename node ${node}`, value: node, prompt: 'The new node name (must not be taken by another node)' });
    return to === undefined ? undefined : { kind: 'rename-node', node, to };
  },
  'ldSurgeon.graph.renameValue': async (ctx, graphs) => {
    const node = nodeOf(ctx);
    const outs = node ? indexNode(graphs, node)?.outputs.filter(Boolean) ?? [] : [];
    const value = outs.length > 1 ? await vscode.window.showQuickPick(outs, { title: 'Rename which output value?' }) : outs[0];
    if (!value) return undefined;
    const to = await vscode.window.showInputBox({ title: `Rename value ${value}`, value, prompt: 'Every reference follows; a name already in use is refused' });
    return to === undefined ? undefined : { kind: 'rename-value', value, to };
  },
  'ldSurgeon.graph.setAttribute': async (ctx, graphs) => {
    const node = nodeOf(ctx);
    const attrs = node ? indexNode(graphs, node)?.attrs.filter((a) => 'value' in a) ?? [] : [];
    if (!node || !attrs.length) {
      if (node) void vscode.window.showInformationMessage(`Node ${node} has no attribute that can be edited as text.`);
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(attrs.map((a) => ({ label: a.name, description: `${a.type} = ${JSON.stringify((a as { value: unknown }).value)}`, a })), { title: `Edit an attribute of ${node}` });
    if (!pick) return undefined;
    const current = (pick.a as { value: unknown }).value;
    const text = await vscode.window.showInputBox({
      title: `${node}.${pick.a.name} (${pick.a.type})`,
      value: Array.isArray(current) ? `[${current.join(', ')}]` : String(current),
      prompt: `A value of type ${pick.a.type}; the edit is refused when the model's shapes stop fitting`,
    });
    return text === undefined ? undefined : { kind: 'set-attribute', node, name: pick.a.name, input: { type: 'text', value: text } };
  },
  'ldSurgeon.graph.setOutput': async (ctx, graphs) => {
    const node = nodeOf(ctx);
    const outs = node ? indexNode(graphs, node)?.outputs.filter(Boolean) ?? [] : [];
    const value = outs.length > 1 ? await vscode.window.showQuickPick(outs, { title: 'Which value becomes a graph output?' }) : outs[0];
    return value ? { kind: 'set-output', value } : undefined;
  },
  'ldSurgeon.graph.clearOutput': async (ctx, graphs) => {
    const doc = graphs.activeDocument();
    if (!doc) return undefined;
    const g = JSON.parse(doc.indexJson) as GraphIndex;
    const value = await vscode.window.showQuickPick(g.outputs.map((v) => g.values.name[v]), { title: 'Which graph output to clear?' });
    return value ? { kind: 'clear-output', value } : undefined;
  },
};

export function registerEditCommands(graphs: GraphEditTarget): vscode.Disposable[] {
  return Object.entries(EDITS).map(([command, make]) =>
    vscode.commands.registerCommand(command, async (ctx?: ItemContext) => {
      const doc = graphs.activeDocument();
      if (!doc) {
        void vscode.window.showInformationMessage('Open a model in the LD Surgeon graph editor first.');
        return;
      }
      const edits = await make(ctx ?? {}, graphs);
      // several selected blocks: one edit each, stopping at the first refusal
      for (const e of Array.isArray(edits) ? edits : edits ? [edits] : []) if (!(await graphs.applyEdit(doc, e))) return;
    }),
  );
}
