// Typed access to the `ldSurgeon.*` settings (their schema lives in package.json `contributes.configuration`).
import * as vscode from 'vscode';

export const EXECUTION_PROVIDERS = ['auto', 'cpu', 'cuda', 'dml', 'webgpu', 'coreml'] as const;
export type ExecutionProviderSetting = (typeof EXECUTION_PROVIDERS)[number];
export type Granularity = 'block' | 'layer' | 'both';
export type ScoreVariant = 'avg+std' | 'avg' | 'std' | 'avg*std';

export interface LdSurgeonSettings {
  executionProvider: ExecutionProviderSetting;
  samples: number;
  /** undefined: the pipeline's own step count */
  steps: number | undefined;
  granularity: Granularity;
  scoreVariant: ScoreVariant;
  /** '' means: find a python3 on PATH */
  pythonPath: string;
}

/** Settings as seen from `scope` (a model or folder), so per-folder overrides apply. */
export function readSettings(scope?: vscode.Uri): LdSurgeonSettings {
  const c = vscode.workspace.getConfiguration('ldSurgeon', scope);
  return {
    executionProvider: c.get<ExecutionProviderSetting>('executionProvider', 'auto'),
    samples: Math.max(2, Math.floor(c.get<number>('samples', 16))),
    steps: Math.floor(c.get<number>('steps', 0)) > 0 ? Math.floor(c.get<number>('steps', 0)) : undefined,
    granularity: c.get<Granularity>('granularity', 'both'),
    scoreVariant: c.get<ScoreVariant>('scoreVariant', 'avg+std'),
    pythonPath: c.get<string>('pythonPath', '').trim(),
  };
}
