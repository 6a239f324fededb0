// The graph editor as VS Code's tabs know it: its view type (package.json `customEditors`) and the model of the
// focused graph tab. A leaf module, so the commands that open or target graphs need not load the editor itself.
import * as vscode from 'vscode';

export const GRAPH_VIEW_TYPE = 'ldSurgeon.graph';

/** The model of the active graph editor, if one is in focus. */
export function activeGraphModel(): string | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom && input.viewType === GRAPH_VIEW_TYPE ? input.uri.fsPath : undefined;
}

/** Opens a file the way a user expects: models in the graph editor, everything else as a document. */
export async function openInEditor(file: string): Promise<void> {
  const uri = vscode.Uri.file(file);
  if (file.toLowerCase().endsWith('.onnx')) await vscode.commands.executeCommand('vscode.openWith', uri, GRAPH_VIEW_TYPE);
  else await vscode.commands.executeCommand('vscode.open', uri);
}
