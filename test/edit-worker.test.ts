// The model worker thread: a model opened, edited, undone and saved through ModelWorker runs all of
// it in the worker; the host gets the graph index, change summaries, document state and refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EditRefused, ModelWorker } from '../src/core/edit';
import { readModel } from '../src/core/onnx/reader';
import { EXAMPLES, tempDir } from './pipeline-fixtures';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const ENTRY = resolve(__dirname, '..', 'src', 'worker', 'model-worker.ts');

test('open, edit, refuse, undo/redo and save through the worker thread', async () => {
  const worker = ModelWorker.start({ modulePath: ENTRY });
  const tmp = tempDir('edit-worker-');
  try {
    const doc = await worker.open({ path: COND });
    assert.ok(doc.index.nodes.length > 1000);
    assert.deepEqual(doc.state, { version: 0, dirty: false, canUndo: false, canRedo: false, edits: [], rejected: [] });
    const nodes0 = doc.index.nodes.length;

    const s = await doc.apply({ kind: 'bypass', module: 'up_blocks.1.attentions.0' });
    assert.ok(s.now.flops < s.before.flops);
    assert.ok(doc.index.nodes.length < nodes0, 'the host holds the edited graph');
    assert.equal(doc.state.dirty, true);
    assert.deepEqual(doc.state.edits, [{ kind: 'bypass', module: 'up_blocks.1.attentions.0' }]);

    await assert.rejects(doc.apply({ kind: 'rename-node', node: '/conv_in/Conv', to: '/conv_out/Conv' }), (e: Error) => e instanceof EditRefused && /another Conv node has that name/.test(e.message) && e.subject === '/conv_in/Conv');
    assert.equal(doc.state.version, 1, 'a refused edit changes nothing');

    await doc.undo();
    assert.equal(doc.index.nodes.length, nodes0);
    assert.deepEqual(doc.state, { version: 0, dirty: false, canUndo: false, canRedo: true, edits: [], rejected: [] });
    await doc.redo();
    const saved = await doc.save(join(tmp.dir, 'edited.onnx'));
    assert.equal(saved.path, join(tmp.dir, 'edited.onnx'));
    assert.equal(doc.state.dirty, false);
    const m = await readModel(saved.path);
    assert.equal(m.graph.nodes.length, doc.index.nodes.length);

    const cands = await doc.candidates();
    assert.ok(cands.some((c) => c.id === 'down_blocks.0.resnets.0' && c.method === 'identity'));
    assert.ok(!cands.some((c) => c.id === 'up_blocks.1.attentions.0'), 'the bypassed block is gone from the candidates');
    await assert.rejects(worker.open({ path: join(tmp.dir, 'missing.onnx') }), (e: Error) => e instanceof EditRefused && e.message.includes('missing.onnx'));
    await doc.close();
  } finally {
    tmp.done();
    await worker.dispose();
  }
  assert.ok(existsSync(COND));
});
