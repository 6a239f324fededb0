// Before Score Operators starts: what the run will cost (the evaluation count and the time, from the
// CLI's `score --estimate`, in a child process so the extension host never loads the runtime for it),
// said in a notification, and asked first when it is long (the thorough preset: half an hour).
import { execFile } from 'node:child_process';
import * as vscode from 'vscode';
import { describeEstimate, humanSeconds, type ScoreEstimate } from '../../core/scoring/estimate';
import type { LdSurgeonSettings } from '../settings';
import { estimateArgs } from './scoreJob';

/** Runs longer than this are asked about before they start. */
export const ASK_ABOVE_S = 120;

export type Estimate = ScoreEstimate & { preset: string };

export function estimateScore(cliPath: string, target: string, s: LdSurgeonSettings): Promise<Estimate> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, estimateArgs(cliPath, target, s), { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(stderr.split('\n').find((l) => l.startsWith('ld-surgeon:'))?.replace(/^ld-surgeon:\s*/, '') ?? err.message));
      try {
        resolve(JSON.parse(stdout) as Estimate);
      } catch {
        reject(new Error(`the estimate printed no JSON: ${stdout.slice(0, 200)}`));
      }
    });
  });
}

/**
 * Says what the run costs; a long one waits for the user's go. Returns the preset to run with
 * ('quick' when a long thorough run is traded for it), or undefined when the user backs out.
 */
export async function confirmEstimate(what: string, e: Estimate): Promise<'as-is' | 'quick' | undefined> {
  const text = `Score Operators on ${what}: ${describeEstimate(e)}.`;
  if (e.seconds <= ASK_ABOVE_S) {
    void vscode.window.showInformationMessage(text);
    return 'as-is';
  }
  const start = 'Start';
  const quick = 'Use the Quick Preset';
  const buttons = e.preset === 'quick' ? [start] : [start, quick];
  const pick = await vscode.window.showWarningMessage(`This run takes about ${humanSeconds(e.seconds)}.`, { modal: true, detail: text }, ...buttons);
  return pick === start ? 'as-is' : pick === quick ? 'quick' : undefined;
}
