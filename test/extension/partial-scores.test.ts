// Suggestions from partial scores say so: the graph view's prune panel while scoring runs or after a
// cancel, and the host before Apply (a score file that is not complete, or a job still running).
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { partialScores } from '../../src/extension/prune/partialScores';
import { partialNote } from '../../webview-ui/src/view/prunesPanel';
import { runScoreJob } from '../../src/core/scoring/job';

const dir = mkdtempSync(path.join(tmpdir(), 'ld-surgeon-partial-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the prune panel says when its suggestions come from partial scores', () => {
  assert.equal(partialNote({ state: 'done' }), undefined);
  assert.equal(partialNote({ state: 'idle' }), undefined);
  assert.equal(partialNote({ state: 'running', done: 5, total: 33 }), 'Suggested from partial scores (5 of 33 evaluations): scoring is still running, and candidates without a score are not considered.');
  assert.match(partialNote({ state: 'cancelled' }) ?? '', /^Suggested from partial scores: scoring was cancelled/);
});

test('Apply asks first when the score file is partial or a job is still scoring', async () => {
  const pipeline = path.join(dir, 'digits-uncond');
  cpSync(path.resolve('examples/digits-uncond'), pipeline, { recursive: true });
  const model = path.join(pipeline, 'unet', 'model.onnx');
  assert.equal(partialScores(model, false), undefined, 'no score file, no job: nothing to warn about (Apply needs scores anyway)');
  assert.equal(partialScores(model, true), 'no score file yet; scoring is still running');
  // a job cancelled after two candidates
  const abort = new AbortController();
  let results = 0;
  const r = await runScoreJob({
    target: pipeline, settings: { samples: 2, steps: 1, granularity: 'block', ep: 'cpu', profile: false }, signal: abort.signal,
    onEvent: (e) => e.type === 'result' && ++results === 2 && abort.abort(),
  });
  assert.equal(r.state, 'cancelled');
  assert.match(partialScores(model, false) ?? '', /^2 of \d+ candidates scored; scoring was cancelled or stopped before the end$/);
  // finished: complete
  const done = await runScoreJob({ target: pipeline, settings: { samples: 2, steps: 1, granularity: 'block', ep: 'cpu', profile: false } });
  assert.equal(done.state, 'done');
  assert.equal(partialScores(model, false), undefined);
});
