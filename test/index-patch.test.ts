// The graph index patch an edit sends instead of the whole index (src/core/graph/index-patch.ts):
// the index before an edit with the patch applied — after a JSON round trip, as it crosses to the
// webview — must equal the index of a fresh analysis of the edited model, for every edit kind, for
// undo and redo (patches back and forth across several snapshots), and the patch of a local edit
// is a small part of the index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EditableModel, ModelWorker, type ModelEdit } from '../src/core/edit';
import { applyGraphIndexPatch, diffGraphIndex, invertGraphIndexPatch } from '../src/core/graph/index-patch';
import type { GraphIndex } from '../src/core/graph';
import { EXAMPLES, tempDir } from './pipeline-fixtures';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');

async function openCopy(srcPath: string) {
  const tmp = tempDir('index-patch-');
  const dir = join(tmp.dir, 'm');
  mkdirSync(dir);
  const src = join(dir, 'model.onnx');
  copyFileSync(srcPath, src);
  return { doc: await EditableModel.open(src), src, cleanup: tmp.done };
}

/** The index a freshly opened document shows for the original with `edits` replayed. */
async function freshIndex(src: string, edits: readonly ModelEdit[]): Promise<GraphIndex> {
  return JSON.parse((await EditableModel.open(src, {}, edits)).graphIndexJson()) as GraphIndex;
}

const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

test('digits-cond: the index before each edit, undo and redo plus its patch equals a fresh analysis of the result', async () => {
  const { doc, src, cleanup } = await openCopy(COND);
  try {
    // what the webview holds: the index it was sent at open, then patched after every change
    let shown = wire(doc.graphIndex());
    let shownVersion = doc.version;
    const follow = async (what: string, maxShare?: number) => {
      const patch = wire(doc.graphIndexPatch(shownVersion));
      shown = applyGraphIndexPatch(shown, patch);
      shownVersion = doc.version;
      assert.deepStrictEqual(shown, await freshIndex(src, doc.edits), `${what}: patched index = fresh analysis`);
      if (maxShare !== undefined) {
        const share = JSON.stringify(patch).length / JSON.stringify(shown).length;
        assert.ok(share < maxShare, `${what}: the patch is ${(share * 100).toFixed(1)}% of the index (< ${maxShare * 100}%)`);
      }
    };
    const first = doc.analysis().view.nodeId(doc.model.graph.nodes[0]);
    await doc.apply({ kind: 'bypass', module: 'up_blocks.1.attentions.0' });
    await follow('bypass', 0.5);
    await doc.apply({ kind: 'rename-node', node: first, to: 'stem' });
    await follow('rename a node', 0.05);
    const value = doc.model.graph.nodes[3].outputs[0];
    await doc.apply({ kind: 'rename-value', value, to: 'renamed_value' });
    await follow('rename a value', 0.05);
    await doc.apply({ kind: 'set-output', value: 'renamed_value' });
    await follow('set an output');
    await doc.apply({ kind: 'bypass', module: 'down_blocks.0.attentions.0' });
    await follow('a bypass near the start');
    doc.undo();
    await follow('undo', 0.5);
    doc.undo();
    doc.undo();
    await follow('two undos at once');
    doc.redo();
    await follow('redo');
    doc.undo();
    await follow('undo again (the same snapshots as before)');
    doc.redo();
    await follow('redo again');
    doc.revert();
    await follow('revert to the original');
    // an edit from the original replaces the undone snapshots: patches made for them must not be reused
    await doc.apply({ kind: 'bypass', module: 'mid_block.attentions.0' });
    await follow('a new edit in place of the undone ones');
    doc.undo();
    await follow('its undo');
    doc.redo();
    await follow('its redo');
  } finally {
    cleanup();
  }
});

test('a patch between unrelated indexes still applies exactly (everything is sent)', async () => {
  const a = wire((await EditableModel.open(join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx'))).graphIndex());
  const b = wire((await EditableModel.open(join(EXAMPLES, 'digits-dit', 'transformer', 'model.onnx'))).graphIndex());
  assert.deepStrictEqual(applyGraphIndexPatch(a, wire(diffGraphIndex(a, b))), b);
  assert.deepStrictEqual(applyGraphIndexPatch(b, wire(diffGraphIndex(b, a))), a);
  assert.deepStrictEqual(applyGraphIndexPatch(a, wire(diffGraphIndex(a, a))), a);
  // the way back without a diff
  assert.deepStrictEqual(applyGraphIndexPatch(b, wire(invertGraphIndexPatch(a, diffGraphIndex(a, b)))), a);
  assert.deepStrictEqual(applyGraphIndexPatch(a, wire(invertGraphIndexPatch(b, diffGraphIndex(b, a)))), b);
  const empty = diffGraphIndex(a, a);
  assert.equal(empty.nodes.insert.length + empty.nodes.set.length + empty.values.insert.length + empty.modules.set.length, 0, 'no change, nothing sent');
});

test('through the model worker: the host gets patches, and its index (patches applied on demand) equals a fresh analysis', async () => {
  const { src, cleanup } = await openCopy(COND);
  const worker = ModelWorker.start({ modulePath: resolve(__dirname, '..', 'src', 'worker', 'model-worker.ts') });
  try {
    const doc = await worker.open({ path: src });
    await doc.apply({ kind: 'bypass', module: 'up_blocks.1.attentions.0' });
    assert.ok(doc.lastPatch && doc.lastPatch.nodes.remove > 0, 'an edit replies with a patch that removes nodes');
    await doc.apply({ kind: 'rename-node', node: doc.index.nodes[0].id, to: 'stem' });
    await doc.undo();
    await doc.apply({ kind: 'bypass', module: 'mid_block.attentions.0' });
    assert.deepStrictEqual(JSON.parse(doc.indexJson), await freshIndex(src, doc.state.edits));
    await doc.undo();
    await doc.undo();
    assert.deepStrictEqual(doc.index, await freshIndex(src, []));
    await doc.close();
  } finally {
    await worker.dispose();
    cleanup();
  }
});
