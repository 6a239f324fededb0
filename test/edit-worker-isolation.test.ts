// One stuck or dead model worker request never holds up the graph: every document has a thread of its
// own, a request past its time limit stops its thread and fails naming the file, a thread that dies
// fails its requests, and the next request re-opens the document with its edits. The worker is made to
// hang or exit through its test hook (LD_SURGEON_TEST_MODEL_WORKER, read when a thread starts).
// Also: "open node" and the inspector's weight statistics made in the worker equal the host's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ModelWorker, ModelWorkerStopped } from '../src/core/edit';
import { analyzeModel } from '../src/core/graph';
import { perSampleInputShapes } from '../src/core/graph/input-shapes';
import { nodeDefinition } from '../src/core/graph/node-definition';
import { findTensor, tensorStats } from '../src/core/graph/tensor-stats';
import { readModel } from '../src/core/onnx/reader';
import { EXAMPLES, tempDir } from './pipeline-fixtures';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const ENTRY = resolve(__dirname, '..', 'src', 'worker', 'model-worker.ts');
const BLOCK = 'up_blocks.1.attentions.0';
const HOOK = 'LD_SURGEON_TEST_MODEL_WORKER';

/** A copy of the conditional U-Net in `<dir>/<folder>/model.onnx` (with its config.json). */
function copyUnet(dir: string, folder: string): string {
  mkdirSync(join(dir, folder));
  for (const f of ['model.onnx', 'config.json']) copyFileSync(join(EXAMPLES, 'digits-cond', 'unet', f), join(dir, folder, f));
  return join(dir, folder, 'model.onnx');
}

/** Starts a worker whose threads see the hook `value` (threads copy the environment when they start). */
function hooked<T>(value: string, fn: () => Promise<T>): Promise<T> {
  process.env[HOOK] = value;
  return fn().finally(() => delete process.env[HOOK]);
}

test('an open that hangs fails at its time limit naming the file, a second file opens meanwhile, and the next open works', async () => {
  const tmp = tempDir('edit-worker-hang-');
  const worker = ModelWorker.start({ modulePath: ENTRY, timeoutMs: 20_000 });
  try {
    const stuckFile = copyUnet(tmp.dir, 'stuck');
    const order: string[] = [];
    const stuck = hooked(`hang:open:${join(tmp.dir, 'stuck')}`, async () => {
      const p = worker.open({ path: stuckFile });
      // the stuck thread has started with the hook; the next open's thread must not see it
      delete process.env[HOOK];
      return p;
    }).then(
      () => assert.fail('the stuck open resolved'),
      (e: Error) => {
        order.push('stuck failed');
        return e;
      },
    );
    const other = await worker.open({ path: COND });
    order.push('second opened');
    assert.ok(other.index.nodes.length > 1000);
    const e = await stuck;
    assert.deepEqual(order, ['second opened', 'stuck failed'], 'the second file did not wait behind the stuck one');
    assert.ok(e instanceof ModelWorkerStopped && e.timedOut, String(e));
    assert.ok(e.message.includes(`did not finish opening ${stuckFile} within 20 s`), e.message);

    const again = await worker.open({ path: stuckFile });
    assert.equal(again.index.nodes.length, other.index.nodes.length, 'the next open of the same file works');
    const s = await other.apply({ kind: 'bypass', module: BLOCK });
    assert.ok(s.now.flops < s.before.flops, 'the other document takes edits as before');
  } finally {
    await worker.dispose();
    tmp.done();
  }
});

test('a request that hangs on an open document times out; the document answers again, edits kept', async () => {
  const tmp = tempDir('edit-worker-hang-doc-');
  const worker = ModelWorker.start({ modulePath: ENTRY, timeoutMs: 8_000 });
  try {
    const file = copyUnet(tmp.dir, 'unet');
    const doc = await hooked(`hang:candidates:${file}`, () => worker.open({ path: file }));
    const nodes0 = doc.index.nodes.length;
    await doc.apply({ kind: 'bypass', module: BLOCK });
    const edited = doc.index.nodes.length;
    assert.ok(edited < nodes0);
    await assert.rejects(doc.candidates(), (e: Error) => e instanceof ModelWorkerStopped && e.timedOut && e.message.includes(`'candidates' on ${file} within 8 s`));

    // a fresh thread (without the hook now) re-opens the file and re-applies the bypass
    const cands = await doc.candidates();
    assert.ok(!cands.some((c) => c.id === BLOCK), 'the re-opened document has the bypass');
    assert.equal(doc.index.nodes.length, edited);
    assert.deepEqual(doc.state.edits, [{ kind: 'bypass', module: BLOCK }]);
    await doc.undo();
    assert.equal(doc.index.nodes.length, nodes0, 'undo reaches the original');
    await doc.close();
  } finally {
    await worker.dispose();
    tmp.done();
  }
});

test('a thread that dies during an edit fails the edit naming the file; the next request re-opens the document with its edits', async () => {
  const tmp = tempDir('edit-worker-exit-');
  const worker = ModelWorker.start({ modulePath: ENTRY });
  try {
    const file = copyUnet(tmp.dir, 'unet');
    const doc = await hooked(`exit:apply:${file}`, () => worker.open({ path: file, replay: [{ kind: 'bypass', module: BLOCK }] }));
    const edited = doc.index.nodes.length;
    await assert.rejects(
      doc.apply({ kind: 'bypass', module: 'down_blocks.0.resnets.0' }),
      (e: Error) => e instanceof ModelWorkerStopped && !e.timedOut && e.message.includes(`stopped (exit code 70) while 'apply' on ${file}; the next step opens the model again with its 1 edit`),
    );
    assert.equal(doc.index.nodes.length, edited, 'the failed edit changed nothing');
    const s = await doc.undo();
    assert.ok(s, 'undo went to a re-opened document');
    assert.deepEqual(doc.state.edits, []);
    assert.ok(doc.index.nodes.length > edited, 'the undo took the replayed bypass back');
    await doc.close();
  } finally {
    await worker.dispose();
    tmp.done();
  }
});

