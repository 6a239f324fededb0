// After an edit the document re-infers shapes only downstream of what changed (analyzeWithValues
// with `previous`). Whatever the sequence of edits and undos, the incremental analysis must equal a
// fresh full analysis of the same model: every value's shape, element type and folded value, every
// node's cost, every module's totals. Run on a shipped model, a corpus model and, when
// bench/gen_sd_unet.py has generated one, the SD-1.5 U-Net.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EditableModel } from '../src/core/edit';
import { analyzeWithValues, readFoldValues, type ModelAnalysis } from '../src/core/graph';
import type { Node } from '../src/core/onnx/types';
import { foldCandidates } from '../src/core/graph/analyze';
import { perSampleInputShapes } from '../src/core/graph/input-shapes';
import { sdModels } from '../bench/common';
import { EXAMPLES } from './pipeline-fixtures';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const CORPUS_MODEL = resolve(__dirname, '..', '..', 'shared', 'corpus', 'onnx-backend', 'node', 'test_layer_normalization_3d_axis1_epsilon_expanded', 'model.onnx');
const SD = sdModels().find((p) => p.includes('sd15-unet/'));

/**
 * What the graph, the inspector and the totals are built from, keyed by names (not objects): every
 * value's facts, every node's cost and noise kind, the module tree (ids in order, parents, children in
 * order, classes, each module's nodes and own and total stats, where every node sits), the parameters
 * and the module each belongs to.
 */
function figuresOf(a: ModelAnalysis) {
  const id = (n: Node) => a.view.nodeId(n);
  return {
    shapes: [...a.shapes.entries()].sort(([x], [y]) => (x < y ? -1 : 1)),
    costShapes: a.costShapes === a.shapes ? 'same' : [...(a.costShapes ?? new Map()).entries()].sort(([x], [y]) => (x < y ? -1 : 1)),
    cost: a.view.nodes.map((n) => [id(n), a.cost.get(n)]),
    noise: a.view.nodes.map((n) => [id(n), a.noise.get(n) ?? null]),
    source: a.tree.source,
    modules: [...a.tree.byId.entries()].map(([mid, m]) => [
      mid, m.name, m.depth, m.parent?.id ?? null, m.children.map((c) => c.id), m.className ?? null, m.nodes.map(id), a.own.get(m), a.total.get(m),
    ]),
    moduleOf: a.view.nodes.map((n) => [id(n), a.tree.moduleOf.get(n)?.id]),
    params: a.params.map((p) => [p.name, p.source, p.elemType, p.dims, p.elements, p.bytes, p.users.map(id), a.paramModule.get(p)?.id]),
  };
}

async function fresh(doc: EditableModel): Promise<ModelAnalysis> {
  const m = doc.model;
  return analyzeWithValues(m, await readFoldValues(foldCandidates(m)), perSampleInputShapes(m));
}

async function assertFresh(doc: EditableModel, what: string) {
  assert.deepEqual(figuresOf(doc.analysis()), figuresOf(await fresh(doc)), `${what} (version ${doc.version})`);
}

test('digits-cond: incremental analysis after edits equals a fresh full analysis, and unchanged values are not re-inferred', async () => {
  const doc = await EditableModel.open(COND);
  const original = doc.analysis();
  await doc.apply({ kind: 'bypass', module: 'down_blocks.0.attentions.0' });
  await assertFresh(doc, 'after a bypass');
  const afterBypass = doc.analysis();
  // the graph output's facts did not change: the pass kept the previous object rather than inferring a new one
  const out = doc.model.graph.outputs[0].name;
  assert.equal(afterBypass.shapes.get(out), original.shapes.get(out));
  // and a node the bypass left alone keeps its cost object, a node of the bypassed block is gone
  const conv = afterBypass.view.nodes.find((n) => n.opType === 'Conv')!;
  const before = original.view.producer(conv.outputs[0])!;
  assert.equal(afterBypass.cost.get(conv), original.cost.get(before));
  assert.ok(afterBypass.cost.get(conv)!.flops > 0);

  const first = doc.model.graph.nodes[0];
  await doc.apply({ kind: 'rename-node', node: doc.analysis().view.nodeId(first), to: 'stem' });
  await assertFresh(doc, 'after a rename');
  const produced = doc.model.graph.nodes.find((n) => n.opType === 'Conv')!.outputs[0];
  await doc.apply({ kind: 'rename-value', value: produced, to: 'renamed_conv_out' });
  await assertFresh(doc, 'after renaming a value (its consumers are re-inferred)');
  await doc.apply({ kind: 'set-output', value: 'renamed_conv_out' });
  await assertFresh(doc, 'after set-output');
  doc.undo();
  doc.undo();
  await doc.apply({ kind: 'bypass', module: 'mid_block.attentions.0' });
  await assertFresh(doc, 'after undos and an edit from an earlier snapshot');
  await doc.apply({ kind: 'bypass', module: 'up_blocks.1.attentions.0' });
  await assertFresh(doc, 'after a second bypass');
});

test('a corpus model (expanded layer norm): incremental analysis equals a fresh one', { skip: existsSync(CORPUS_MODEL) ? false : 'no ../shared/corpus' }, async () => {
  const doc = await EditableModel.open(CORPUS_MODEL);
  const value = doc.model.graph.nodes[1].outputs[0];
  await doc.apply({ kind: 'rename-value', value, to: 'renamed_value' });
  await assertFresh(doc, 'after rename-value');
  await doc.apply({ kind: 'set-output', value: 'renamed_value' });
  await assertFresh(doc, 'after set-output');
  await doc.apply({ kind: 'clear-output', value: 'renamed_value' });
  await assertFresh(doc, 'after clear-output');
});

test('SD-1.5 U-Net (bench model): incremental analysis after edits equals a fresh one', { skip: SD ? false : 'no generated SD-1.5 model (bench/gen_sd_unet.py)' }, async () => {
  const doc = await EditableModel.open(SD!);
  await doc.apply({ kind: 'bypass', module: 'mid_block.attentions.0' });
  await doc.apply({ kind: 'bypass', module: 'up_blocks.1.attentions.0' });
  await assertFresh(doc, 'after two bypasses');
  doc.undo();
  await doc.apply({ kind: 'rename-node', node: '/conv_in/Conv', to: 'stem' });
  await assertFresh(doc, 'after an undo and a rename');
});

test('digits-cond: a changed input shape is carried downstream by the incremental pass (batch 1 → 3)', async () => {
  const doc = await EditableModel.open(COND);
  const m = doc.model;
  const folded = await readFoldValues(foldCandidates(m));
  const one = perSampleInputShapes(m);
  const three = Object.fromEntries(Object.entries(one).map(([k, s]) => [k, [3, ...s.slice(1)]]));
  const before = analyzeWithValues(m, folded, one);
  const incremental = analyzeWithValues(m, folded, three, undefined, before);
  const out = m.graph.outputs[0].name;
  assert.equal(incremental.shapes.get(out)?.shape?.[0], 3);
  assert.deepEqual(figuresOf(incremental), figuresOf(analyzeWithValues(m, folded, three)));
  // and back: the batch-1 result again, from the batch-3 one
  assert.deepEqual(figuresOf(analyzeWithValues(m, folded, one, undefined, incremental)), figuresOf(before));
});
