// CLIP's byte-level BPE from the slow files Stable Diffusion exports ship (tokenizer/vocab.json +
// merges.txt), turned into the tokenizer.json that transformers' CLIPTokenizerFast converter
// builds from the same files: NFC + whitespace collapse + lower-case, CLIP's pre-token regex then
// GPT-2's byte mapping, BPE with the "</w>" end-of-word suffix, and <|startoftext|> … <|endoftext|>
// around the tokens. (The slow tokenizer's ftfy repair and HTML unescaping are not part of the
// fast tokenizer either.)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors';
import { readJsonIfExists, readVocab, specialToken, tokenId } from './files';
import { HfTokenizer } from './hf-tokenizer';

const CLIP_PRE_TOKEN = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

export interface ClipSpecialTokens {
  bos: string;
  eos: string;
  unk: string;
}

/** The tokenizer.json object CLIPTokenizerFast uses for this vocabulary and these merges. */
export function clipTokenizerJson(vocab: Map<string, number>, merges: [string, string][], special: ClipSpecialTokens, folder = '<tokenizer>'): Record<string, unknown> {
  const bos = tokenId(vocab, special.bos, 'bos_token', folder);
  const eos = tokenId(vocab, special.eos, 'eos_token', folder);
  const added = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(bos, special.bos), ...(eos === bos ? [] : [added(eos, special.eos)])],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_PRE_TOKEN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: [special.eos, eos], cls: [special.bos, bos], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: special.unk, continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false, byte_fallback: false,
      vocab: Object.fromEntries(vocab), merges,
    },
  };
}

export function readMerges(folder: string): [string, string][] {
  const mergesFile = join(folder, 'merges.txt');
  if (!existsSync(mergesFile)) throw new UserError(`${mergesFile}: missing`, mergesFile);
  const merges: [string, string][] = [];
  readFileSync(mergesFile, 'utf8').split(/\r?\n/).forEach((line, i) => {
    if (line.length === 0 || (i === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2) throw new UserError(`${mergesFile}: line ${i + 1} is not two space-separated symbols`, mergesFile);
    merges.push([parts[0], parts[1]]);
  });
  return merges;
}

/** transformers writes int(1e30) when a checkpoint names no length; CLIP's is 77 */
const UNSET_LENGTH = 1e6;

export function loadClipBpe(folder: string): HfTokenizer {
  const cfg = readJsonIfExists(join(folder, 'tokenizer_config.json'));
  const configs = [cfg, readJsonIfExists(join(folder, 'special_tokens_map.json'))];
  // CLIPTokenizer's defaults where the configs name no token
  const eos = specialToken(configs, 'eos_token') ?? '<|endoftext|>';
  const special = { bos: specialToken(configs, 'bos_token') ?? '<|startoftext|>', eos, unk: specialToken(configs, 'unk_token') ?? '<|endoftext|>' };
  const padToken = specialToken(configs, 'pad_token') ?? '<|endoftext|>';
  const maxLength = typeof cfg.model_max_length === 'number' && cfg.model_max_length < UNSET_LENGTH ? cfg.model_max_length : 77;
  const vocab = readVocab(folder);
  tokenId(vocab, padToken, 'pad_token', folder);
  return new HfTokenizer(clipTokenizerJson(vocab, readMerges(folder), special, folder), {
    kind: 'clip-bpe',
    source: folder,
    maxLength,
    padToken,
    config: { bos_token: special.bos, eos_token: special.eos, unk_token: special.unk, pad_token: padToken },
  });
}
