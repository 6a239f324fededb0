// Score Operators on the shipped pipeline: the worker runs as a job, results stream into the Model view
// and the graph editor, the score file lands beside the U-Net; cancel leaves a file the next run resumes.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { existsSync, rmSync } from 'node:fs';
import { suite, suiteSetup, suiteTeardown, test } from './tdd';
import { api, graphReady, closeAllEditors, pipelineDir, unetPath, waitFor } from './helpers';
import { readScoreFile } from '../../../src/core/scoring/score-file';
import { isProcessAlive } from '../../../src/extension/jobs/runFolder';
import type { LdSurgeonApi } from '../../../src/extension/api';
import type { RunningJob } from '../../../src/extension/jobs/jobRunner';

const scoreFile = () => unetPath().replace(/\.onnx$/, '.ldscores.json');

async function runningScoreJob(a: LdSurgeonApi): Promise<RunningJob> {
  return waitFor('a running scoring job', () => a.jobs.runningJobs().find((j) => j.status.kind === 'score'));
}

suite('scoring', () => {
  let a: LdSurgeonApi;

  suiteSetup(async () => {
    a = await api();
    rmSync(scoreFile(), { force: true });
  });
  suiteTeardown(closeAllEditors);

  test('Score Operators on the pipeline folder scores every block and writes the score file', async function () {
    this.timeout(5 * 60_000);
    await vscode.commands.executeCommand('ldSurgeon.scoreOperators', vscode.Uri.file(pipelineDir()));
    const job = await runningScoreJob(a);
    assert.equal(job.status.target, pipelineDir());
    const s = await job.finished;
    assert.equal(s.state, 'done', s.error);
    assert.equal(s.executionProvider, 'cpu');
    assert.deepEqual(s.outputs, [scoreFile()]);
    const file = readScoreFile(scoreFile());
    assert.equal(file.complete, true);
    assert.equal(file.settings.samples, 4, 'the workspace setting reached the worker');
    assert.equal(file.settings.granularity, 'block');
    const scored = file.candidates.filter((c) => c.status === 'scored');
    assert.ok(scored.length >= 10, `a U-Net has many blocks (${scored.length} scored)`);
    assert.ok(scored.every((c) => c.score === null || (Number.isFinite(c.score) && c.score >= 0)), 'scores are distances');
  });

  test('scores reach the Model view and the graph editor', async () => {
    const file = readScoreFile(scoreFile());
    const best = file.candidates.filter((c) => c.score !== null).sort((x, y) => x.score! - y.score!)[0];
    await a.modelTree.show(unetPath());
    const item = await waitFor(`tree item ${best.id}`, () => a.modelTree.itemFor(best.id));
    // the score leads the row, so a narrow view truncates the sizes, not the status
    assert.match(String(item.description), new RegExp(`^score ${best.score!.toPrecision(3).replace('.', '\\.')} · \\d+ ops`));
    assert.equal(item.contextValue, 'ldSurgeon.module.scored');
    const panel = await waitFor('the graph editor opened by scoring', () => a.graphs.panelsFor(unetPath())[0]);
    await graphReady(panel);
    assert.ok(panel.sent.includes('scores'), `sent: ${panel.sent.join(', ')}`);
    assert.equal(a.scores.all(unetPath()).length, file.candidates.length);
  });

  test('the finished job is a "done" row with its execution provider, and its output opens', async () => {
    const row = (await a.jobsView.getChildren()).find((r) => r.record.status.kind === 'score' && r.record.status.target === pipelineDir())!;
    assert.match(String(row.description), /^done · .* · cpu$/);
    assert.equal(row.contextValue, 'ldSurgeon.job.done.output');
    await vscode.commands.executeCommand('ldSurgeon.jobs.openOutput', row);
    const doc = await waitFor('the score file editor', () => vscode.window.activeTextEditor?.document);
    assert.equal(doc.uri.fsPath, scoreFile());
  });

  test('cancel stops the worker and leaves a score file the next run resumes', async function () {
    this.timeout(5 * 60_000);
    rmSync(scoreFile(), { force: true });
    const first = await a.workflows.score(pipelineDir());
    const pid = first.status.pid!;
    let results = 0;
    first.onData((m) => {
      if ((m as { type: string }).type === 'result') results++;
    });
    // the score file is rewritten after every result: wait for a few, then cancel
    await waitFor('some scored candidates', () => results >= 3 || undefined, 120_000);
    await vscode.commands.executeCommand('ldSurgeon.jobs.cancel', first.dir);
    const s = await first.finished;
    assert.equal(s.state, 'cancelled');
    assert.equal(isProcessAlive(pid), false, 'the worker is gone');
    const partial = readScoreFile(scoreFile());
    assert.equal(partial.complete, false);
    const kept = partial.candidates.filter((c) => c.status === 'scored').length;
    assert.ok(kept >= 3, `the file keeps what was scored (${kept})`);

    const resumed = await a.jobs.rerun(first.dir);
    let resumedCount = -1;
    resumed.onData((m) => {
      const msg = m as { type: string; resumed?: number };
      if (msg.type === 'started') resumedCount = msg.resumed ?? 0;
    });
    const r = await resumed.finished;
    assert.equal(r.state, 'done', r.error);
    assert.ok(resumedCount >= kept, `the re-run kept ${resumedCount} of the ${kept} scored before the cancel`);
    assert.equal(readScoreFile(scoreFile()).complete, true);
    assert.equal(path.dirname(resumed.dir), path.dirname(first.dir), 'a new run folder beside the first');
    assert.ok(existsSync(path.join(resumed.dir, 'settings.json')));
  });
});
