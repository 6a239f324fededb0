// Candidates built without the whole listing: an edit of one block builds only that block's candidate
// (findCandidate), which must be exactly what a fresh listing of the same model has for that block.
// (Reusing the previous snapshot's listing after an edit was tried and dropped: slower than listing afresh.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EditableModel } from '../src/core/edit';
import { findCandidates, type Candidate } from '../src/core/surgery';
import { findCandidate } from '../src/core/surgery/candidates';
import { sdModels } from '../bench/common';
import { EXAMPLES } from './pipeline-fixtures';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const DIT = join(EXAMPLES, 'digits-dit', 'transformer', 'model.onnx');
const CORPUS_MODEL = resolve(__dirname, '..', '..', 'shared', 'corpus', 'onnx-backend', 'node', 'test_layer_normalization_3d_axis1_epsilon_expanded', 'model.onnx');
const SD = sdModels().find((p) => p.includes('sd15-unet/'));

const withoutAliases = (c: Candidate) => {
  const { aliases: _, ...rest } = c;
  return rest;
};

/** For every module: the candidate built alone is the listing's (aliases resolved to the listed one), or none for both. */
async function sameAsListing(path: string): Promise<number> {
  const a = (await EditableModel.open(path)).analysis();
  const listed = new Map<string, Candidate>();
  for (const c of findCandidates(a, { granularity: 'both' })) for (const id of [c.id, ...(c.aliases ?? [])]) listed.set(id, c);
  let built = 0;
  for (const id of a.tree.byId.keys()) {
    const alone = findCandidate(a, id, { granularity: 'both' });
    const want = listed.get(id);
    if (!want) {
      assert.equal(alone, undefined, `${path}: '${id}' is no candidate in the listing`);
      continue;
    }
    assert.ok(alone, `${path}: '${id}' is listed but was not built alone`);
    assert.deepStrictEqual(withoutAliases(alone), withoutAliases(want), `${path}: '${id}' built alone = listed`);
    if (alone.id !== id) assert.deepEqual(alone.aliases, [id], `${path}: '${id}' resolves to the listed '${alone.id}'`);
    built++;
  }
  return built;
}

test('a module\'s candidate built alone is the one the whole listing has (U-Net, DiT, corpus model)', async () => {
  assert.ok((await sameAsListing(COND)) > 50, 'digits-cond has blocks and layers');
  assert.ok((await sameAsListing(DIT)) > 5, 'the DiT has transformer blocks');
  if (existsSync(CORPUS_MODEL)) await sameAsListing(CORPUS_MODEL);
});

test('SD-1.5 U-Net: every candidate built alone is the listed one', { skip: SD ? false : 'LD_SURGEON_BENCH_MODELS has no sd15-unet' }, async () => {
  assert.ok((await sameAsListing(SD!)) > 200);
});

test('the first edit after open builds only the candidate it needs, and edits as the listing would', async () => {
  const doc = await EditableModel.open(COND);
  await doc.apply({ kind: 'bypass', module: 'down_blocks.0.attentions.0' });
  doc.undo();
  assert.equal(doc.candidatesListed, false, 'the bypass did not list the original\'s candidates');
  const listed = await EditableModel.open(COND);
  listed.candidates();
  await listed.apply({ kind: 'bypass', module: 'down_blocks.0.attentions.0' });
  doc.redo();
  assert.equal(doc.graphIndexJson(), listed.graphIndexJson(), 'the same edited model either way');
  // a refusal names the module either way
  await assert.rejects(doc.apply({ kind: 'bypass', module: 'no_such_block' }), /there is no module 'no_such_block'/);
  await assert.rejects(doc.apply({ kind: 'bypass', module: 'down_blocks.0' }), /not a block or layer that can be bypassed/);
});
