// Tokenizers in the Hugging Face fast layout (tokenizer.json + tokenizer_config.json +
// special_tokens_map.json, as transformers/Optimum export them) against reference encodings from
// the Rust tokenizers library, padded and truncated to model_max_length the way diffusers calls a
// tokenizer. Fixtures and references: test/fixtures/tokenizers/make-reference.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HfTokenizer, loadTokenizer } from '../src/core/pipeline/tokenizers';
import { UserError } from '../src/core/errors';

const FIXTURES = resolve(__dirname, 'fixtures', 'tokenizers');

interface Reference { model_max_length: number; cases: { text: string; input_ids: number[]; tokens: string[] }[] }
const reference = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, 'reference.json'), 'utf8')) as Reference;

const MODELS: [string, string][] = [
  ['bpe-clip', 'BPE, CLIP layout (NFC/Replace/Lowercase, Split + ByteLevel, RobertaProcessing)'],
  ['bpe-bytelevel', 'BPE, byte-level GPT-2 regex, RobertaProcessing, padding_side left'],
  ['wordlevel-bert', 'WordLevel, BertNormalizer (accents stripped), Whitespace, TemplateProcessing [CLS] $A [SEP]'],
  ['unigram-t5', 'Unigram, NFKC + Replace, WhitespaceSplit + Metaspace, TemplateProcessing $A </s>'],
  ['digits-wordlevel', 'WordLevel, Lowercase + Replace, WhitespaceSplit, TemplateProcessing <start> $A <end>'],
];

for (const [name, what] of MODELS) {
  test(`tokenizer.json ${name}: ${what} — the Rust library's ids, padded and truncated`, () => {
    const ref = reference(name);
    const tok = loadTokenizer(join(FIXTURES, name));
    assert.equal(tok.kind, 'tokenizer.json');
    assert.equal(tok.maxLength, ref.model_max_length);
    for (const c of ref.cases) assert.deepEqual(tok.encode(c.text), c.input_ids, `${JSON.stringify(c.text)} → ${c.tokens.join(' ')}`);
    // the cases exercise truncation, not only short prompts
    assert.ok(ref.cases.some((c) => (tok as HfTokenizer).tokenize(c.text).length > tok.maxLength), 'a case is truncated');
  });
}

test('CLIP slow files (vocab.json + merges.txt) encode as the CLIPTokenizerFast tokenizer.json of the same model', () => {
  const tok = loadTokenizer(join(FIXTURES, 'bpe-clip-slow'));
  assert.equal(tok.kind, 'clip-bpe');
  for (const c of reference('bpe-clip').cases) assert.deepEqual(tok.encode(c.text), c.input_ids, JSON.stringify(c.text));
});

function copy(name: string, edit: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokjson-'));
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  edit(dir);
  return dir;
}
const editJson = (file: string, f: (j: Record<string, unknown>) => void) => {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  f(j);
  writeFileSync(file, JSON.stringify(j));
};

test('tokenizer.json errors name the file and what is missing or unsupported', () => {
  const dirs = {
    noLength: copy('unigram-t5', (d) => editJson(join(d, 'tokenizer_config.json'), (j) => { j.model_max_length = 1e30; })),
    noPad: copy('wordlevel-bert', (d) => {
      editJson(join(d, 'tokenizer_config.json'), (j) => { delete j.pad_token; });
      editJson(join(d, 'special_tokens_map.json'), (j) => { delete j.pad_token; });
    }),
    wordPieceLess: copy('wordlevel-bert', (d) => editJson(join(d, 'tokenizer.json'), (j) => { (j.model as Record<string, unknown>).type = 'SentencePieceBPE'; })),
    badNormalizer: copy('wordlevel-bert', (d) => editJson(join(d, 'tokenizer.json'), (j) => { j.normalizer = { type: 'Mojibake' }; })),
    truncated: copy('bpe-clip', (d) => writeFileSync(join(d, 'tokenizer.json'), readFileSync(join(d, 'tokenizer.json'), 'utf8').slice(0, 500))),
    empty: mkdtempSync(join(tmpdir(), 'tokjson-')),
  };
  try {
    const fails = (dir: string, file: string, re: RegExp) =>
      assert.throws(() => loadTokenizer(dir), (e: Error) => e instanceof UserError && e.message.startsWith(join(dir, file)) && re.test(e.message), `${file}: ${re}`);
    fails(dirs.noLength, 'tokenizer_config.json', /model_max_length is missing/);
    fails(dirs.noPad, '', /no pad_token in tokenizer_config\.json or special_tokens_map\.json/);
    fails(dirs.wordPieceLess, 'tokenizer.json', /model type "SentencePieceBPE" is not supported \(supported: BPE, WordLevel, Unigram, WordPiece\)/);
    fails(dirs.badNormalizer, 'tokenizer.json', /cannot be built: .*Mojibake/);
    fails(dirs.truncated, 'tokenizer.json', /invalid JSON/);
    fails(dirs.empty, '', /no tokenizer found: expected tokenizer\.json/);
  } finally {
    for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true });
  }
});
