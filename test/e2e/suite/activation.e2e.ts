// The extension activates in a workspace holding a pipeline and contributes what package.json promises.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { suite, test } from './tdd';
import { api, EXTENSION_ID, pipelineDir, waitFor } from './helpers';

suite('activation', () => {
  test('activates in a workspace with an ONNX pipeline, without being asked', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is installed`);
    // workspaceContains:**/*.onnx / model_index.json activates it on its own
    await waitFor('activation by workspaceContains', () => ext.isActive || undefined, 120_000);
  });

  test('every contributed command is registered', async () => {
    await api();
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const contributed: string[] = ext.packageJSON.contributes.commands.map((c: { command: string }) => c.command);
    for (const id of ['ldSurgeon.scoreOperators', 'ldSurgeon.openGraph', 'ldSurgeon.prune', 'ldSurgeon.distill']) {
      assert.ok(contributed.includes(id), `package.json contributes ${id}`);
    }
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], 'contributed but not registered');
  });

  test('settings are contributed with their documented defaults, and a workspace can override them', () => {
    const c = vscode.workspace.getConfiguration('ldSurgeon');
    const defaults = Object.fromEntries(['executionProvider', 'scorePreset', 'samples', 'steps', 'granularity', 'scoreVariant', 'pythonPath'].map((k) => [k, c.inspect(k)?.defaultValue]));
    // samples/steps 0 and granularity 'preset' leave them to the preset (quick: blocks, 8 × 10)
    assert.deepEqual(defaults, { executionProvider: 'auto', scorePreset: 'quick', samples: 0, steps: 0, granularity: 'preset', scoreVariant: 'avg+std', pythonPath: '' });
    // the runner's test workspace scores small (.vscode/settings.json)
    assert.equal(c.get('granularity'), 'block');
    assert.equal(c.get('samples'), 4);
  });

  test('the pipeline folder is known (it gets "Score Operators" in the explorer)', async () => {
    const { pipelines } = await api();
    await pipelines.ready;
    assert.deepEqual([...pipelines.list()], [pipelineDir()]);
    assert.equal(pipelines.pipelineOf(`${pipelineDir()}/unet/model.onnx`), pipelineDir());
  });
});
