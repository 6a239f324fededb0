// The graph index patch an edit sends instead of the whole index (src/core/graph/index-patch.ts):
// the index before an edit with the patch applied — after a JSON round trip, as it crosses to the
// webview — must equal the index of a fresh analysis of the edited model, for every edit kind, for
// undo and redo (patches back and forth across several snapshots), and the patch of a local edit
// is a small part of the index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EditableModel, ModelWorker, type ModelEdit } from '../src/core/edit';
import { applyGraphIndexPatch, diffGraphIndex, invertGraphIndexPatch, type GraphIndexPatch } from '../src/core/graph/index-patch';
import { buildGraphIndex, type GraphIndex } from '../src/core/graph';
import { sdModels } from '../bench/common';
import { EXAMPLES, tempDir } from './pipeline-fixtures';
import { digitsCondEdits } from './helpers/unet-edits';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const CORPUS_MODEL = resolve(__dirname, '..', '..', 'shared', 'corpus', 'onnx-backend', 'node', 'test_layer_normalization_3d_axis1_epsilon_expanded', 'model.onnx');
const SD = sdModels().find((p) => p.includes('sd15-unet/'));

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

/**
 * Each edit's index is built from the index before it (not analysed whole): it must be the index a
 * whole build of the same analysis gives, byte for byte, and its patch — made while building it, not
 * by diffing — must turn the index before into it, and be no larger than the diff's (the oracle).
 */
async function incrementalMatchesWhole(path: string, edits: (doc: EditableModel) => [string, ModelEdit][]): Promise<Map<string, GraphIndexPatch>> {
  // edits stay in memory: the model is opened where it is (the SD-1.5 one has its weights beside it)
  const doc = await EditableModel.open(path);
  const patches = new Map<string, GraphIndexPatch>();
  let before = wire(doc.graphIndex());
  for (const [what, edit] of edits(doc)) {
    await doc.apply(edit);
    const whole = buildGraphIndex(doc.analysis());
    assert.equal(doc.graphIndexJson(), JSON.stringify(whole), `${path}: ${what}: the index built from the one before = a whole build`);
    const patch = doc.graphIndexPatch(doc.version - 1);
    const oracle = diffGraphIndex(before, whole);
    assert.deepStrictEqual(applyGraphIndexPatch(before, wire(patch)), wire(whole), `${path}: ${what}: its patch gives the whole build`);
    assert.deepStrictEqual(applyGraphIndexPatch(before, wire(oracle)), wire(whole), `${path}: ${what}: so does the diff`);
    assert.ok(JSON.stringify(patch).length <= JSON.stringify(oracle).length, `${path}: ${what}: the patch (${JSON.stringify(patch).length} B) is no larger than the diff (${JSON.stringify(oracle).length} B)`);
    // and the way back
    doc.undo();
    assert.deepStrictEqual(applyGraphIndexPatch(wire(whole), wire(doc.graphIndexPatch(doc.version + 1))), before, `${path}: ${what}: undo's patch`);
    doc.redo();
    patches.set(what, patch);
    before = wire(whole);
  }
  return patches;
}

test('digits-cond: each edit\'s index is built from the one before, equals a whole build, and a rename sends only what it renamed', async () => {
  const patches = await incrementalMatchesWhole(COND, digitsCondEdits);
  for (const what of ['rename a node', 'rename a value']) {
    const p = patches.get(what)!;
    assert.equal(p.edges.insert.length + p.edges.set.length + p.edges.remove, 0, `${what}: no edge is sent`);
    assert.equal(p.nodes.insert.length + p.nodes.set.length + p.values.insert.length + p.values.set.length, 1, `${what}: one node or value is sent, in place`);
  }
  const reject = patches.get('reject a prune')!;
  assert.equal(reject.nodes.insert.length + reject.nodes.set.length + reject.values.set.length + reject.edges.insert.length, 0, 'rejecting a prune changes no node');
});

test('a corpus model (expanded layer norm): indexes built from the one before equal whole builds', { skip: existsSync(CORPUS_MODEL) ? false : 'no ../shared/corpus' }, async () => {
  await incrementalMatchesWhole(CORPUS_MODEL, (doc) => {
    const value = doc.model.graph.nodes[1].outputs[0];
    return [
      ['rename a value', { kind: 'rename-value', value, to: 'renamed_value' }],
      ['set an output', { kind: 'set-output', value: 'renamed_value' }],
      ['rename a node', { kind: 'rename-node', node: doc.analysis().view.nodeId(doc.model.graph.nodes[2]), to: 'renamed_node' }],
      ['clear the output', { kind: 'clear-output', value: 'renamed_value' }],
    ];
  });
});

test('SD-1.5 U-Net: indexes built from the one before equal whole builds', { skip: SD ? false : 'LD_SURGEON_BENCH_MODELS has no sd15-unet' }, async () => {
  const patches = await incrementalMatchesWhole(SD!, (doc) => [
    ['bypass', { kind: 'bypass', module: 'mid_block.attentions.0' }],
    ['another bypass', { kind: 'bypass', module: 'up_blocks.1.attentions.0' }],
    ['rename a node', { kind: 'rename-node', node: '/conv_in/Conv', to: 'stem' }],
    ['rename a value', { kind: 'rename-value', value: doc.model.graph.nodes[5].outputs[0], to: 'renamed_value' }],
  ]);
  assert.ok(JSON.stringify(patches.get('rename a node')).length < 5000, 'renaming conv_in does not resend the edges to it');
});
