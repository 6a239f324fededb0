// Opening a model shows it in the LD Surgeon graph editor: the webview loads, says `ready`, gets the
// graph; the Model view follows the editor; node definitions and weight statistics are served. Editing:
// bypass a block, undo, redo, a refused edit, Save beside the original, Save As, reopen the saved model.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { suite, suiteSetup, suiteTeardown, test } from './tdd';
import { api, closeAllEditors, graphReady, unetPath, waitFor, workspaceRoot } from './helpers';
import { numElements } from '../../../src/core/onnx/types';
import { readModel } from '../../../src/core/onnx/reader';
import { analyzeModel } from '../../../src/core/graph';
import type { LdSurgeonApi } from '../../../src/extension/api';

suite('graph editor', () => {
  let a: LdSurgeonApi;

  suiteSetup(async () => {
    a = await api();
    await closeAllEditors();
  });
  suiteTeardown(closeAllEditors);

  test('opening a .onnx file uses the LD Surgeon graph editor by default', async () => {
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(unetPath()));
    const input = await waitFor('the custom editor tab', () => {
      const i = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return i instanceof vscode.TabInputCustom ? i : undefined;
    });
    assert.equal(input.viewType, 'ldSurgeon.graph');
    assert.equal(input.uri.fsPath, unetPath());
  });

  test('the webview starts, handshakes and receives the graph', async () => {
    const panel = await waitFor('a graph panel', () => a.graphs.panelsFor(unetPath())[0]);
    await panel.ready;
    assert.ok(panel.sent.includes('init'), `sent: ${panel.sent.join(', ')}`);
  });

  test('the Model view follows the active graph editor', async () => {
    await waitFor('model tree on the U-Net', () => a.modelTree.current()?.modelPath === unetPath() || undefined);
    assert.equal(a.modelTree.getChildren()[0].modelPath, unetPath());
  });

  test('LD Surgeon: Open Graph focuses the open editor instead of opening a second one', async () => {
    await vscode.commands.executeCommand('ldSurgeon.openGraph', vscode.Uri.file(unetPath()));
    const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputCustom);
    assert.equal(tabs.length, 1);
    assert.equal(a.graphs.panelsFor(unetPath()).length, 1);
  });

  test('a node definition opens as JSON', async () => {
    const analysis = await analyzeModel(await readModel(unetPath()));
    const conv = analysis.view.nodes.find((n) => n.opType === 'Conv')!;
    const nodeId = analysis.view.nodeId(conv);
    await a.workflows.graphActions.openNode(unetPath(), nodeId);
    const doc = await waitFor('the node document', () => vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === 'ld-surgeon-node')?.document);
    const json = JSON.parse(doc.getText());
    assert.equal(json.op, 'Conv');
    assert.equal(json.id, nodeId);
    assert.equal(json.inputs.length, conv.inputs.length);
    assert.ok(Array.isArray(json.attributes.kernel_shape), 'kernel_shape decoded');
    assert.match(json.inputs[0].shape, /^\[1,\d+,\d+,\d+\]$/, 'activation shape at batch 1');
  });

  test('weight statistics describe the tensor', async () => {
    const analysis = await analyzeModel(await readModel(unetPath()));
    const conv = analysis.view.nodes.find((n) => n.opType === 'Conv')!;
    const weight = analysis.view.initializer(conv.inputs[1])!;
    const stats = (await a.workflows.graphActions.weightStats(unetPath(), weight.name))!;
    assert.equal(stats.count, numElements(weight.dims));
    assert.deepEqual(stats.shape, weight.dims);
    assert.equal(stats.histogram.counts.reduce((x, y) => x + y, 0), stats.count - (stats.nonFinite ?? 0));
    assert.ok(stats.min <= stats.mean && stats.mean <= stats.max);
    assert.ok(stats.std > 0, 'trained weights vary');
    await assert.rejects(a.workflows.graphActions.weightStats(unetPath(), 'no-such-tensor'), /no constant tensor 'no-such-tensor'/);
  });
});

