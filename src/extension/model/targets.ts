// Which model or pipeline a command works on: the explorer selection it was invoked on, the graph editor in
// focus, or the user's pick from the workspace's models and pipelines (with a file dialog as a last resort).
import * as vscode from 'vscode';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { activeGraphModel } from '../graph/graphTabs';
import type { PipelineFolders } from './pipelineFolders';
import { modelRole, requireDenoiser, type ModelRoleInfo } from '../../core/pipeline/model-role';

const EXCLUDE = '{**/node_modules/**,**/.git/**,**/.ld-surgeon/**}';

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

interface PickItem extends vscode.QuickPickItem {
  target?: string;
  browse?: boolean;
}

async function browse(kind: 'model' | 'model-or-pipeline', title: string): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectFiles: true,
    canSelectFolders: kind === 'model-or-pipeline',
    canSelectMany: false,
    filters: kind === 'model' ? { 'ONNX models': ['onnx'] } : undefined,
    openLabel: 'Select',
  });
  return picked?.[0]?.fsPath;
}

/** `{ denoiserFor }`: the action (pruning, distillation) works on a pipeline's U-Net or a bare model, never a VAE or text encoder. */
export type ModelUse = 'any' | { denoiserFor: string };

/** Quick pick over the workspace's pipelines (optional) and .onnx models, plus "Browse…"; each model says what it is. */
async function pick(kind: 'model' | 'model-or-pipeline', title: string, pipelines: readonly string[], use: ModelUse = 'any'): Promise<string | undefined> {
  const found = await vscode.workspace.findFiles('**/*.onnx', EXCLUDE, 500);
  const roles = new Map(found.map((m) => [m.fsPath, modelRole(m.fsPath)]));
  const usable = (r: ModelRoleInfo) => use === 'any' || r.role === 'denoiser' || r.role === 'model';
  // denoisers first: they are what scoring, pruning and distillation are about
  const rank = (r: ModelRoleInfo) => (r.role === 'denoiser' ? 0 : r.role === 'model' ? 1 : 2);
  const models = found.filter((m) => usable(roles.get(m.fsPath)!))
    .sort((a, b) => rank(roles.get(a.fsPath)!) - rank(roles.get(b.fsPath)!) || a.fsPath.localeCompare(b.fsPath));
  const items: PickItem[] = [];
  if (kind === 'model-or-pipeline' && pipelines.length) {
    items.push({ label: 'Pipelines', kind: vscode.QuickPickItemKind.Separator });
    for (const p of pipelines) {
      items.push({ label: `$(folder) ${vscode.workspace.asRelativePath(p, false)}`, description: 'model_index.json', target: p });
    }
  }
  if (models.length) {
    items.push({ label: use !== 'any' ? 'Denoisers (U-Nets) and bare models' : 'Models', kind: vscode.QuickPickItemKind.Separator });
    for (const m of models) {
      items.push({ label: `$(file-binary) ${vscode.workspace.asRelativePath(m, false)}`, description: roles.get(m.fsPath)!.label, target: m.fsPath });
    }
  }
  items.push({ label: '', kind: vscode.QuickPickItemKind.Separator }, { label: '$(folder-opened) Browse…', browse: true });
  const placeHolder = use !== 'any' ? "Pick a denoiser: a pipeline's U-Net or a bare model" : kind === 'model' ? 'Pick an ONNX model' : 'Pick a pipeline folder or an ONNX model';
  const choice = await vscode.window.showQuickPick(items, { title, placeHolder, matchOnDescription: true });
  if (!choice) return undefined;
  const chosen = choice.browse ? await browse(kind, title) : choice.target;
  if (chosen && use !== 'any') requireDenoiser(chosen, use.denoiserFor);
  return chosen;
}

/**
 * Resolves the .onnx model a command should act on; undefined when the user cancelled. With `use`
 * `denoiserFor` a pipeline part other than the U-Net (a VAE decoder, a text encoder) is refused at once.
 */
export async function resolveModel(arg: unknown, title: string, pipelines: readonly string[], use: ModelUse = 'any'): Promise<string | undefined> {
  const given = argPath(arg) ?? activeGraphModel();
  if (given) {
    if (!given.toLowerCase().endsWith('.onnx')) throw new Error(`${given} is not an .onnx model`);
    if (use !== 'any') requireDenoiser(given, use.denoiserFor);
    return given;
  }
  return pick('model', title, pipelines, use);
}

/** Resolves a scoring target: a pipeline folder (holding model_index.json) or an .onnx model. */
export async function resolveScoreTarget(arg: unknown, title: string, pipelines: PipelineFolders): Promise<string | undefined> {
  const given = argPath(arg);
  if (given) {
    if (await isDirectory(given)) {
      if (!pipelines.list().includes(given)) throw new Error(`${given} holds no model_index.json: it is not a pipeline folder`);
      return given;
    }
    if (!given.toLowerCase().endsWith('.onnx')) throw new Error(`${given} is neither a pipeline folder nor an .onnx model`);
    return given;
  }
  return activeGraphModel() ?? pick('model-or-pipeline', title, pipelines.list());
}

/** A path from a command argument: a Uri (explorer, editor title), a path string, or a tree item with a resourceUri. */
export function argPath(arg: unknown): string | undefined {
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (typeof arg === 'string' && path.isAbsolute(arg)) return arg;
  if (arg && typeof arg === 'object' && 'modelPath' in arg && typeof (arg as { modelPath: unknown }).modelPath === 'string') {
    return (arg as { modelPath: string }).modelPath;
  }
  return undefined;
}
