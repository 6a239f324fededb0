// Undo/redo restore each snapshot's kept analysis, candidates and graph index JSON instead of
// recomputing them: after a sequence of edits, undos and redos, what the document reports must equal a
// from-scratch open of the same model (the original with the current edits replayed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EditableModel, type ModelEdit } from '../src/core/edit';
import { EXAMPLES, tempDir } from './pipeline-fixtures';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const CORPUS_MODEL = resolve(__dirname, '..', '..', 'shared', 'corpus', 'onnx-backend', 'node', 'test_layer_normalization_3d_axis1_epsilon_expanded', 'model.onnx');

/** What the graph view and the inspector show of the current snapshot. */
function shown(d: EditableModel) {
  const a = d.analysis();
  const root = a.total.get(a.tree.root)!;
  return {
    index: d.graphIndexJson(),
    total: { params: root.params, flops: root.flops },
    modules: [...a.tree.byId.entries()].map(([id, m]) => [id, a.total.get(m)?.flops, a.total.get(m)?.params]),
    candidates: d.candidates().map((c) => [c.id, c.params, c.flops, c.modification?.method ?? null]),
  };
}

async function fromScratch(src: string, edits: readonly ModelEdit[]) {
  return shown(await EditableModel.open(src, {}, edits));
}

/** Opens a copy of `srcPath` in a temp folder (edits save beside their source). */
async function openCopy(srcPath: string) {
  const tmp = tempDir('edit-cached-');
  const dir = join(tmp.dir, 'm');
  mkdirSync(dir);
  const src = join(dir, 'model.onnx');
  copyFileSync(srcPath, src);
  return { doc: await EditableModel.open(src), src, cleanup: tmp.done };
}

test('digits-cond: after edits, undos and redos every snapshot shows what a fresh analysis of it shows', async () => {
  const { doc, src, cleanup } = await openCopy(COND);
  try {
    const seen: string[] = [];
    const checkHere = async (what: string) => {
      assert.deepEqual(shown(doc), await fromScratch(src, doc.edits), `${what} (version ${doc.version})`);
      seen.push(what);
    };
    doc.candidates();
    await doc.apply({ kind: 'bypass', module: 'down_blocks.0.attentions.0' });
    await checkHere('after a bypass');
    await doc.apply({ kind: 'rename-node', node: doc.analysis().view.nodeId(doc.model.graph.nodes[0]), to: 'stem' });
    await doc.apply({ kind: 'bypass', module: 'up_blocks.1.attentions.0' });
    await checkHere('after three edits');
    doc.undo();
    await checkHere('after an undo');
    doc.undo();
    doc.undo();
    await checkHere('back at the original');
    doc.redo();
    doc.redo();
    await checkHere('after two redos');
    await doc.apply({ kind: 'bypass', module: 'mid_block.attentions.0' });
    await checkHere('after an edit that drops the undone one');
    doc.undo();
    doc.redo();
    await checkHere('after undo + redo of it');
    assert.equal(seen.length, 7);
  } finally {
    cleanup();
  }
});

test('a corpus model (expanded layer norm): edits and undos give the fresh analysis', { skip: existsSync(CORPUS_MODEL) ? false : 'no ../shared/corpus' }, async () => {
  const { doc, src, cleanup } = await openCopy(CORPUS_MODEL);
  try {
    const start = shown(doc);
    const value = doc.model.graph.nodes[1].outputs[0];
    await doc.apply({ kind: 'rename-value', value, to: 'renamed_value' });
    await doc.apply({ kind: 'set-output', value: 'renamed_value' });
    assert.deepEqual(shown(doc), await fromScratch(src, doc.edits));
    doc.undo();
    assert.deepEqual(shown(doc), await fromScratch(src, doc.edits));
    doc.undo();
    assert.deepEqual(shown(doc), start);
    doc.redo();
    assert.deepEqual(shown(doc), await fromScratch(src, doc.edits));
  } finally {
    cleanup();
  }
});
