// Opening a model shows it in the LD Surgeon graph editor: the webview loads, says `ready`, gets the
// graph; the Model view follows the editor; node definitions and weight statistics are served.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { suite, suiteSetup, suiteTeardown, test } from './tdd';
import { api, closeAllEditors, unetPath, waitFor } from './helpers';
import { numElements } from '../../../src/core/onnx/types';
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
    const analysis = a.modelTree.current()!.analysis;
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
    const analysis = a.modelTree.current()!.analysis;
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
