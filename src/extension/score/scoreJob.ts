// Scoring jobs: the background worker (dist/worker.js) scores every candidate of a pipeline's U-Net or a
// bare model. ScoringClient (src/worker/client.ts) supervises it as it does for the CLI: the start-up
// handshake, the cancel grace, and the scratch folder of its gated model, removed even when the worker is
// killed. Its events (src/protocol/worker.ts) become job progress, and each result streams into the score
// store as soon as it is known. The score file beside the model is the result.
import { existsSync } from 'node:fs';
import type { JobEvent, JobProtocol, JobRequest, SupervisedProcess } from '../jobs/jobRunner';
import { isWorkerMessage, type ScoreRequest, type WorkerToHost } from '../../protocol/worker';
import { ScoringClient, type WorkerLaunch } from '../../worker/client';
import { CancelledError, UserError } from '../../core/errors';
import { applyPreset, type ScoreSettings } from '../../core/scoring/settings';
import type { Granularity } from '../../core/surgery/types';
import type { LdSurgeonSettings } from '../settings';
import { formatDuration } from '../format';

/**
 * The worker's settings from the extension's (`ldSurgeon.*`): the preset's samples, steps and
 * granularity unless set; `granularity` (the estimate's, fitted to the model) wins over the preset's.
 */
export function workerSettings(s: LdSurgeonSettings, granularity?: Granularity): Partial<ScoreSettings> {
  return applyPreset(s.scorePreset, {
    samples: s.samples,
    steps: s.steps,
    granularity: s.granularity ?? granularity,
    variant: s.scoreVariant,
    ep: s.executionProvider,
  });
}

/** The CLI's `score --estimate` arguments for these settings (only what is set explicitly, so the CLI fits the preset to the model). */
export function estimateArgs(cliPath: string, target: string, s: LdSurgeonSettings): string[] {
  const args = [cliPath, 'score', target, '--estimate', '--json', '--preset', s.scorePreset, '--ep', s.executionProvider];
  if (s.samples !== undefined) args.push('--samples', String(s.samples));
  if (s.steps !== undefined) args.push('--steps', String(s.steps));
  if (s.granularity !== undefined) args.push('--granularity', s.granularity);
  return args;
}

function progressMessage(m: Extract<WorkerToHost, { type: 'progress' }>): string {
  const what = m.phase === 'reference' ? 'reference latents' : m.phase === 'iterative' ? 'iterative re-scoring' : 'candidates';
  const eta = m.etaS !== null ? `, ${formatDuration(m.etaS * 1000)} left` : '';
  return `${what}: ${m.done}/${m.total} evaluations${eta}`;
}

/** Worker messages → job events. Everything the views need beyond progress travels as `data`. */
export const workerProtocol: JobProtocol = {
  interpret(message: unknown): JobEvent[] {
    if (!isWorkerMessage(message)) return [];
    const m = message;
    switch (m.type) {
      case 'ready':
        return [{ type: 'log', text: `scoring worker ready (protocol ${m.protocolVersion})` }];
      case 'started':
        return [
          { type: 'executionProvider', name: m.executionProvider.used },
          { type: 'output', path: m.scoreFile },
          {
            type: 'progress', fraction: 0,
            message: `${m.toScore} of ${m.candidates} candidates to score${m.resumed ? ` (${m.resumed} kept from an earlier run)` : ''}`,
          },
          { type: 'data', payload: m },
        ];
      case 'progress':
        return [
          { type: 'progress', fraction: m.total > 0 ? m.done / m.total : undefined, message: progressMessage(m) },
          { type: 'data', payload: m },
        ];
      case 'result':
      case 'iteration':
        return [{ type: 'data', payload: m }];
      case 'log':
        return [{ type: 'log', text: m.text }];
      case 'done':
        return [
          { type: 'progress', fraction: 1, message: `${m.summary.scored} scored, ${m.summary.unmodifiable} not modifiable` },
          { type: 'log', text: `lowest scores (least important): ${m.summary.lowest.join(', ')}` },
          { type: 'data', payload: m },
        ];
      case 'cancelled':
        return [{ type: 'log', text: `cancelled; the score file keeps what was scored: ${m.scoreFile}` }, { type: 'data', payload: m }];
      case 'error':
        // a user error (bad input) is the whole story; anything else gets its stack in the log
        return [{ type: 'error', message: m.message }, ...(m.stack && !m.userError ? [{ type: 'log' as const, text: m.stack }] : [])];
    }
  },
};

/** The job's view of a worker that ScoringClient supervises. */
function supervised(client: ScoringClient): SupervisedProcess {
  return {
    pid: client.pid,
    onMessage: (listener) => void client.onEvent(listener),
    onStderr: (listener) => void client.onStderr(listener),
    cancel: () => client.cancel(),
    kill: () => client.kill(),
    exited: client.finished.then(
      () => ({ code: 0 }),
      (e: Error & { workerStack?: string }) => e instanceof CancelledError
        ? { code: 1 }
        // a user error (bad input) is the whole story; anything else gets its stack in the log
        : { code: 1, error: e.message, details: e instanceof UserError ? undefined : e.workerStack },
    ),
  };
}

export interface ScoreJobSpec {
  /** a pipeline folder or an .onnx model */
  target: string;
  settings: Partial<ScoreSettings>;
  /** which conditions the settings name, as the UI says it (undefined where none apply) */
  conditionsLine?: string;
  /** where the worker's scratch folder goes (default: the OS temp dir) */
  workDir?: string;
}

/** The job request for scoring `spec.target` with `worker` (dist/worker.js in the extension). */
export function scoreJobRequest(worker: WorkerLaunch, spec: ScoreJobSpec, title: string): JobRequest {
  if (!existsSync(worker.modulePath)) {
    throw new Error(`the scoring worker ${worker.modulePath} is missing: build the extension (npm run build)`);
  }
  const request: ScoreRequest = { target: spec.target, settings: spec.settings, workDir: spec.workDir };
  return {
    kind: 'score',
    title,
    target: spec.target,
    executionProvider: spec.settings.ep,
    settings: { kind: 'score', target: spec.target, options: { settings: spec.settings } },
    process: () => ({
      type: 'supervised',
      commandLine: ['node', ...worker.execArgv, worker.modulePath].join(' '),
      start: () => supervised(ScoringClient.start(request, worker)),
    }),
    protocol: workerProtocol,
  };
}
