// The Model view's module tree made in the model worker: the same totals as an analysis on the host,
// from the graph editor's document (edits included) when one is open on the file, and compact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { ModelWorker } from '../src/core/edit';
import { analyzeModel, moduleSummary } from '../src/core/graph';
import { perSampleInputShapes } from '../src/core/graph/input-shapes';
import { readModel } from '../src/core/onnx/reader';
import { EXAMPLES } from './pipeline-fixtures';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const ENTRY = resolve(__dirname, '..', 'src', 'worker', 'model-worker.ts');
const BLOCK = 'up_blocks.1.attentions.0';

test('the worker sends the module tree with the totals a host analysis gives', async () => {
  const worker = ModelWorker.start({ modulePath: ENTRY });
  try {
    const list = await worker.modules(COND);
    assert.ok(JSON.stringify(list).length < 200_000, 'no graph, no weights in the message');
    const tree = moduleSummary(list);
    const m = await readModel(COND);
    const a = await analyzeModel(m, { inputShapes: perSampleInputShapes(m) });
    assert.equal(tree.byId.size, a.tree.byId.size);
    for (const [id, node] of a.tree.byId) {
      const row = tree.byId.get(id);
      assert.ok(row, `module '${id}' is in the tree`);
      const t = a.total.get(node)!;
      assert.deepEqual([row.stats.params, row.stats.flops, row.stats.ops, row.stats.opCounts], [t.params, t.flops, t.ops, t.opCounts], `totals of '${id}'`);
      assert.deepEqual(row.children.map((c) => c.id), node.children.map((c) => c.id), `children of '${id}'`);
      assert.equal(row.parent?.id, node.parent?.id);
    }
    assert.ok(tree.root.stats.params > 100_000);
  } finally {
    await worker.dispose();
  }
});

test('with a document open on the file, the tree is that document as edited', async () => {
  const worker = ModelWorker.start({ modulePath: ENTRY });
  try {
    const before = moduleSummary(await worker.modules(COND));
    const doc = await worker.open({ path: COND });
    await doc.apply({ kind: 'bypass', module: BLOCK });
    const edited = moduleSummary(await worker.modules(COND));
    assert.ok(edited.root.stats.params < before.root.stats.params, 'the bypassed block no longer counts');
    assert.ok(edited.root.stats.flops < before.root.stats.flops);
    assert.equal(edited.byId.has(BLOCK) && edited.byId.get(BLOCK)!.stats.ops > 0, false, 'the bypassed block has no ops left');
    await doc.undo();
    assert.equal(moduleSummary(await worker.modules(COND)).root.stats.params, before.root.stats.params);
    await doc.close();
    assert.equal(moduleSummary(await worker.modules(COND)).root.stats.flops, before.root.stats.flops, 'closed: read from the file again');
  } finally {
    await worker.dispose();
  }
});

test('a file that is not a model is refused with its name', async () => {
  const worker = ModelWorker.start({ modulePath: ENTRY });
  try {
    await assert.rejects(worker.modules(join(EXAMPLES, 'digits-cond', 'no-such.onnx')), /no-such\.onnx/);
  } finally {
    await worker.dispose();
  }
});

test('moduleSummary refuses a list that does not start at the root', () => {
  assert.throws(() => moduleSummary([]), /start with the root/);
});
