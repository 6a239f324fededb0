// "Check model" in the graph editor: the pruned-model checks on the document as it is now (unsaved
// edits included), run in the model worker against the original on seeded inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ModelWorker } from '../src/core/edit';
import { EDIT_CHECK_DIR_PREFIX } from '../src/core/work-dirs';
import { EXAMPLES } from './pipeline-fixtures';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const ENTRY = resolve(__dirname, '..', 'src', 'worker', 'model-worker.ts');
const scratch = () => readdirSync(tmpdir()).filter((n) => n.startsWith(`${EDIT_CHECK_DIR_PREFIX}`));

test('check model: an unedited digits U-Net matches the original exactly; one bypass passes with an output difference > 0', async () => {
  const worker = ModelWorker.start({ modulePath: ENTRY });
  const before = new Set(scratch());
  const doc = await worker.open({ path: COND });
  try {
    const plain = await doc.check();
    const status = (r: typeof plain, name: string) => r.checks.find((c) => c.name === name)?.status;
    assert.equal(status(plain, 'reread'), 'passed');
    assert.equal(status(plain, 'structure'), 'passed');
    assert.equal(status(plain, 'onnxruntime'), 'passed');
    assert.equal(plain.latents?.maxAbsDiff, 0);
    assert.equal(plain.latents?.identical, true);

    await doc.apply({ kind: 'bypass', module: 'up_blocks.1.attentions.0' });
    assert.equal(doc.state.dirty, true);
    const edited = await doc.check();
    assert.equal(edited.version, 1, 'the unsaved edit is what was checked');
    for (const c of edited.checks) assert.notEqual(c.status, 'failed', `${c.name}: ${c.detail}`);
    assert.equal(status(edited, 'onnxruntime'), 'passed');
    assert.ok(edited.latents!.maxAbsDiff > 0, 'the bypass changes the output');
    assert.equal(edited.latents!.finite, true);
    assert.ok(edited.latency && edited.latency.prunedMs > 0 && edited.latency.originalMs > 0);
    assert.equal(doc.state.dirty, true, 'checking does not save');
    assert.deepEqual(scratch().filter((n) => !before.has(n)), [], 'the scratch folder is removed');
  } finally {
    await doc.close();
  }
});
