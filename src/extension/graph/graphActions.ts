// What the graph editor's buttons and requests do: each goes to the capability that owns it (the Score,
// Prune and Distill buttons run the same commands as the context menus, so both paths behave alike).
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GraphActions } from './graphEditor';
import type { ToWebview } from '../../protocol/webview';
import type { ModelService } from '../model/modelService';
import type { ScoreWorkflow } from '../score/scoreWorkflow';
import { openNode } from './nodeDocument';
import { pathInsideRoots } from './webviewPaths';
import { partialScores } from '../prune/partialScores';
import { calibrationForView } from '../../core/prune/calibration';
import { readScoreFileIfPresent } from '../../core/scoring/score-file';
import { defaultScoreFile, resolveTarget } from '../../core/scoring/target';

export function graphActions(models: ModelService, score: Pick<ScoreWorkflow, 'runningFor'>): GraphActions {
  return {
    scoreOperators: async (modelPath) => {
      await vscode.commands.executeCommand('ldSurgeon.scoreOperators', vscode.Uri.file(modelPath));
    },
    cancelScoring: async (modelPath) => score.runningFor(modelPath)?.cancel(),
    prune: async (modelPath, ids) => {
      // Apply on suggestions from a running or cancelled scoring asks first
      if (!(await confirmPartialPrune(modelPath, !!score.runningFor(modelPath)))) return;
      await vscode.commands.executeCommand('ldSurgeon.prune', vscode.Uri.file(modelPath), ids);
    },
    distill: async (modelPath, prunedPath) => {
      const roots = [path.dirname(modelPath), ...(vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath)];
      const inside = pathInsideRoots(prunedPath, path.dirname(modelPath), roots);
      if (!inside) throw new Error(`refused to distill '${prunedPath}': it is outside the workspace and the model's folder`);
      await vscode.commands.executeCommand('ldSurgeon.distill', vscode.Uri.file(inside));
    },
    measureQuality: async (modelPath, pipeline) => {
      const roots = [path.dirname(modelPath), ...(vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath)];
      const inside = pathInsideRoots(pipeline, path.dirname(modelPath), roots);
      if (!inside) throw new Error(`refused to measure '${pipeline}': it is outside the workspace and the model's folder`);
      await vscode.commands.executeCommand('ldSurgeon.measureQuality', vscode.Uri.file(inside));
    },
    // made in the model worker (the open document's tensors, bytes read there): never on the host
    weightStats: (modelPath, tensorName) => models.weightStats(modelPath, tensorName),
    openNode: (modelPath, nodeId) => openNode(modelPath, nodeId),
    initialState: (modelPath) => {
      const out: ToWebview[] = [];
      const running = score.runningFor(modelPath);
      if (running) out.push({ type: 'scoringState', state: 'running', message: running.status.progressMessage });
      out.push({ type: 'calibration', ...viewCalibration(modelPath) });
      return out;
    },
  };
}

/** The pipeline's report.json fit for the prunes panel's live prediction (read when the graph opens). */
function viewCalibration(modelPath: string): ReturnType<typeof calibrationForView> {
  try {
    const target = resolveTarget(modelPath);
    const variant = readScoreFileIfPresent(defaultScoreFile(modelPath))?.settings.variant;
    return calibrationForView(target.pipeline, variant);
  } catch (e) {
    return { note: `latent units only: ${(e as Error).message}` };
  }
}

/** true: go ahead (complete scores, or the user accepted partial ones). */
async function confirmPartialPrune(modelPath: string, running: boolean): Promise<boolean> {
  const why = partialScores(modelPath, running);
  if (!why) return true;
  const prune = 'Prune Anyway';
  const pick = await vscode.window.showWarningMessage('These suggestions come from partial scores.', {
    modal: true,
    detail: `${why}. Candidates without a score were not considered; finish or resume the scoring for a complete ranking.`,
  }, prune);
  return pick === prune;
}
