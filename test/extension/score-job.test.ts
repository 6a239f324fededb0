// The extension's scoring job runs the worker under ScoringClient's supervision: a worker killed outright
// (as by the out-of-memory killer) fails the job with a clear reason and leaves no scratch folder (the gated
// evaluation model) behind, and the next job clears what crashed earlier runs left, but never a live run's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startJob } from '../../src/extension/jobs/jobRunner';
import { scoreJobRequest } from '../../src/extension/score/scoreJob';
import type { WorkerToHost } from '../../src/protocol/worker';

// the TypeScript worker through tsx, so the test does not depend on a build
const WORKER = { modulePath: path.resolve('src/worker/worker.ts'), execArgv: ['--import', 'tsx'] };
const SETTINGS = { samples: 3, steps: 2, granularity: 'block' as const, ep: 'cpu' as const, profile: false, only: ['mid_block.resnets.0', 'up_blocks.0.resnets.1'] };

/** The id of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

test('a SIGKILLed scoring worker fails the job and leaves no scratch folder; stale ones from crashed runs go', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'ld-surgeon-score-job-test-'));
  try {
    const work = path.join(root, 'scratch');
    const runs = path.join(root, 'runs');
    const dead = deadPid();
    // what crashed earlier runs left: a host's worker folder with its eval model, a bare eval folder
    mkdirSync(path.join(work, `ld-surgeon-worker-${dead}-a1b2c3`, `ld-surgeon-eval-${dead}-d4e5f6`), { recursive: true });
    writeFileSync(path.join(work, `ld-surgeon-worker-${dead}-a1b2c3`, `ld-surgeon-eval-${dead}-d4e5f6`, 'eval.onnx'), 'gated');
    mkdirSync(path.join(work, `ld-surgeon-eval-${dead}-g7h8i9`));
    // from a version that did not name its owner: removed only once long untouched
    mkdirSync(path.join(work, 'ld-surgeon-eval-OLD123'));
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    utimesSync(path.join(work, 'ld-surgeon-eval-OLD123'), twoDaysAgo, twoDaysAgo);
    mkdirSync(path.join(work, 'ld-surgeon-eval-NEW456'));
    // a live run's folder (this process owns it) and somebody else's file stay
    mkdirSync(path.join(work, `ld-surgeon-worker-${process.pid}-j1k2l3`));
    writeFileSync(path.join(work, 'notes.txt'), 'not ours');

    // a copy of the shipped pipeline: the job writes its score file beside the model
    const pipeline = path.join(root, 'digits-uncond');
    cpSync('examples/digits-uncond', pipeline, { recursive: true });
    const request = scoreJobRequest(WORKER, { target: pipeline, settings: SETTINGS, workDir: work }, 'score');
    assert.equal(request.process(runs).type, 'supervised');
    const job = await startJob(runs, request);
    let scratchWhileRunning: string[] = [];
    job.onData((payload) => {
      const m = payload as WorkerToHost;
      if (m.type !== 'started') return;
      scratchWhileRunning = readdirSync(work);
      process.kill(job.status.pid!, 'SIGKILL');
    });
    const s = await job.finished;
    assert.equal(s.state, 'failed');
    assert.match(s.error ?? '', /scoring worker was killed \(SIGKILL, possibly out of memory\) before finishing/);
    // the running worker had its own folder, beside the live one; the dead owners' and the old one were gone
    const own = scratchWhileRunning.filter((n) => n.startsWith(`ld-surgeon-worker-${process.pid}-`) && n !== `ld-surgeon-worker-${process.pid}-j1k2l3`);
    assert.equal(own.length, 1, `the job's scratch folder while it ran: ${scratchWhileRunning.join(', ')}`);
    assert.deepEqual(readdirSync(work).sort(), ['ld-surgeon-eval-NEW456', `ld-surgeon-worker-${process.pid}-j1k2l3`, 'notes.txt'].sort());
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
