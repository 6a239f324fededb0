// "Open node" from the graph: a read-only JSON document with a node's full definition (op, module,
// every input and output with shape and type, decoded attributes; core/graph/node-definition.ts).
// The definition is made in the model worker (from the open document, edits included); the extension
// host only shows the text, so a click never reads or analyses a model here.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { ModelService } from '../model/modelService';

export const NODE_SCHEME = 'ld-surgeon-node';

export function nodeUri(modelPath: string, nodeId: string): vscode.Uri {
  // path: what the tab shows; query: which model
  const safe = nodeId.replace(/[\\/]/g, '_') || 'node';
  return vscode.Uri.from({ scheme: NODE_SCHEME, path: `/${path.basename(modelPath)}/${safe}.json`, query: JSON.stringify({ modelPath, nodeId }) });
}

export class NodeDocumentProvider implements vscode.TextDocumentContentProvider {
  constructor(private readonly models: ModelService) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const { modelPath, nodeId } = JSON.parse(uri.query) as { modelPath: string; nodeId: string };
    return JSON.stringify(await this.models.node(modelPath, nodeId), null, 2) + '\n';
  }
}

export async function openNode(modelPath: string, nodeId: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(nodeUri(modelPath, nodeId));
  await vscode.languages.setTextDocumentLanguage(doc, 'json');
  await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
}
