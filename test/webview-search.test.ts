// Search in the graph view's toolbar (webview-ui/src/model/search.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ViewGraph } from '../webview-ui/src/model/graph';
import { buildSearchIndex, normalise, searchGraph } from '../webview-ui/src/model/search';
import { tinyUnet } from './webview-fixture';

const entries = buildSearchIndex(new ViewGraph(tinyUnet()));
const ids = (q: string, n = 5) => searchGraph(entries, q, n).map((h) => h.entry.id);

test('an exact module path ranks first, then paths ending in it, then paths containing it', () => {
  assert.equal(ids('down.0.resnets.0')[0], 'down.0.resnets.0');
  const conv1 = ids('conv1', 10);
  assert.deepEqual(conv1.slice(0, 2), ['up.0.resnets.0.conv1', 'down.0.resnets.0.conv1'], 'modules named conv1 first, shorter path first');
  assert.ok(conv1.includes('/down.0/resnets.0/conv1/Conv'), 'and the operators inside them');
});

test('node names in scope form and module paths in dotted form find each other', () => {
  assert.equal(normalise('/down.0/resnets.0/conv1/Conv'), 'down.0.resnets.0.conv1.conv');
  assert.ok(ids('/down.0/resnets.0').includes('down.0.resnets.0'));
  assert.ok(ids('down.0.resnets.0.norm1.reshape_1').includes('/down.0/resnets.0/norm1/Reshape_1'));
});

test('every term must match; case does not matter; operator types are found', () => {
  assert.deepEqual(ids('UP conv1 Conv'), ['up.0.resnets.0.conv1', '/up.0/resnets.0/conv1/Conv']);
  assert.deepEqual(ids('time_emb_proj mid'), ['mid.resnets.0.time_emb_proj', '/mid/resnets.0/time_emb_proj/Gemm']);
  assert.ok(ids('softmax').includes('/mid/attentions.0/Softmax'));
  assert.deepEqual(ids('nothing-like-this'), []);
  assert.deepEqual(ids('   '), []);
});

test('hidden exporter noise is not offered, and results are capped', () => {
  assert.ok(!ids('norm1', 50).some((id) => id.endsWith('/Constant') || id.endsWith('/Shape')));
  assert.equal(searchGraph(entries, '0', 3).length, 3);
});
