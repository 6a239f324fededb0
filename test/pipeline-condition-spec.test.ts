// The conditions a user names (CLI flags or the ldSurgeon.conditions setting) → the worker's
// ConditionInput, checked at once: a bad prompts file, id row or .npy is reported before any
// model runs, naming the file or the setting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkConditionsForPipeline, conditionInputFromSpec, conditionSpecFromFlags, describeConditions, parseConditionSetting,
} from '../src/core/pipeline/conditions';
import { readPipelineLayout } from '../src/core/pipeline/layout';
import { encodeNpy } from '../src/core/npy';
import { UserError } from '../src/core/errors';
import { copyPipeline, DIGITS_COND, DIGITS_XL, tempDir } from './pipeline-fixtures';

const userError = (re: RegExp) => (e: Error) => e instanceof UserError && re.test(e.message);

test('the setting: default when unset; each source needs its field; unknown sources are named', () => {
  assert.deepEqual(parseConditionSetting(undefined), { source: 'default' });
  assert.deepEqual(parseConditionSetting({}), { source: 'default' });
  assert.deepEqual(parseConditionSetting({ source: 'promptsFile', file: ' prompts.txt ' }), { source: 'promptsFile', file: 'prompts.txt' });
  assert.deepEqual(parseConditionSetting({ source: 'tokenIds', ids: '1,2;3' }), { source: 'tokenIds', ids: '1,2;3' });
  assert.deepEqual(parseConditionSetting({ source: 'embeddings', file: 'c.npy' }), { source: 'embeddings', file: 'c.npy' });
  assert.throws(() => parseConditionSetting({ source: 'promptsFile' }), userError(/^ldSurgeon\.conditions: source "promptsFile" needs "file"/));
  assert.throws(() => parseConditionSetting({ source: 'tokenIds', ids: '' }), userError(/needs "ids" \(token id rows/));
  assert.throws(() => parseConditionSetting({ source: 'captions' }), userError(/unknown source "captions" \(expected default, promptsFile, tokenIds, embeddings\)/));
  assert.throws(() => parseConditionSetting(['a']), userError(/expected an object/));
});

test('CLI flags: one source at most', () => {
  assert.deepEqual(conditionSpecFromFlags({ prompt: [] }), { source: 'default' });
  assert.deepEqual(conditionSpecFromFlags({ prompt: ['a cat'] }), { source: 'prompts', prompts: ['a cat'] });
  assert.deepEqual(conditionSpecFromFlags({ promptsFile: 'p.txt' }), { source: 'promptsFile', file: 'p.txt' });
  assert.throws(() => conditionSpecFromFlags({ prompt: ['a'], conditions: 'c.npy' }), userError(/only one of --prompt, --prompts-file, --condition-ids, --conditions/));
});

test('a prompts file: one prompt a line, comments and blank lines skipped, resolved against the base folder', () => {
  const t = tempDir('cond-spec-');
  try {
    mkdirSync(join(t.dir, 'conds'));
    writeFileSync(join(t.dir, 'conds', 'prompts.txt'), '# digits\r\na digit seven\r\n\r\n  a digit two  \n');
    const input = conditionInputFromSpec({ source: 'promptsFile', file: join('conds', 'prompts.txt') }, t.dir);
    assert.deepEqual(input, { kind: 'prompts', prompts: ['a digit seven', 'a digit two'], file: join(t.dir, 'conds', 'prompts.txt') });
    assert.equal(describeConditions(input), '2 prompts from prompts.txt ("a digit seven", …)');

    writeFileSync(join(t.dir, 'empty.txt'), '# nothing\n\n');
    writeFileSync(join(t.dir, 'binary.txt'), Buffer.from([0x93, 0x4e, 0x00, 0x50]));
    assert.throws(() => conditionInputFromSpec({ source: 'promptsFile', file: 'missing.txt' }, t.dir), userError(new RegExp(`^${join(t.dir, 'missing.txt')}: prompts file not found`)));
    assert.throws(() => conditionInputFromSpec({ source: 'promptsFile', file: 'empty.txt' }, t.dir), userError(/empty\.txt: no prompts/));
    assert.throws(() => conditionInputFromSpec({ source: 'promptsFile', file: 'binary.txt' }, t.dir), userError(/binary\.txt: not a text file/));
    assert.throws(() => conditionInputFromSpec({ source: 'promptsFile', file: 'conds' }, t.dir), userError(/conds: not a file/));
  } finally {
    t.done();
  }
});

test('token ids and embeddings are checked before anything runs', () => {
  const t = tempDir('cond-spec-');
  try {
    assert.deepEqual(conditionInputFromSpec({ source: 'tokenIds', ids: '1, 5,7; 1,5,8' }), { kind: 'ids', ids: [[1, 5, 7], [1, 5, 8]] });
    assert.throws(() => conditionInputFromSpec({ source: 'tokenIds', ids: '1,x' }), userError(/"x" is not a token id/));
    assert.equal(describeConditions({ kind: 'ids', ids: [[1], [2], [3]] }), '3 token id rows');

    writeFileSync(join(t.dir, 'good.npy'), encodeNpy(new Float32Array(2 * 3 * 4), [2, 3, 4]));
    writeFileSync(join(t.dir, 'flat.npy'), encodeNpy(new Float32Array(5), [5]));
    writeFileSync(join(t.dir, 'text.npy'), 'not numpy');
    const good = conditionInputFromSpec({ source: 'embeddings', file: 'good.npy' }, t.dir);
    assert.deepEqual(good, { kind: 'embeddings', file: join(t.dir, 'good.npy') });
    assert.equal(describeConditions(good), 'embeddings from good.npy');
    assert.throws(() => conditionInputFromSpec({ source: 'embeddings', file: 'flat.npy' }, t.dir), userError(/flat\.npy: conditions must be encoder hidden states \[N, L, D\].*\[5\]/));
    assert.throws(() => conditionInputFromSpec({ source: 'embeddings', file: 'text.npy' }, t.dir), userError(/text\.npy/));
    assert.throws(() => conditionInputFromSpec({ source: 'embeddings', file: 'nope.npy' }, t.dir), userError(/nope\.npy: embeddings file not found/));
    assert.throws(() => conditionInputFromSpec({ source: 'embeddings', file: 'prompts.txt' }, t.dir), userError(/prompts\.txt: conditions must be a \.npy file/));
  } finally {
    t.done();
  }
});

test('the conditions line names what was used, including a scored record', () => {
  assert.equal(describeConditions({ kind: 'default' }), "the pipeline's default prompts");
  assert.equal(describeConditions({ kind: 'none' }), 'unconditional');
  assert.equal(describeConditions({ kind: 'prompts', prompts: ['a photograph of an astronaut riding a horse on the moon at night'] }),
    '1 prompt ("a photograph of an astronaut riding a h…")');
});

test('conditions are checked against the pipeline before a job starts: tokenizer, text encoder, row length', { skip: !existsSync(DIGITS_COND) && 'examples/digits-cond is not there' }, () => {
  const t = tempDir('cond-check-');
  try {
    const layout = readPipelineLayout(DIGITS_COND);
    checkConditionsForPipeline(layout, { kind: 'prompts', prompts: ['a digit seven'] });
    checkConditionsForPipeline(layout, { kind: 'ids', ids: [[1, 4, 6, 17, 2]] });
    assert.throws(() => checkConditionsForPipeline(layout, { kind: 'ids', ids: [[1, 2], new Array(9).fill(4)] }), userError(/row 2 has 9 ids; the tokenizer's model_max_length is 8/));

    const broken = copyPipeline(DIGITS_COND, t.dir);
    writeFileSync(join(broken, 'tokenizer', 'tokenizer.json'), '{"model": {"type": "WordPieceish", "vocab": {}}}');
    assert.throws(() => checkConditionsForPipeline(readPipelineLayout(broken), { kind: 'default' }), userError(/tokenizer\.json: tokenizer model type "WordPieceish" is not supported/));
    rmSync(join(broken, 'tokenizer'), { recursive: true });
    assert.throws(() => checkConditionsForPipeline(readPipelineLayout(broken), { kind: 'default' }), userError(/prompts need a tokenizer .*use token ids or an embeddings \.npy/));
    checkConditionsForPipeline(readPipelineLayout(broken), { kind: 'ids', ids: [[1, 2]] });
    rmSync(join(broken, 'text_encoder'), { recursive: true });
    assert.throws(() => checkConditionsForPipeline(readPipelineLayout(broken), { kind: 'ids', ids: [[1, 2]] }), userError(/token ids need text_encoder\/model\.onnx/));
    checkConditionsForPipeline(readPipelineLayout(broken), { kind: 'embeddings', file: 'x.npy' });
  } finally {
    t.done();
  }
});

test('an SDXL pipeline: prompts are checked with both tokenizers before a job starts; ids and embeddings are refused', { skip: !existsSync(DIGITS_XL) && 'examples/digits-xl is not there' }, () => {
  const t = tempDir('cond-check-xl-');
  try {
    checkConditionsForPipeline(readPipelineLayout(DIGITS_XL), { kind: 'prompts', prompts: ['a digit seven'] });
    assert.throws(() => checkConditionsForPipeline(readPipelineLayout(DIGITS_XL), { kind: 'ids', ids: [[1, 4, 6, 17, 2]] }), userError(/SDXL pipeline .*token ids carry no pooled text embedding/));
    // tokenizer 1 is fine, tokenizer_2 is not: the check says so up front, naming tokenizer_2's file
    const broken = copyPipeline(DIGITS_XL, t.dir);
    const cfg = join(broken, 'tokenizer_2', 'tokenizer_config.json');
    writeFileSync(cfg, JSON.stringify({ type: 'word-level', pad_token: '<pad>', bos_token: '<start>', eos_token: '<end>', unk_token: '<unk>' }));
    assert.throws(() => checkConditionsForPipeline(readPipelineLayout(broken), { kind: 'prompts', prompts: ['a digit seven'] }), userError(/tokenizer_2[\\/]tokenizer_config\.json: model_max_length is missing/));
  } finally {
    t.done();
  }
});
