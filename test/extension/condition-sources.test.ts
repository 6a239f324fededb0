// The conditions pick for an SDXL pipeline offers prompts only (its U-Net's pooled text_embeds come from prompts
// through both text encoders: token ids and an embeddings .npy would be refused right after being picked); an
// SD-style pipeline gets every source.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { conditionSourceItems } from '../../src/extension/conditionSources';
import { parseConditionSetting } from '../../src/core/pipeline/conditions';

test('conditions pick: SDXL offers the default prompts and a prompts file; SD every source the setting accepts', () => {
  assert.deepEqual(conditionSourceItems(true).map((i) => i.source), ['default', 'promptsFile']);
  assert.ok(conditionSourceItems(true).every((i) => /both text encoders/.test(i.detail ?? '')), 'each SDXL item says how its prompts are encoded');
  const all = conditionSourceItems(false).map((i) => i.source);
  assert.deepEqual(all, ['default', 'promptsFile', 'tokenIds', 'embeddings']);
  for (const source of all) assert.equal(parseConditionSetting({ source, file: 'x.npy', ids: '1,2' }).source, source);
});
