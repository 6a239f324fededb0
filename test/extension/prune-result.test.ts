// The prune result card's message: a prune that failed before writing its record shows the model's parameter
// count when it can be read, and says why when it cannot — never "0 → 0 parameters".
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pruneResultMessage } from '../../src/extension/prune/pruneResult';
import { parseToWebview } from '../../src/protocol/webview';
import { analyzeModel } from '../../src/core/graph';
import { readModel } from '../../src/core/onnx/reader';

const ROOT = path.resolve(__dirname, '..', '..');

/** the params lookup as the model worker makes it (the model's analysis), without the worker */
async function paramsOf(file: string): Promise<number> {
  const a = await analyzeModel(await readModel(file));
  return a.total.get(a.tree.root)!.params;
}

test('a failed prune whose model cannot be read says so and claims no parameter count', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'prune-result-'));
  const broken = path.join(dir, 'broken.onnx');
  writeFileSync(broken, Buffer.from('not a model'));
  const msg = await pruneResultMessage({ ok: false, record: undefined, error: 'prune exited with code 1', modelParams: () => paramsOf(broken) });
  assert.equal(msg.type, 'pruneResult');
  if (msg.type !== 'pruneResult') return;
  assert.equal(msg.paramsBefore, undefined);
  assert.equal(msg.paramsAfter, undefined);
  assert.match(msg.paramsUnknown ?? '', /^parameter count not read: .*broken\.onnx/);
  assert.equal(msg.error, 'prune exited with code 1');
  // the webview accepts it as sent
  assert.deepEqual(parseToWebview(JSON.parse(JSON.stringify(msg))), JSON.parse(JSON.stringify(msg)));
});

test('a failed prune of a readable model shows its count, unchanged', async () => {
  const model = path.join(ROOT, 'examples', 'digits-uncond', 'unet', 'model.onnx');
  const msg = await pruneResultMessage({ ok: false, record: undefined, error: 'cancelled checks', modelParams: () => paramsOf(model) });
  if (msg.type !== 'pruneResult') return assert.fail(msg.type);
  assert.ok(msg.paramsBefore! > 1000, `params ${msg.paramsBefore}`);
  assert.equal(msg.paramsAfter, msg.paramsBefore);
  assert.equal(msg.paramsUnknown, undefined);
});

test('the protocol refuses a result with neither counts nor a reason', () => {
  assert.throws(() => parseToWebview({ type: 'pruneResult', ok: false, checks: [], removedIds: [] }), /paramsUnknown/);
});
