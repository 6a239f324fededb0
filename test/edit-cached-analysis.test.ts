// Undo/redo restore each snapshot's kept analysis, candidates and graph index JSON instead of
// recomputing them: after a sequence of edits, undos and redos, what the document reports must equal a
// from-scratch open of the same model (the original with the current edits replayed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EditableModel, type ChangeSummary, type ModelEdit } from '../src/core/edit';
import type { ModelAnalysis } from '../src/core/graph';
import type { Node } from '../src/core/onnx/types';
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

/**
 * The change summary's node lists, found the plain way: every node of both snapshots by id, a node
 * changed when its op, wiring or attributes differ (what the graph highlights and the status bar counts).
 */
function plainChanges(a: ModelAnalysis, b: ModelAnalysis) {
  const byId = (x: ModelAnalysis) => new Map(x.view.nodes.map((n) => [x.view.nodeId(n), n] as const));
  const A = byId(a);
  const B = byId(b);
  const same = (p: Node, q: Node) => p.opType === q.opType && JSON.stringify([p.inputs, p.outputs]) === JSON.stringify([q.inputs, q.outputs])
    && p.attributes.length === q.attributes.length && p.attributes.every((x, i) => x === q.attributes[i] || (x.g !== undefined && x.name === q.attributes[i].name));
  const added = [...B].filter(([id, n]) => !A.has(id) || !same(A.get(id)!, n)).map(([id]) => id);
  const removed = [...A].filter(([id, n]) => !B.has(id) || !same(n, B.get(id)!)).map(([id]) => id);
  const modules = new Set([...added.map((id) => b.tree.moduleOf.get(B.get(id)!)!.id), ...removed.filter((id) => !B.has(id)).map((id) => a.tree.moduleOf.get(A.get(id)!)!.id)]);
  modules.delete('');
  return { addedNodes: added, removedNodes: removed, modules: [...modules].sort() };
}

test('digits-cond: the change summaries of edits, undos, redos and a revert list the nodes a plain diff of the two snapshots finds', async () => {
  const { doc, cleanup } = await openCopy(COND);
  try {
    const check = (what: string, s: ChangeSummary | undefined, from: ModelAnalysis) => {
      assert.ok(s, what);
      const got = { addedNodes: s.addedNodes, removedNodes: s.removedNodes, modules: s.modules };
      assert.deepEqual(got, plainChanges(from, doc.analysis()), what);
      return got;
    };
    let from = doc.analysis();
    const bypass = check('a bypass', await doc.apply({ kind: 'bypass', module: 'down_blocks.0.attentions.0' }), from);
    assert.ok(bypass.removedNodes.length > 10 && bypass.modules.some((m) => m.startsWith('down_blocks.0.attentions.0')), 'the bypassed block\'s nodes are listed as removed');
    from = doc.analysis();
    const rename = check('a rename', await doc.apply({ kind: 'rename-node', node: doc.analysis().view.nodeId(doc.model.graph.nodes[0]), to: 'stem' }), from);
    assert.deepEqual(rename.addedNodes, ['stem']);
    from = doc.analysis();
    const undo = check('undo of the rename', doc.undo(), from);
    assert.deepEqual([undo.addedNodes, undo.removedNodes], [rename.removedNodes, rename.addedNodes], 'an undo lists the edit\'s changes the other way round');
    from = doc.analysis();
    check('redo', doc.redo(), from);
    from = doc.analysis();
    check('another bypass', await doc.apply({ kind: 'bypass', module: 'up_blocks.1.attentions.0' }), from);
    from = doc.analysis();
    check('revert to the original (two snapshots apart)', doc.revert(), from);
    from = doc.analysis();
    check('redo after the revert', doc.redo(), from);
  } finally {
    cleanup();
  }
});