test('a document re-opened after its thread died keeps its redo stack and saved position: Redo, Revert and dirty as before', async () => {
  const tmp = tempDir('edit-worker-history-');
  const worker = ModelWorker.start({ modulePath: ENTRY });
  try {
    const file = copyUnet(tmp.dir, 'unet');
    const [A, B, C] = [{ kind: 'bypass', module: BLOCK }, { kind: 'bypass', module: 'down_blocks.0.resnets.0' }, { kind: 'bypass', module: 'mid_block.attentions.0' }] as const;
    const doc = await hooked(`exit:candidates:${file}`, () => worker.open({ path: file }));
    const nodes = [doc.index.nodes.length];
    await doc.apply(A);
    await doc.apply(B);
    nodes.push(doc.index.nodes.length);
    await doc.save(join(tmp.dir, 'saved.onnx'));
    await doc.apply(C);
    nodes.push(doc.index.nodes.length);
    await doc.undo();
    await doc.undo();
    assert.deepEqual([doc.state.version, doc.state.dirty, doc.state.canRedo], [1, true, true]);

    // the thread dies; the next request re-opens the document
    await assert.rejects(doc.candidates(), (e: Error) => e instanceof ModelWorkerStopped && !e.timedOut);
    await doc.candidates();
    assert.deepEqual([doc.state.version, doc.state.dirty, doc.state.canUndo, doc.state.canRedo], [1, true, true, true], 'where it stood, with Redo');
    assert.deepEqual(doc.state.edits, [A]);
    await doc.redo();
    assert.deepEqual([doc.state.version, doc.state.dirty], [2, false], 'Redo reaches the saved state: clean again');
    assert.equal(doc.index.nodes.length, nodes[1]);
    await doc.redo();
    assert.deepEqual([doc.state.version, doc.state.dirty, doc.state.canRedo], [3, true, false]);
    assert.equal(doc.index.nodes.length, nodes[2]);
    await doc.revert();
    assert.deepEqual([doc.state.version, doc.state.dirty], [2, false], 'Revert goes to the saved state, not to the file');
    assert.equal(doc.index.nodes.length, nodes[1]);
    await doc.close();

    // a saved state that was undone and overwritten stays unreachable: Revert goes to the file, Redo still works
    const doc2 = await hooked(`exit:candidates:${file}`, () => worker.open({ path: file }));
    await doc2.apply(A);
    await doc2.save(join(tmp.dir, 'saved2.onnx'));
    await doc2.undo();
    await doc2.apply(B);
    await assert.rejects(doc2.candidates(), (e: Error) => e instanceof ModelWorkerStopped);
    await doc2.candidates();
    assert.deepEqual([doc2.state.version, doc2.state.dirty, doc2.state.edits], [1, true, [B]]);
    await doc2.revert();
    assert.deepEqual([doc2.state.version, doc2.state.dirty, doc2.index.nodes.length], [0, true, nodes[0]], 'no saved state to go back to: the file, still dirty');
    await doc2.redo();
    assert.deepEqual(doc2.state.edits, [B]);
    await doc2.close();
  } finally {
    await worker.dispose();
    tmp.done();
  }
});

test('a file-level request (no editor open on it) that hangs times out, and the shared thread starts again', async () => {
  const tmp = tempDir('edit-worker-hang-shared-');
  const worker = ModelWorker.start({ modulePath: ENTRY, timeoutMs: 8_000 });
  try {
    const file = copyUnet(tmp.dir, 'unet');
    await hooked(`hang:modules:${file}`, () => assert.rejects(worker.modules(file), (e: Error) => e instanceof ModelWorkerStopped && e.timedOut && e.message.includes(`'modules' on ${file}`)));
    assert.ok((await worker.modules(file)).length > 10);
  } finally {
    await worker.dispose();
    tmp.done();
  }
});

test("open node and weight statistics from the worker equal the host's, and follow the open document's edits", async () => {
  const worker = ModelWorker.start({ modulePath: ENTRY });
  try {
    const m = await readModel(COND);
    const a = await analyzeModel(m, { inputShapes: perSampleInputShapes(m) });
    const conv = a.view.nodeById('/conv_in/Conv');
    assert.ok(conv, 'the U-Net has /conv_in/Conv');
    assert.deepEqual(await worker.node(COND, '/conv_in/Conv'), nodeDefinition(a, '/conv_in/Conv'));
    const weight = conv.inputs[1];
    const stats = await worker.weightStats(COND, weight);
    assert.deepEqual(stats, await tensorStats(findTensor(a, weight)!, COND));
    assert.ok(stats.count > 100 && stats.std > 0);
    await assert.rejects(worker.node(COND, 'no-such-node'), /has no node 'no-such-node'/);
    await assert.rejects(worker.weightStats(COND, 'no-such-tensor'), /has no constant tensor 'no-such-tensor'/);

    const doc = await worker.open({ path: COND });
    await doc.apply({ kind: 'rename-node', node: '/conv_in/Conv', to: '/conv_in/Renamed' });
    const renamed = await worker.node(COND, '/conv_in/Renamed');
    assert.equal(renamed.op, 'Conv', 'the open document, as edited, answers');
    await assert.rejects(worker.node(COND, '/conv_in/Conv'), /has no node/);
    await doc.close();
    assert.equal((await worker.node(COND, '/conv_in/Conv')).op, 'Conv', 'closed: the file again');
  } finally {
    await worker.dispose();
  }
});
