// CLIP's byte-level BPE tokenizer (as in Stable Diffusion's tokenizer/ folder: vocab.json +
// merges.txt), following the published algorithm of OpenAI's simple_tokenizer.py:
//  1. clean: HTML-unescape (twice), collapse whitespace, trim, lower-case;
//  2. pre-tokenize with CLIP's regex (contractions, letter runs, single digits, other runs);
//  3. map each pre-token's UTF-8 bytes to printable characters (GPT-2's bytes_to_unicode),
//     mark the last one with '</w>' and apply the merges in rank order;
//  4. wrap in <|startoftext|> … <|endoftext|>, truncate to model_max_length, pad.
// ftfy's mojibake repair is not reproduced (only its Unicode NFC normalisation); prompts typed
// by people are unaffected.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeHTML } from 'entities';
import { UserError } from '../../errors';
import { readJsonIfExists, readVocab, specialToken, tokenId } from './files';
import type { Tokenizer } from './types';

const PRE_TOKEN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/** GPT-2's reversible byte → printable character table: printable Latin-1 bytes map to themselves. */
function bytesToUnicode(): string[] {
  const table: string[] = new Array(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : 256 + extra++);
  return table;
}

export function cleanPrompt(text: string): string {
  return decodeHTML(decodeHTML(text.normalize('NFC'))).replace(/\s+/g, ' ').trim().toLowerCase();
}

export class ClipBpeTokenizer implements Tokenizer {
  readonly kind = 'clip-bpe' as const;
  private readonly ranks = new Map<string, number>();
  private readonly byteChars = bytesToUnicode();
  private readonly cache = new Map<string, string[]>();
  private readonly encoder = new TextEncoder();
  private readonly bos: number;
  private readonly eos: number;
  private readonly pad: number;
  get padId(): number {
    return this.pad;
  }
  private readonly unk: number | undefined;

  constructor(
    private readonly vocab: Map<string, number>,
    merges: [string, string][],
    readonly maxLength: number,
    special: { bos: string; eos: string; pad: string; unk?: string },
    private readonly folder = '<tokenizer>',
  ) {
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new UserError(`${folder}: model_max_length must be an integer ≥ 2`, folder);
    merges.forEach(([a, b], i) => {
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    });
    this.bos = tokenId(vocab, special.bos, 'bos_token', folder);
    this.eos = tokenId(vocab, special.eos, 'eos_token', folder);
    this.pad = tokenId(vocab, special.pad, 'pad_token', folder);
    this.unk = special.unk === undefined ? undefined : vocab.get(special.unk);
    for (const s of [special.bos, special.eos]) this.cache.set(s, [s]);
  }

  /** The BPE symbols of one pre-token (already mapped to byte characters). */
  bpe(token: string): string[] {
    const hit = this.cache.get(token);
    if (hit) return hit;
    const chars = Array.from(token);
    let word = chars.map((c, i) => (i === chars.length - 1 ? c + '</w>' : c));
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      // merge every occurrence of the best pair, left to right
      const first = word[best];
      const second = word[best + 1];
      const next: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          next.push(first + second);
          i += 2;
        } else next.push(word[i++]);
      }
      word = next;
    }
    this.cache.set(token, word);
    return word;
  }

  /** Token ids of a prompt without special tokens or padding. */
  tokenize(prompt: string): number[] {
    const ids: number[] = [];
    for (const m of cleanPrompt(prompt).matchAll(PRE_TOKEN)) {
      const mapped = Array.from(this.encoder.encode(m[0]), (b) => this.byteChars[b]).join('');
      for (const sym of this.bpe(mapped)) {
        const id = this.vocab.get(sym) ?? this.unk;
        if (id === undefined) throw new UserError(`${join(this.folder, 'vocab.json')}: BPE symbol ${JSON.stringify(sym)} is not in the vocabulary and there is no unk_token`, this.folder);
        ids.push(id);
      }
    }
    return ids;
  }

  encode(prompt: string): number[] {
    // transformers' truncation keeps room for both special tokens
    const row = [this.bos, ...this.tokenize(prompt).slice(0, this.maxLength - 2), this.eos];
    while (row.length < this.maxLength) row.push(this.pad);
    return row;
  }

  static load(folder: string): ClipBpeTokenizer {
    const mergesFile = join(folder, 'merges.txt');
    if (!existsSync(mergesFile)) throw new UserError(`${mergesFile}: missing`, mergesFile);
    const merges: [string, string][] = [];
    readFileSync(mergesFile, 'utf8').split(/\r?\n/).forEach((line, i) => {
      if (line.length === 0 || (i === 0 && line.startsWith('#version'))) return;
      const parts = line.split(' ');
      if (parts.length !== 2) throw new UserError(`${mergesFile}: line ${i + 1} is not two space-separated symbols`, mergesFile);
      merges.push([parts[0], parts[1]]);
    });
    const cfg = readJsonIfExists(join(folder, 'tokenizer_config.json'));
    const configs = [cfg, readJsonIfExists(join(folder, 'special_tokens_map.json'))];
    const maxLength = typeof cfg.model_max_length === 'number' && cfg.model_max_length <= 4096 ? cfg.model_max_length : 77;
    const eos = specialToken(configs, 'eos_token') ?? '<|endoftext|>';
    return new ClipBpeTokenizer(readVocab(folder), merges, maxLength, {
      bos: specialToken(configs, 'bos_token') ?? '<|startoftext|>',
      eos,
      pad: specialToken(configs, 'pad_token') ?? eos,
      unk: specialToken(configs, 'unk_token') ?? '<|endoftext|>',
    }, folder);
  }
}
