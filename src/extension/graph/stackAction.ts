// The graph's "Prune the k Lowest Blocks of this Stack…" (its own module: graphActions.ts and the
// editor provider import each other's types, and this is registered by the provider).
import * as vscode from 'vscode';
import type { GraphIndex } from '../../core/graph/graph-index';
import { stackKProblem, type ToWebview } from '../../protocol/webview';

/** The part of the graph editor provider the stack action uses. */
export interface StackActionTarget {
  activePanel(): { document: { indexJson: string }; postWhenReady(message: ToWebview): Promise<void> } | undefined;
}

/**
 * "Prune the k Lowest Blocks…" on a depth stack (the graph's context menu, fed by the stack item's
 * data-vscode-context): asks k, checked 1..N-1, and has the view select the stack's k lowest-scored
 * blocks into its prune selection, which the prunes panel's Apply prunes as any other.
 */
export function registerStackAction(graphs: StackActionTarget): vscode.Disposable {
  return vscode.commands.registerCommand('ldSurgeon.graph.pruneLowestOfStack', async (ctx?: { stackId?: unknown }) => {
    const panel = graphs.activePanel();
    if (!panel) return void vscode.window.showInformationMessage('Open a model in the LD Surgeon graph editor first.');
    const stackId = typeof ctx?.stackId === 'string' ? ctx.stackId : undefined;
    if (!stackId) return void vscode.window.showInformationMessage('Right-click a depth stack in the graph (a block drawn with a strip of its blocks).');
    const stack = (JSON.parse(panel.document.indexJson) as GraphIndex).stacks?.find((s) => s.id === stackId);
    if (!stack) return void vscode.window.showInformationMessage(`${stackId} is not a depth stack of this model (it may have changed).`);
    const n = stack.members.length;
    const text = await vscode.window.showInputBox({
      title: `Prune the k lowest-scored blocks of ${stackId}`,
      prompt: `k from 1 to ${n - 1}: they join the prune selection (Apply in the prunes panel prunes them)`,
      value: String(Math.min(2, n - 1)),
      validateInput: (v) => stackKProblem(v, n),
    });
    if (text === undefined) return;
    await panel.postWhenReady({ type: 'selectStackLowest', stackId, k: Number(text.trim()) });
  });
}
