import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors';
import { ClipBpeTokenizer } from './clip-bpe';
import { readJsonIfExists } from './files';
import type { Tokenizer } from './types';
import { WordLevelTokenizer } from './word-level';

export type { Tokenizer } from './types';
export { ClipBpeTokenizer, cleanPrompt } from './clip-bpe';
export { WordLevelTokenizer } from './word-level';

/** CLIP BPE when merges.txt is there (real SD exports), else our word-level format. */
export function loadTokenizer(folder: string): Tokenizer {
  if (!existsSync(join(folder, 'vocab.json'))) throw new UserError(`${join(folder, 'vocab.json')}: missing (the tokenizer needs its vocabulary)`, folder);
  if (existsSync(join(folder, 'merges.txt'))) return ClipBpeTokenizer.load(folder);
  const cfg = readJsonIfExists(join(folder, 'tokenizer_config.json'));
  if (cfg.type === 'word-level' || cfg.tokenizer_class === 'WordLevelTokenizer') return WordLevelTokenizer.load(folder);
  throw new UserError(`${folder}: unknown tokenizer (expected vocab.json + merges.txt for CLIP BPE, or tokenizer_config.json with "type": "word-level")`, folder);
}
