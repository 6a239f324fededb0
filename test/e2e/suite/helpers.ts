// Shared helpers for the extension-host tests.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { LdSurgeonApi } from '../../../src/extension/api';
import type { RunningJob } from '../../../src/extension/jobs/jobRunner';
import { DISTILL_TASK_TYPE, type DistillTaskDefinition } from '../../../src/extension/distill/distillTaskDefinition';

declare const LD_SURGEON_E2E_REPO: string;
export const REPO = LD_SURGEON_E2E_REPO;
export const EXTENSION_ID = 'ld-surgeon.ld-surgeon';

export async function api(): Promise<LdSurgeonApi> {
  const ext = vscode.extensions.getExtension<LdSurgeonApi>(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not installed`);
  return ext.activate();
}

export function workspaceRoot(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error('the tests need a workspace folder (the runner opens a copy of examples/digits-cond)');
  return f.uri.fsPath;
}

/** The shipped example pipeline, as copied into the test workspace. */
export function pipelineDir(): string {
  return path.join(workspaceRoot(), 'digits-cond');
}

export function unetPath(): string {
  return path.join(pipelineDir(), 'unet', 'model.onnx');
}

export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A graph editor's `ready`, bounded: a webview that never handshakes (a tab never shown, a script that failed) fails
 * the test at `timeoutMs` with where the editor stood, instead of holding the suite until mocha's limit.
 */
export async function graphReady(panel: { ready: Promise<void>; modelPath: string; describe(): string }, timeoutMs = 60_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the graph editor of ${panel.modelPath} was not ready after ${timeoutMs} ms: ${panel.describe()}`)), timeoutMs);
  });
  try {
    await Promise.race([panel.ready, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/**
 * *Launch Distillation…* on `student` as a user runs it, accepting the steps box's default (1000): resolves with
 * the job it started and the task execution running it (the test decides when to stop it).
 */
export async function launchDistillation(a: LdSurgeonApi, student: string): Promise<{ job: RunningJob; execution: vscode.TaskExecution; def: DistillTaskDefinition }> {
  let job: RunningJob | undefined;
  const sub = a.workflows.distillTasks.onDidStartJob((j) => (job ??= j));
  try {
    // not awaited: after starting the task the command offers "Save to tasks.json" and waits for an answer
    void vscode.commands.executeCommand('ldSurgeon.distill', vscode.Uri.file(student));
    await waitFor('the launched job', async () => {
      if (!job) await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      return job;
    }, 60_000);
  } finally {
    sub.dispose();
  }
  const execution = vscode.tasks.taskExecutions.find((e) => e.task.definition.type === DISTILL_TASK_TYPE);
  if (!execution) throw new Error('Launch Distillation… did not run as an ld-surgeon-distill task');
  return { job: job!, execution, def: execution.task.definition as DistillTaskDefinition };
}
