// How the extension's commands report failures, and how they name files to the user.
import * as vscode from 'vscode';

/** A message for a user, from anything thrown. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A path as the workspace shows it. */
export function rel(p: string): string {
  return vscode.workspace.asRelativePath(p, false);
}

/** Registers a command whose failure becomes an error notification instead of a silent rejection. */
export function command(id: string, fn: (...args: unknown[]) => unknown): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      await fn(...args);
    } catch (e) {
      void vscode.window.showErrorMessage(errorText(e));
    }
  });
}
