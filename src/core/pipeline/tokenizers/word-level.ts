// The word-level tokenizer our example pipelines ship (tokenizer_config.json type "word-level"):
// lower-case, every character other than a-z, 0-9, '<', '>' becomes a space, split on
// whitespace, unknown words → unk, then [bos] ids [eos] [pad]..., keeping the first
// model_max_length − 2 words.
import { join } from 'node:path';
import { UserError } from '../../errors';
import { readJsonIfExists, readVocab, specialToken, tokenId } from './files';
import type { Tokenizer } from './types';

export class WordLevelTokenizer implements Tokenizer {
  readonly kind = 'word-level' as const;
  private readonly bos: number;
  private readonly eos: number;
  private readonly pad: number;
  get padId(): number {
    return this.pad;
  }
  private readonly unk: number;

  constructor(
    private readonly vocab: Map<string, number>,
    readonly maxLength: number,
    special: { bos: string; eos: string; pad: string; unk: string },
    folder = '<tokenizer>',
  ) {
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new UserError(`${folder}: model_max_length must be an integer ≥ 2`, folder);
    this.bos = tokenId(vocab, special.bos, 'bos_token', folder);
    this.eos = tokenId(vocab, special.eos, 'eos_token', folder);
    this.pad = tokenId(vocab, special.pad, 'pad_token', folder);
    this.unk = tokenId(vocab, special.unk, 'unk_token', folder);
  }

  encode(prompt: string): number[] {
    const words = prompt.toLowerCase().replace(/[^a-z0-9<>\s]/g, ' ').split(/\s+/).filter((w) => w.length > 0);
    const ids = words.slice(0, this.maxLength - 2).map((w) => this.vocab.get(w) ?? this.unk);
    const row = [this.bos, ...ids, this.eos];
    while (row.length < this.maxLength) row.push(this.pad);
    return row;
  }

  static load(folder: string): WordLevelTokenizer {
    const configFile = join(folder, 'tokenizer_config.json');
    const cfg = readJsonIfExists(configFile);
    const configs = [cfg, readJsonIfExists(join(folder, 'special_tokens_map.json'))];
    const maxLength = cfg.model_max_length;
    if (typeof maxLength !== 'number') throw new UserError(`${configFile}: model_max_length is missing`, configFile);
    const special = {
      bos: specialToken(configs, 'bos_token') ?? '<start>',
      eos: specialToken(configs, 'eos_token') ?? '<end>',
      pad: specialToken(configs, 'pad_token') ?? '<pad>',
      unk: specialToken(configs, 'unk_token') ?? '<unk>',
    };
    const tok = new WordLevelTokenizer(readVocab(folder), maxLength, special, folder);
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
}
