// The model worker rehearses a throwaway edit while idle after an open (EditableModel.rehearse), so the
// user's first edit does not run cold code. A rehearsal must never change the document (version, edits,
// undo/redo, dirty, the index and patches a view receives), wherever a real request interrupts it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EditableModel, ModelWorker, type ModelEdit } from '../src/core/edit';
import type { GraphIndex } from '../src/core/graph';
import { EXAMPLES } from './pipeline-fixtures';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const ENTRY = resolve(__dirname, '..', 'src', 'worker', 'model-worker.ts');

/** Everything a host or view learns of a document. */
function seen(d: EditableModel) {
  return { version: d.version, edits: d.edits, canUndo: d.canUndo, canRedo: d.canRedo, dirty: d.dirty, rejected: [...d.rejected], index: d.graphIndexJson() };
}

test('a whole rehearsal changes nothing the host or a view sees, at any position of the stack', async () => {
  const d = await EditableModel.open(COND);
  const control = await EditableModel.open(COND);
  for (const x of [d, control]) {
    await x.apply({ kind: 'bypass', module: 'up_blocks.1.attentions.0' });
    x.markSaved();
    await x.apply({ kind: 'rename-node', node: '/conv_in/Conv', to: 'stem' });
    x.undo(); // a redo is waiting; dirty back at the saved state
  }
  const before = seen(d);
  let rounds = 0;
  let steps = 0;
  for (const y of d.rehearse(3)) {
    steps++;
    if (y === 'round') rounds++;
  }
  assert.equal(rounds, 3, 'three throwaway edits were made');
  assert.ok(steps > 10);
  assert.deepEqual(seen(d), before);
  // the models themselves (what Save writes), not only what was sent of them: no snapshot was touched
  assert.deepEqual(d.model, control.model);
  // what the next changes send is what a document that never rehearsed sends
  assert.deepEqual(d.redo(), control.redo());
  assert.deepEqual(d.model, control.model);
  assert.deepEqual(d.graphIndexPatch(1), control.graphIndexPatch(1));
  assert.deepEqual(d.undo(), control.undo());
  assert.deepEqual(d.graphIndexPatch(2), control.graphIndexPatch(2));
  const e: ModelEdit = { kind: 'bypass', module: 'down_blocks.1.attentions.0' };
  assert.deepEqual(await d.apply(e), await control.apply(e));
  assert.deepEqual(d.graphIndexPatch(1), control.graphIndexPatch(1));
  assert.deepEqual(seen(d), seen(control));
});

test('an edit, undo or redo made between any two steps of a rehearsal is what it is without one', async () => {
  const d = await EditableModel.open(COND);
  const control = await EditableModel.open(COND);
  const total = [...(await EditableModel.open(COND)).rehearse(2)].length; // a bypass, then a rename of its result
  const edits: ModelEdit[] = [
    { kind: 'bypass', module: 'up_blocks.1.attentions.0' },
    { kind: 'rename-node', node: '/conv_in/Conv', to: 'stem' },
  ];
  for (let k = 0; k <= total; k++) {
    const steps = d.rehearse(2);
    for (let i = 0; i < k; i++) steps.next();
    const e = edits[k % edits.length];
    assert.deepEqual(await d.apply(e), await control.apply(e), `an edit after step ${k}`);
    assert.deepEqual(d.graphIndexPatch(d.version - 1), control.graphIndexPatch(control.version - 1));
    // the rest of the rehearsal (the worker drops it; going on must not matter either)
    for (const _ of steps);
    assert.deepEqual(seen(d), seen(control), `after step ${k} and the rest of the rehearsal`);
    const rest = d.rehearse(1);
    rest.next();
    rest.next();
    assert.deepEqual(d.undo(), control.undo());
    assert.deepEqual(d.graphIndexPatch(d.version + 1), control.graphIndexPatch(control.version + 1));
    for (const _ of rest);
    assert.deepEqual(d.redo(), control.redo());
    assert.deepEqual(d.undo(), control.undo());
    assert.deepEqual(seen(d), seen(control));
  }
});

test('requests that arrive while the worker rehearses are answered as without a rehearsal', async () => {
  // each rehearsal step blocks the worker 150 ms: a request sent 450 ms after a reply lands in one
  process.env.LD_SURGEON_TEST_WARM_STEP_MS = '150';
  const worker = ModelWorker.start({ modulePath: ENTRY });
  const pause = () => new Promise((r) => setTimeout(r, 450));
  try {
    const control = await EditableModel.open(COND);
    const doc = await worker.open({ path: COND }); // the document's thread starts here, with the hook
    delete process.env.LD_SURGEON_TEST_WARM_STEP_MS;
    assert.equal(doc.indexJson, control.graphIndexJson());
    const check = (label: string) => {
      assert.deepEqual(doc.state, { version: control.version, dirty: control.dirty, canUndo: control.canUndo, canRedo: control.canRedo, edits: control.edits, rejected: [...control.rejected] }, label);
      assert.deepEqual(doc.index, JSON.parse(control.graphIndexJson()) as GraphIndex, label);
    };
    await pause();
    const e: ModelEdit = { kind: 'bypass', module: 'up_blocks.1.attentions.0' };
    assert.deepEqual(await doc.apply(e), await control.apply(e));
    check('edit');
    await pause();
    assert.deepEqual(await doc.undo(), control.undo());
    check('undo');
    await pause();
    const r: ModelEdit = { kind: 'rename-node', node: '/conv_in/Conv', to: 'stem' };
    assert.deepEqual(await doc.apply(r), await control.apply(r));
    check('rename');
  } finally {
    delete process.env.LD_SURGEON_TEST_WARM_STEP_MS;
    await worker.dispose();
  }
});

// models nobody here made: the ONNX backend corpus's converted PyTorch models (a rehearsal there bypasses
// or renames whatever they have, and must leave each document exactly as it was)
const CORPUS = resolve(__dirname, '..', '..', 'shared', 'corpus', 'onnx-backend', 'pytorch-converted');
test('a rehearsal leaves every converted PyTorch model of the ONNX backend corpus as it was', { skip: existsSync(CORPUS) ? false : `no corpus at ${CORPUS}` }, async () => {
  let rehearsedEdits = 0;
  const names = readdirSync(CORPUS).filter((n) => existsSync(join(CORPUS, n, 'model.onnx'))).sort();
  assert.ok(names.length > 20, `${names.length} corpus models`);
  for (const name of names) {
    const path = join(CORPUS, name, 'model.onnx');
    const d = await EditableModel.open(path);
    const control = await EditableModel.open(path);
    const before = seen(d);
    for (const y of d.rehearse(2)) if (y === 'round') rehearsedEdits++;
    assert.deepEqual(seen(d), before, name);
    assert.deepEqual(d.model, control.model, name);
  }
  assert.ok(rehearsedEdits >= names.length, `${rehearsedEdits} throwaway edits over ${names.length} models`);
});
