// The word-level tokenizer our example pipelines ship (tokenizer_config.json "type": "word-level",
// written by training/tokenizer.py): lower-case, every character other than a-z, 0-9, '<', '>'
// becomes a space, split on whitespace, unknown words → unk, then [bos] ids [eos] [pad]…,
// keeping the first model_max_length − 2 words. Expressed as a tokenizer.json WordLevel model so
// it runs through the same library as every other format.
import { join } from 'node:path';
import { UserError } from '../../errors';
import { readJsonIfExists, readVocab, specialToken, tokenId } from './files';
import { HfTokenizer } from './hf-tokenizer';

export interface WordLevelSpecialTokens {
  bos: string;
  eos: string;
  unk: string;
}

export function wordLevelTokenizerJson(vocab: Map<string, number>, special: WordLevelSpecialTokens, folder = '<tokenizer>'): Record<string, unknown> {
  for (const [role, t] of [['bos_token', special.bos], ['eos_token', special.eos], ['unk_token', special.unk]]) tokenId(vocab, t, role, folder);
  const token = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
  const entry = (t: string) => [t, { id: t, ids: [vocab.get(t)], tokens: [t] }];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, { type: 'Replace', pattern: { Regex: '[^a-z0-9<>\\s]' }, content: ' ' }] },
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [token(special.bos), { Sequence: { id: 'A', type_id: 0 } }, token(special.eos)],
      pair: [token(special.bos), { Sequence: { id: 'A', type_id: 0 } }, token(special.eos), { Sequence: { id: 'B', type_id: 1 } }, token(special.eos)],
      special_tokens: Object.fromEntries([special.bos, special.eos].map(entry)),
    },
    decoder: null,
    model: { type: 'WordLevel', vocab: Object.fromEntries(vocab), unk_token: special.unk },
  };
}

export function loadWordLevel(folder: string): HfTokenizer {
  const configFile = join(folder, 'tokenizer_config.json');
  const cfg = readJsonIfExists(configFile);
  const configs = [cfg, readJsonIfExists(join(folder, 'special_tokens_map.json'))];
  const maxLength = cfg.model_max_length;
  if (typeof maxLength !== 'number') throw new UserError(`${configFile}: model_max_length is missing`, configFile);
  const special = {
    bos: specialToken(configs, 'bos_token') ?? '<start>',
    eos: specialToken(configs, 'eos_token') ?? '<end>',
    unk: specialToken(configs, 'unk_token') ?? '<unk>',
  };
  const padToken = specialToken(configs, 'pad_token') ?? '<pad>';
  const vocab = readVocab(folder);
  tokenId(vocab, padToken, 'pad_token', folder);
  const tok = new HfTokenizer(wordLevelTokenizerJson(vocab, special, folder), { kind: 'word-level', source: folder, maxLength, padToken });
  // The exporter records a worked example; refusing a tokenizer that disagrees with it beats
  // sampling from silently wrong conditions.
  const ex = cfg.example as { prompt?: unknown; input_ids?: unknown } | undefined;
  if (ex && typeof ex.prompt === 'string' && Array.isArray(ex.input_ids)) {
    const got = tok.encode(ex.prompt);
    if (got.join(',') !== ex.input_ids.join(',')) {
      throw new UserError(`${configFile}: this tokenizer encodes the example ${JSON.stringify(ex.prompt)} as [${got}] but the file says [${ex.input_ids}]`, configFile);
    }
  }
  return tok;
}
