// A user's pipeline whose tokenizer/ is in the Hugging Face fast layout (tokenizer.json +
// tokenizer_config.json + special_tokens_map.json, as transformers/Optimum export it): the
// digits-cond example with its word-level files swapped for the same tokenizer saved by the Rust
// tokenizers library goes through `sample` and `score` from the CLI and gives the same latents
// and scores as the original.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadTokenizer } from '../src/core/pipeline/tokenizers';
import { copyPipeline, DIGITS_COND, tempDir } from './pipeline-fixtures';

const ROOT = resolve(__dirname, '..');
const FAST = join(__dirname, 'fixtures', 'tokenizers', 'digits-wordlevel');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `ld-surgeon ${args.join(' ')}:\n${r.stderr}`);
  return r;
}

function withFastTokenizer(dir: string): string {
  const p = copyPipeline(DIGITS_COND, dir);
  const tok = join(p, 'tokenizer');
  rmSync(tok, { recursive: true });
  cpSync(FAST, tok, { recursive: true });
  rmSync(join(tok, 'reference.json'));
  return p;
}

test('HF fast tokenizer files encode the digits prompts as the example\'s own word-level format does', { skip: !existsSync(DIGITS_COND) && 'examples/digits-cond is not there' }, () => {
  const own = loadTokenizer(join(DIGITS_COND, 'tokenizer'));
  const fast = loadTokenizer(FAST);
  assert.equal(fast.kind, 'tokenizer.json');
  const words = JSON.parse(readFileSync(join(DIGITS_COND, 'model_index.json'), 'utf8')).ld_surgeon?.prompt_words ?? ['zero', 'seven'];
  for (const p of ['', 'A digit SEVEN!', 'the handwritten number of a digit nine written twice', ...words.map((w: string) => `a digit ${w}`)]) {
    assert.deepEqual(fast.encode(p), own.encode(p), JSON.stringify(p));
  }
});

test('a pipeline with tokenizer.json goes through sample and score from the CLI', { skip: !existsSync(DIGITS_COND) && 'examples/digits-cond is not there' }, () => {
  const t = tempDir('hf-tok-pipeline-');
  try {
    const p = withFastTokenizer(t.dir);
    assert.deepEqual(readdirSync(join(p, 'tokenizer')).sort(), ['special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    const prompts = ['--prompt', 'a digit seven', '--prompt', 'A Digit, two'];
    const sample = (pipeline: string, out: string) => {
      cli('sample', pipeline, '--out', out, '--n', '2', '--steps', '2', '--no-metrics', '--quiet', ...prompts);
      return readFileSync(join(out, 'latents.npy'));
    };
    const mine = sample(p, join(t.dir, 'fast-out'));
    assert.ok(mine.equals(sample(DIGITS_COND, join(t.dir, 'own-out'))), 'same latents as with the word-level files');
    const cond = JSON.parse(readFileSync(join(t.dir, 'fast-out', 'conditions.json'), 'utf8'));
    assert.deepEqual(cond.conditions.prompts, ['a digit seven', 'A Digit, two']);

    const score = (pipeline: string, name: string, conditions: string[]) => {
      const out = join(t.dir, `${name}.ldscores.json`);
      cli('score', pipeline, '--samples', '2', '--steps', '2', '--granularity', 'block', '--only', 'down_blocks.0.resnets.0,mid_block.resnets.0',
        '--ep', 'cpu', '--no-profile', '--quiet', '--json', '--out', out, '--work-dir', t.dir, ...conditions);
      return JSON.parse(readFileSync(out, 'utf8'));
    };
    // the same prompts, once from a prompts file
    const promptsFile = join(t.dir, 'prompts.txt');
    writeFileSync(promptsFile, '# two digits\na digit seven\nA Digit, two\n');
    const a = score(p, 'fast', ['--prompts-file', promptsFile]);
    const b = score(DIGITS_COND, 'own', prompts);
    assert.equal(a.complete, true);
    const scores = (f: { candidates: { id: string; score: number | null }[] }) => Object.fromEntries(f.candidates.filter((c) => c.score !== null).map((c) => [c.id, c.score]));
    assert.equal(Object.keys(scores(a)).length, 2);
    assert.deepEqual(scores(a), scores(b));
    assert.deepEqual(a.settings.conditions, { kind: 'prompts', prompts: ['a digit seven', 'A Digit, two'], file: promptsFile });
    assert.deepEqual(b.settings.conditions, { kind: 'prompts', prompts: ['a digit seven', 'A Digit, two'] });
  } finally {
    t.done();
  }
});
