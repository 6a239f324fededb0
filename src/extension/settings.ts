// Typed access to the `ldSurgeon.*` settings (their schema lives in package.json `contributes.configuration`).
import * as vscode from 'vscode';
import { DEFAULT_PRESET, PRESET_CHOICES, type ScorePreset } from '../core/scoring/settings';

export const EXECUTION_PROVIDERS = ['auto', 'cpu', 'cuda', 'dml', 'webgpu', 'coreml'] as const;
export type ExecutionProviderSetting = (typeof EXECUTION_PROVIDERS)[number];
export type Granularity = 'block' | 'layer' | 'both';
export type ScoreVariant = 'avg+std' | 'avg' | 'std' | 'avg*std';

export interface LdSurgeonSettings {
  executionProvider: ExecutionProviderSetting;
  /** how much work Score Operators does; the three below override it when set */
  scorePreset: ScorePreset;
  /** undefined: the preset's */
  samples: number | undefined;
  /** undefined: the preset's */
  steps: number | undefined;
  /** undefined: the preset's */
  granularity: Granularity | undefined;
  scoreVariant: ScoreVariant;
  /** '' means: find a python3 on PATH */
  pythonPath: string;
}

/** 0 (the schema's default) or less: unset, the preset decides; else at least `min`. */
function positiveOrUnset(v: number, min: number): number | undefined {
  return Number.isFinite(v) && v > 0 ? Math.max(min, Math.floor(v)) : undefined;
}

/** Settings as seen from `scope` (a model or folder), so per-folder overrides apply. */
export function readSettings(scope?: vscode.Uri): LdSurgeonSettings {
  const c = vscode.workspace.getConfiguration('ldSurgeon', scope);
  return {
    executionProvider: c.get<ExecutionProviderSetting>('executionProvider', 'auto'),
    scorePreset: PRESET_CHOICES.includes(c.get<ScorePreset>('scorePreset', DEFAULT_PRESET)) ? c.get<ScorePreset>('scorePreset', DEFAULT_PRESET) : DEFAULT_PRESET,
    samples: positiveOrUnset(c.get<number>('samples', 0), 2),
    steps: positiveOrUnset(c.get<number>('steps', 0), 1),
    granularity: ((g) => (g === 'block' || g === 'layer' || g === 'both' ? g : undefined))(c.get<string>('granularity', 'preset')),
    scoreVariant: c.get<ScoreVariant>('scoreVariant', 'avg+std'),
    pythonPath: c.get<string>('pythonPath', '').trim(),
  };
}
