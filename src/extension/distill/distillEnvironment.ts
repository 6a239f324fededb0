// The distillation environment check: which Python runs the trainer (the `ldSurgeon.pythonPath` setting, else
// the Python extension's selected interpreter, else LD_SURGEON_PYTHON / PATH / the system Python), its torch and
// onnx versions and its CUDA devices, or what is missing with the exact command that fixes it.
// "LD Surgeon: Check Distillation Environment" shows it; every distillation launch runs it first.
import * as vscode from 'vscode';
import {
  environmentProblem, environmentReport, environmentSummary, findPython,
  type EnvironmentProblem, type PythonChoice, type PythonRequest,
} from '../../core/distill';
import { readSettings } from '../settings';

export type EnvironmentCheck =
  | { ok: true; choice: PythonChoice; lines: string[] }
  | { ok: false; problem: EnvironmentProblem; lines: string[] };

const PYTHON_EXTENSION = 'ms-python.python';
const PYTHON_EXTENSION_WAIT_MS = 15_000;

/** The subset of the Python extension's API used here (current `environments`, and the older `settings`). */
interface PythonExtensionApi {
  ready?: Promise<void>;
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { id: string; path: string };
    resolveEnvironment(env: { id: string; path: string } | string): Promise<{ executable: { uri: vscode.Uri | undefined } } | undefined>;
  };
  settings?: { getExecutionDetails(resource?: vscode.Uri): { execCommand: string[] | undefined } };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))]);
}

/** The interpreter the Python extension has selected for `resource`, if that extension is installed. */
export async function pythonExtensionInterpreter(resource: vscode.Uri | undefined): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION);
  if (!ext) return undefined;
  try {
    // activating it can take long on a first start (it discovers environments); the check must not hang on it
    const api = ext.isActive ? ext.exports : await withTimeout(Promise.resolve(ext.activate()), PYTHON_EXTENSION_WAIT_MS);
    if (!api) return undefined;
    if (api.ready) await withTimeout(api.ready, PYTHON_EXTENSION_WAIT_MS);
    if (api.environments) {
      const active = api.environments.getActiveEnvironmentPath(resource);
      const env = await withTimeout(api.environments.resolveEnvironment(active), PYTHON_EXTENSION_WAIT_MS);
      const exe = env?.executable.uri?.fsPath;
      if (exe) return exe;
    }
    // older releases (before the environments API) expose the selection as the command that runs Python
    return api.settings?.getExecutionDetails(resource).execCommand?.[0] || undefined;
  } catch {
    // a broken or incompatible Python extension: fall back to PATH as if it were not installed
    return undefined;
  }
}

/** Where to look for the interpreter for a model or folder, in the documented order. */
export async function pythonRequest(resource: vscode.Uri | undefined): Promise<PythonRequest> {
  const setting = readSettings(resource).pythonPath;
  if (setting) return { explicit: { python: setting, source: 'the ldSurgeon.pythonPath setting' } };
  const selected = await pythonExtensionInterpreter(resource);
  return selected ? { preferred: [{ python: selected, source: "the Python extension's selected interpreter" }] } : {};
}

/** Runs the check for `resource` (a model or folder: per-folder settings apply). Never throws. */
export async function checkDistillEnvironment(resource: vscode.Uri | undefined, pythonRoot: string): Promise<EnvironmentCheck> {
  try {
    const choice = await findPython(await pythonRequest(resource), pythonRoot);
    return { ok: true, choice, lines: environmentReport(choice) };
  } catch (e) {
    const problem = environmentProblem(e);
    const setting = readSettings(resource).pythonPath;
    const lines = [problem.message, ...problem.fixes.map((f) => `Fix: ${f}`)];
    if (!problem.fixes.length) {
      lines.push(setting
        ? `Fix: set ldSurgeon.pythonPath (now ${setting}) to an interpreter with torch and onnx, or clear it to search PATH`
        : 'Fix: install torch and onnx for a Python on PATH, or set ldSurgeon.pythonPath to an interpreter that has them');
    }
    return { ok: false, problem, lines };
  }
}

/**
 * The error notification for a failed check, with the fix as actions: copy the command, or run it in a new
 * terminal (it may ask for a sudo password, so it runs where the user can answer).
 */
export function showEnvironmentProblem(problem: EnvironmentProblem): void {
  const fix = problem.fixes[0];
  const actions = fix ? ['Copy Command', 'Run in Terminal'] : ['Open Settings'];
  const text = `Distillation environment: ${problem.message}${fix ? ` Fix: ${fix}` : ' Set ldSurgeon.pythonPath to an interpreter with torch and onnx.'}`;
  void vscode.window.showErrorMessage(text, ...actions).then(async (action) => {
    if (action === 'Copy Command' && fix) {
      await vscode.env.clipboard.writeText(fix);
    } else if (action === 'Run in Terminal' && fix) {
      const terminal = vscode.window.createTerminal({ name: 'LD Surgeon: install trainer packages' });
      terminal.show();
      terminal.sendText(fix);
    } else if (action === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'ldSurgeon.pythonPath');
    }
  });
}

/** LD Surgeon: Check Distillation Environment — the report in the output channel, the verdict as a notification. */
export function registerEnvironmentCommand(pythonRoot: string, output: vscode.OutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand('ldSurgeon.checkDistillEnvironment', async (arg?: unknown): Promise<EnvironmentCheck> => {
    const resource = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri ?? vscode.workspace.workspaceFolders?.[0]?.uri;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'LD Surgeon: checking the distillation environment…' },
      () => checkDistillEnvironment(resource, pythonRoot),
    );
    output.appendLine('');
    output.appendLine(`[${new Date().toISOString()}] distillation environment${resource ? ` for ${vscode.workspace.asRelativePath(resource, false)}` : ''}:`);
    for (const l of result.lines) output.appendLine(`  ${l}`);
    if (result.ok) {
      void vscode.window.showInformationMessage(`Distillation environment OK: ${environmentSummary(result.choice)}.`, 'Show Details').then((a) => {
        if (a) output.show(true);
      });
    } else {
      showEnvironmentProblem(result.problem);
    }
    return result;
  });
}
