// A cancelled scoring job offers Resume in the Jobs view while its score file has candidates left
// (re-running its settings then scores only those); a finished one, or one with nothing pending, does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCORE_FORMAT } from '../../src/core/scoring/score-file';
import { pendingScores } from '../../src/extension/score/scoreResume';

test('scoring jobs are resumable while their score file has pending candidates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-score-resume-'));
  try {
    const model = join(dir, 'toy.onnx');
    writeFileSync(model, 'model bytes are not read here');
    const scoreFile = (statuses: string[]) => writeFileSync(join(dir, 'toy.ldscores.json'), JSON.stringify({
      format: SCORE_FORMAT, model: { path: model }, settings: {},
      candidates: statuses.map((status, i) => ({ id: `block.${i}`, status, score: status === 'scored' ? 0.1 * i : null })),
    }));
    const job = join(dir, 'job');
    mkdirSync(job);
    writeFileSync(join(job, 'settings.json'), JSON.stringify({ kind: 'score', target: model, options: { settings: { samples: 4 } } }));

    assert.equal(pendingScores(job, { kind: 'score', state: 'cancelled' }), 0, 'no score file yet: nothing to resume from');
    scoreFile(['scored', 'pending', 'pending', 'unmodifiable']);
    assert.equal(pendingScores(job, { kind: 'score', state: 'cancelled' }), 2);
    assert.equal(pendingScores(job, { kind: 'score', state: 'failed' }), 2);
    assert.equal(pendingScores(job, { kind: 'score', state: 'done' }), 0);
    assert.equal(pendingScores(job, { kind: 'distill', state: 'cancelled' }), 0);
    scoreFile(['scored', 'scored']);
    assert.equal(pendingScores(job, { kind: 'score', state: 'cancelled' }), 0, 'all scored: nothing left');

    // a score file written where the settings said (--out)
    const other = join(dir, 'elsewhere.ldscores.json');
    writeFileSync(join(job, 'settings.json'), JSON.stringify({ kind: 'score', target: model, options: { settings: { out: other } } }));
    assert.equal(pendingScores(job, { kind: 'score', state: 'cancelled' }), 0);
    writeFileSync(other, JSON.stringify({ format: SCORE_FORMAT, model: {}, settings: {}, candidates: [{ id: 'a', status: 'pending', score: null }] }));
    assert.equal(pendingScores(job, { kind: 'score', state: 'cancelled' }), 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
