// Tokenizers: CLIP's byte-level BPE on a tiny handmade vocabulary (expected ids worked out by
// hand from the published algorithm) and our word-level format, both run through
// @huggingface/tokenizers after translation to tokenizer.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clipTokenizerJson, HfTokenizer, loadTokenizer } from '../src/core/pipeline/tokenizers';
import { UserError } from '../src/core/errors';

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tok-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const CLIP_VOCAB = {
  '<|startoftext|>': 0, '<|endoftext|>': 1, a: 2, b: 3, c: 4, 'a</w>': 5, 'b</w>': 6, 'c</w>': 7, ab: 8, 'ab</w>': 9,
  'abc</w>': 10, '!</w>': 11, "'s</w>": 12, '1</w>': 13, '2</w>': 14, "'": 15, 's</w>': 16,
  // '€' is UTF-8 E2 82 AC; bytes_to_unicode maps E2 → 'â', 82 (not printable) → U+0124 'Ĥ', AC → '¬'
  'â': 17, 'Ĥ': 18, '¬</w>': 19, 'âĤ': 20, 'âĤ¬</w>': 21,
  '&</w>': 22, m: 23, 'p</w>': 24, ';</w>': 25, 'Ã': 26, '©</w>': 27,
};
const CLIP_MERGES = ['#version: 0.2', 'a b', 'ab c</w>', "' s</w>", 'â Ĥ', 'âĤ ¬</w>', ''].join('\n');

test('CLIP BPE: NFC + whitespace + lower-case, regex pre-tokenization, merges by rank, bos/eos and padding to model_max_length', () => {
  const dir = folder({
    'vocab.json': JSON.stringify(CLIP_VOCAB),
    'merges.txt': CLIP_MERGES,
    'tokenizer_config.json': JSON.stringify({ model_max_length: 12, bos_token: { content: '<|startoftext|>' }, eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' }),
  });
  try {
    const tok = loadTokenizer(dir);
    assert.equal(tok.kind, 'clip-bpe');
    // "ABC" → a b c</w> → (a b) → ab c</w> → (ab c</w>) → abc</w>; "ab" → a b</w> (no "a b</w>" merge);
    // "!" alone; "c's" splits as c + 's; digits are single pre-tokens
    assert.deepEqual(tok.encode('  ABC\tab!  c\'s 12 '), [0, 10, 2, 6, 11, 7, 12, 13, 14, 1, 1, 1]);
    // CLIPTokenizerFast's normalizer: whitespace collapsed, lower-cased, NFC; HTML entities stay text
    const fast = tok as HfTokenizer;
    assert.deepEqual(fast.tokenize(' A &amp;  B\n'), ['a</w>', '&</w>', 'a', 'm', 'p</w>', ';</w>', 'b</w>']);
    assert.deepEqual(tok.encode('E\u0301'), tok.encode('\u00e9'), 'e + combining acute composes to é (UTF-8 C3 A9 → Ã ©)');
    assert.deepEqual(tok.encode('\u00e9').slice(0, 3), [0, 26, 27]);
    assert.deepEqual(tok.encode('€'), [0, 21, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 'bytes map through the GPT-2 byte table');
    assert.deepEqual(tok.encode(''), [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const long = tok.encode('a '.repeat(30));
    assert.equal(long.length, 12);
    assert.deepEqual(long, [0, ...new Array(10).fill(5), 1], 'truncated to 10 tokens, eos kept last');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLIP BPE: symbols outside the vocabulary map to unk; a bad merges line is a UserError', () => {
  const special = { bos: '<|startoftext|>', eos: '<|endoftext|>', unk: '<|endoftext|>' };
  const tok = new HfTokenizer(clipTokenizerJson(new Map(Object.entries(CLIP_VOCAB)), [['a', 'b']], special), { kind: 'clip-bpe', source: 'clip', maxLength: 6, padToken: '<|endoftext|>' });
  assert.deepEqual(tok.encode('zz'), [0, 1, 1, 1, 1, 1], 'z and z</w> are unknown → unk (= endoftext here)');
  const dir = folder({ 'vocab.json': JSON.stringify(CLIP_VOCAB), 'merges.txt': '#version: 0.2\na b c\n' });
  try {
    assert.throws(() => loadTokenizer(dir), (e: Error) => e instanceof UserError && /merges\.txt: line 2/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const WORD_VOCAB = { '<pad>': 0, '<start>': 1, '<end>': 2, '<unk>': 3, a: 4, digit: 5, seven: 6, two: 7 };

test('word-level: lower-case, punctuation → spaces, unknown → <unk>, [bos] ids [eos] [pad]…, truncation keeps eos', () => {
  const cfg = { type: 'word-level', model_max_length: 6, pad_token: '<pad>', bos_token: '<start>', eos_token: '<end>', unk_token: '<unk>',
    example: { prompt: 'a digit seven', input_ids: [1, 4, 5, 6, 2, 0] } };
  const dir = folder({ 'vocab.json': JSON.stringify(WORD_VOCAB), 'tokenizer_config.json': JSON.stringify(cfg) });
  try {
    const tok = loadTokenizer(dir);
    assert.equal(tok.kind, 'word-level');
    assert.deepEqual(tok.encode('A, Digit: SEVEN!'), [1, 4, 5, 6, 2, 0]);
    assert.deepEqual(tok.encode('a purple two'), [1, 4, 3, 7, 2, 0]);
    assert.deepEqual(tok.encode(''), [1, 2, 0, 0, 0, 0]);
    assert.deepEqual(tok.encode('a digit seven two two'), [1, 4, 5, 6, 7, 2]);
    assert.equal(tok.padId, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('word-level: a config whose worked example disagrees, or a missing special token, is refused', () => {
  const base = { type: 'word-level', model_max_length: 6 };
  const bad = folder({ 'vocab.json': JSON.stringify(WORD_VOCAB), 'tokenizer_config.json': JSON.stringify({ ...base, example: { prompt: 'a digit', input_ids: [1, 5, 4, 2, 0, 0] } }) });
  const noUnk = folder({ 'vocab.json': JSON.stringify({ '<pad>': 0, '<start>': 1, '<end>': 2 }), 'tokenizer_config.json': JSON.stringify(base) });
  const unknown = folder({ 'vocab.json': '{}', 'tokenizer_config.json': '{"type": "sentencepiece"}' });
  try {
    assert.throws(() => loadTokenizer(bad), /encodes the example "a digit" as \[1,4,5,2,0,0\]/);
    assert.throws(() => loadTokenizer(noUnk), /unk_token "<unk>" is not in the vocabulary/);
    assert.throws(() => loadTokenizer(unknown), (e: Error) => e instanceof UserError && e.message.startsWith(unknown) && /no tokenizer found.*tokenizer\.json/.test(e.message));
  } finally {
    for (const d of [bad, noUnk, unknown]) rmSync(d, { recursive: true, force: true });
  }
});
