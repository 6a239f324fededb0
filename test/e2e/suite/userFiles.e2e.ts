// A user's broken files in the graph editor: a truncated .onnx and a text file named .onnx open in the
// LD Surgeon editor, which shows the reader's error (never "Loading graph…" forever); once the file is
// fixed, Reopen reads it again and the graph is shown.
import * as assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { suite, suiteSetup, suiteTeardown, test } from './tdd';
import { api, closeAllEditors, REPO, unetPath, waitFor, workspaceRoot } from './helpers';
import type { LdSurgeonApi } from '../../../src/extension/api';

suite("a user's broken files", () => {
  let a: LdSurgeonApi;
  const dir = () => path.join(workspaceRoot(), 'user-files');

  suiteSetup(async () => {
    a = await api();
    await closeAllEditors();
    mkdirSync(dir(), { recursive: true });
  });
  suiteTeardown(async () => {
    await closeAllEditors();
    rmSync(dir(), { recursive: true, force: true });
  });

  for (const [name, bytes] of [
    ['truncated.onnx', () => readFileSync(unetPath()).subarray(0, 3000)],
    ['notes.onnx', () => Buffer.from('these are my notes, not a model\n')],
  ] as const) {
    test(`${name}: the editor shows the reader's error, and Reopen shows the graph once the file is fixed`, async () => {
      const file = path.join(dir(), name);
      writeFileSync(file, bytes());
      await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file));
      const panel = await waitFor('the graph panel of the broken file', () => a.graphs.panelsFor(file)[0]);
      await assert.rejects(panel.ready, (e: Error) => /not a valid ONNX model/.test(e.message) && e.message.includes(file));
      await waitFor('the error sent to the view', () => panel.sent.includes('loadError') || undefined);
      assert.ok(!panel.sent.includes('init'), 'no graph was sent');

      copyFileSync(unetPath(), file);
      await panel.document.reopen();
      await waitFor('the graph after Reopen', () => panel.sent.includes('init') || undefined);
      await panel.ready;
      await closeAllEditors();
    });
  }

  test('an unscoped CNN (no exporter scopes) opens with its structural blocks, and scoring scores them', async function () {
    this.timeout(5 * 60_000);
    const file = path.join(dir(), 'resnet18_noname.onnx');
    copyFileSync(path.join(REPO, 'test', 'fixtures', 'structural', 'resnet18_noname.onnx'), file);
    await vscode.commands.executeCommand('ldSurgeon.openGraph', vscode.Uri.file(file));
    const panel = await waitFor('the graph of the CNN', () => a.graphs.panelsFor(file)[0]);
    await panel.ready;
    await a.modelTree.show(file);
    const root = a.modelTree.getChildren()[0];
    const top = a.modelTree.getChildren(root).map((i) => i.module.id);
    assert.ok(top.some((id) => /^stage\.\d$/.test(id)), `blocks by position: ${top.join(', ')}`);
    assert.ok(!top.some((id) => ['Conv', 'Relu', 'Add'].includes(id)), `no op-type buckets: ${top.join(', ')}`);

    const job = await a.workflows.score(file);
    const s = await job.finished;
    assert.equal(s.state, 'done', s.error);
    const scored = a.scores.all(file).filter((r) => r.score !== null);
    assert.ok(scored.some((r) => /^stage\.\d\.block\.\d/.test(r.id)), `scored: ${scored.map((r) => r.id).join(', ')}`);
    const item = await waitFor(`tree item ${scored[0].id}`, () => a.modelTree.itemFor(scored[0].id));
    assert.match(String(item.description), /^score /);
    await closeAllEditors();
  });
});