suite('graph editor: editing', () => {
  let a: LdSurgeonApi;
  let dir: string;
  let model: string;
  let original: string;
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  const panel = () => a.graphs.panelsFor(model)[0];
  const tab = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputCustom && t.input.uri.fsPath === model);
  const nodes = (json: string) => (JSON.parse(json) as { nodes: { id: string }[] }).nodes.map((n) => n.id);
  const BLOCK = 'down_blocks.0.attentions.0';
  const inBlock = (id: string) => id.startsWith('/down_blocks.0/attentions.0/');

  suiteSetup(async () => {
    a = await api();
    await closeAllEditors();
    // an own copy: the other suites use the workspace's model as shipped
    dir = path.join(workspaceRoot(), 'edit-e2e');
    mkdirSync(dir, { recursive: true });
    model = path.join(dir, 'model.onnx');
    copyFileSync(unetPath(), model);
    copyFileSync(path.join(path.dirname(unetPath()), 'config.json'), path.join(dir, 'config.json'));
    original = sha(model);
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(model), 'ldSurgeon.graph');
    await (await waitFor('the graph panel', () => panel(), 60_000)).ready;
  });
  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    await closeAllEditors();
  });

  test('bypass a block from its context-menu command: one edit, the tab is dirty, the webview gets the new graph', async () => {
    const patches = panel().sent.filter((t) => t === 'patch').length;
    await vscode.commands.executeCommand('ldSurgeon.graph.bypass', { webviewSection: 'module', moduleId: BLOCK });
    const doc = panel().document;
    assert.deepEqual(doc.edits, [{ kind: 'bypass', module: BLOCK }]);
    assert.ok(!nodes(doc.indexJson).some(inBlock), 'the block is gone from the graph');
    await waitFor('the dirty dot', () => tab()?.isDirty || undefined);
    // what changed in the graph index, not the whole index again
    await waitFor('a patch of the graph', () => panel().sent.filter((t) => t === 'patch').length > patches || undefined);
  });

  test('undo and redo go through VS Code\'s edit stack', async () => {
    await vscode.commands.executeCommand('undo');
    await waitFor('undo', () => panel().document.edits.length === 0 || undefined);
    assert.ok(nodes(panel().document.indexJson).some(inBlock));
    await waitFor('clean tab after undo', () => tab()?.isDirty === false || undefined);
    await vscode.commands.executeCommand('redo');
    await waitFor('redo', () => panel().document.edits.length === 1 || undefined);
    assert.ok(!nodes(panel().document.indexJson).some(inBlock));
  });

  test('a refused edit says why and changes nothing', async () => {
    await vscode.commands.executeCommand('ldSurgeon.graph.replaceByShortcut', { webviewSection: 'module', moduleId: 'down_blocks.0.resnets.0' });
    assert.match(a.graphs.lastRefusal ?? '', /cannot replace 'down_blocks\.0\.resnets\.0' by its shortcut/);
    assert.equal(panel().document.edits.length, 1);
  });

  test('Save writes the edited model beside the original; Save As elsewhere; reopened, the edit is there; the original bytes are unchanged', async () => {
    await vscode.commands.executeCommand('workbench.action.files.save');
    const edited = path.join(dir, 'model.edited.onnx');
    await waitFor('model.edited.onnx', () => existsSync(edited) || undefined, 60_000);
    await waitFor('clean tab after save', () => tab()?.isDirty === false || undefined);
    const target = vscode.Uri.file(path.join(dir, 'saved-as.onnx'));
    await a.graphs.saveCustomDocumentAs(panel().document, target);
    assert.equal(sha(model), original, 'the original file is unchanged');
    await vscode.commands.executeCommand('vscode.openWith', target, 'ldSurgeon.graph');
    const reopened = await waitFor('the saved model\'s graph', () => a.graphs.panelsFor(target.fsPath)[0], 60_000);
    await reopened.ready;
    assert.ok(!nodes(reopened.document.indexJson).some(inBlock), 'the saved model has the block bypassed');
    assert.ok(nodes(reopened.document.indexJson).length > 1000);
  });
});

suite('graph editor: handshake watchdog', () => {
  const HOOK = 'LD_SURGEON_TEST_DROP_WEBVIEW_READY';
  let a: LdSurgeonApi;

  suiteSetup(async () => {
    a = await api();
    await closeAllEditors();
  });
  suiteTeardown(async () => {
    delete process.env[HOOK];
    await closeAllEditors();
  });

  test("a shown graph view that never says 'ready' is loaded again after 15 s, and the graph appears", async function () {
    this.timeout(3 * 60_000);
    // its own copy: the hook (read when the panel is made, in this very extension host) matches only this folder
    const dir = path.join(workspaceRoot(), 'handshake-watchdog');
    mkdirSync(dir, { recursive: true });
    for (const f of ['model.onnx', 'config.json']) copyFileSync(path.join(path.dirname(unetPath()), f), path.join(dir, f));
    const model = path.join(dir, 'model.onnx');
    process.env[HOOK] = dir;
    const t0 = Date.now();
    try {
      await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(model));
      const panel = await waitFor('the graph panel', () => a.graphs.panelsFor(model)[0], 60_000);
      await graphReady(panel, 120_000);
      const waited = Date.now() - t0;
      // one reload brings the graph; a second one is the watchdog doing its job too: on a loaded machine a
      // reloaded page once took over 15 s to say 'ready' and was loaded a third time (seen in CI)
      const reloads = Number(/webview reloads (\d+),/.exec(panel.describe())?.[1]);
      assert.ok(reloads >= 1 && reloads <= 2, panel.describe());
      assert.ok(waited >= 15_000, `ready after ${waited} ms: the first 'ready' was dropped, so only the reload can have made it`);
      // the dropped one and the one that made it (a page replaced before it said 'ready' sends none)
      const readies = panel.received.filter((m) => m === 'ready').length;
      assert.ok(readies >= 2 && readies <= reloads + 1, `received: ${panel.received.join(', ')}; ${panel.describe()}`);
      assert.ok(panel.sent.includes('init'), `sent: ${panel.sent.join(', ')}`);
    } finally {
      delete process.env[HOOK];
    }
  });
});
