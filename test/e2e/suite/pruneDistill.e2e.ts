// Prune the two least important blocks of the scored U-Net into a new pipeline (the original untouched),
// then distill the pruned U-Net from the original with the Python trainer.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { suite, suiteSetup, suiteTeardown, test } from './tdd';
import { api, graphReady, closeAllEditors, pipelineDir, unetPath, waitFor } from './helpers';
import { ranked, readScoreFile } from '../../../src/core/scoring/score-file';
import { readPruneRecord } from '../../../src/core/prune/record';
import type { LdSurgeonApi } from '../../../src/extension/api';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const prunedModel = () => path.join(`${pipelineDir()}.pruned`, 'unet', 'model.onnx');
/** the Python with torch and onnx (Debian's; CI installs python3-torch and python3-onnx) */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

suite('prune and distill', () => {
  let a: LdSurgeonApi;

  suiteSetup(async () => {
    a = await api();
  });
  suiteTeardown(closeAllEditors);

  test('Prune Model… removes two low-scored blocks into a checked new pipeline, and opens it', async function () {
    this.timeout(3 * 60_000);
    const scores = unetPath().replace(/\.onnx$/, '.ldscores.json');
    assert.ok(existsSync(scores), 'the scoring suite left a score file');
    const ids = ranked(readScoreFile(scores)).filter((c) => c.modification !== 'none').slice(0, 2).map((c) => c.id);
    assert.equal(ids.length, 2);
    const before = sha(unetPath());

    await vscode.commands.executeCommand('ldSurgeon.prune', vscode.Uri.file(unetPath()), ids);
    const job = await waitFor('a prune job', () => a.jobs.runningJobs().find((j) => j.status.kind === 'prune'));
    const s = await job.finished;
    assert.equal(s.state, 'done', s.error);
    assert.ok(existsSync(prunedModel()), `${prunedModel()} written`);
    assert.ok(s.outputs?.includes(`${pipelineDir()}.pruned`), `outputs: ${s.outputs?.join(', ')}`);
    const record = readPruneRecord(prunedModel().replace(/\.onnx$/, '.prune.json'))!;
    assert.ok(record, 'the prune record is beside the pruned model');
    assert.deepEqual(record.removed.map((r) => r.id).sort(), [...ids].sort());
    assert.ok(record.after.params < record.before.params, `params ${record.before.params} → ${record.after.params}`);
    assert.ok(record.checks.every((c) => c.status !== 'failed'), JSON.stringify(record.checks));
    assert.equal(sha(unetPath()), before, 'the original model is untouched');
    // the pruned model opens in the graph editor
    const panel = await waitFor('the pruned model in the graph editor', () => a.graphs.panelsFor(prunedModel())[0], 60_000);
    await graphReady(panel);
    const row = (await a.jobsView.getChildren()).find((r) => r.record.dir === job.dir)!;
    assert.match(String(row.label), /^Prune: /);
    assert.match(String(row.description), /^done · /);
  });

  test('Launch Distillation… fine-tunes the pruned U-Net against the original into a new model', async function () {
    this.timeout(6 * 60_000);
    assert.ok(existsSync(prunedModel()), 'the prune test left a pruned model');
    const { job, output } = await a.workflows.distill({
      student: prunedModel(), teacher: unetPath(), steps: 2, device: 'cpu', python: PYTHON,
      // a tiny run: a handful of teacher samples, two optimizer steps
      trainerArgs: ['--data-samples', '4', '--data-steps', '2', '--eval-samples', '4', '--eval-steps', '2', '--batch-size', '2', '--eval-every', '0', '--log-every', '1', '--checkpoint-every', '0'],
    });
    const s = await job.finished;
    assert.equal(s.state, 'done', s.error);
    assert.equal(s.executionProvider, 'torch cpu');
    assert.deepEqual(s.outputs, [output]);
    assert.ok(existsSync(output), `${output} written`);
    assert.match(path.basename(output), /^model\.distilled\.onnx$/);
    assert.ok(existsSync(path.join(job.dir, 'trainer', 'config.json')), 'the trainer kept its files in the run folder');
  });
});
