import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors';
import { loadClipBpe } from './clip-bpe';
import { loadFastTokenizer } from './fast';
import { readJsonIfExists } from './files';
import type { Tokenizer } from './types';
import { loadWordLevel } from './word-level';

export type { Tokenizer } from './types';
export { HfTokenizer } from './hf-tokenizer';
export { clipTokenizerJson } from './clip-bpe';
export { wordLevelTokenizerJson } from './word-level';

/** Whether a folder holds one of the tokenizer layouts loadTokenizer reads. */
export function hasTokenizerFiles(folder: string): boolean {
  return ['tokenizer.json', 'vocab.json', 'tokenizer_config.json'].some((f) => existsSync(join(folder, f)));
}

/**
 * tokenizer.json (the Hugging Face fast layout) when it is there; else CLIP's slow files
 * (vocab.json + merges.txt, as Stable Diffusion exports ship them); else our word-level config.
 */
export function loadTokenizer(folder: string): Tokenizer {
  if (existsSync(join(folder, 'tokenizer.json'))) return loadFastTokenizer(folder);
  const hasVocab = existsSync(join(folder, 'vocab.json'));
  if (hasVocab && existsSync(join(folder, 'merges.txt'))) return loadClipBpe(folder);
  const cfg = readJsonIfExists(join(folder, 'tokenizer_config.json'));
  if (cfg.type === 'word-level' || cfg.tokenizer_class === 'WordLevelTokenizer') {
    if (!hasVocab) throw new UserError(`${join(folder, 'vocab.json')}: missing (the word-level tokenizer needs its vocabulary)`, folder);
    return loadWordLevel(folder);
  }
  const cls = typeof cfg.tokenizer_class === 'string' ? ` (tokenizer_config.json names ${cfg.tokenizer_class})` : '';
  throw new UserError(
    `${folder}: no tokenizer found${cls}: expected tokenizer.json (Hugging Face fast format), vocab.json + merges.txt (CLIP BPE), ` +
      'or vocab.json + tokenizer_config.json with "type": "word-level"',
    folder,
  );
}
