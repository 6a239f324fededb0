// Every tokenizer format runs through the maintained @huggingface/tokenizers package (a JS port
// of the Rust library that reads tokenizer.json); the other formats are translated into a
// tokenizer.json object first. What the package does not do is padding and truncation, so this
// wrapper does them the way diffusers' pipelines call a tokenizer:
//   tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True)
// i.e. the model's tokens are cut to max_length minus the special tokens the post-processor
// adds, the post-processor adds them, and the row is padded with the pad token's id.
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { UserError } from '../../errors';
import type { Tokenizer } from './types';

export interface HfTokenizerOptions {
  kind: Tokenizer['kind'];
  /** the folder (or file) named in errors */
  source: string;
  maxLength: number;
  /** pad token text; its id is looked up in the tokenizer's vocabulary */
  padToken: string;
  padSide?: 'left' | 'right';
  truncationSide?: 'left' | 'right';
  /** passed to the library (special tokens by name) */
  config?: Record<string, unknown>;
}

/** Model types the package implements (WordLevel runs as its vocabulary-lookup "Legacy" model). */
export const SUPPORTED_MODELS = ['BPE', 'WordLevel', 'Unigram', 'WordPiece'];

/**
 * The package's "Whitespace" pre-tokenizer splits with an ASCII-only \w, so "ﬁne" or "ａｂｃ"
 * fall apart where the Rust library keeps them whole; its "Split" translates the same pattern
 * with the Unicode word set, so Whitespace is handed over as that Split.
 */
function withUnicodeWhitespace(pre: unknown): unknown {
  if (typeof pre !== 'object' || pre === null) return pre;
  const p = pre as { type?: unknown; pretokenizers?: unknown };
  if (p.type === 'Whitespace') return { type: 'Split', pattern: { Regex: '\\w+|[^\\w\\s]+' }, behavior: 'Removed', invert: true };
  if (p.type === 'Sequence' && Array.isArray(p.pretokenizers)) return { ...p, pretokenizers: p.pretokenizers.map(withUnicodeWhitespace) };
  return pre;
}

export class HfTokenizer implements Tokenizer {
  readonly kind: Tokenizer['kind'];
  readonly maxLength: number;
  readonly padId: number;
  private readonly lib: HfLibTokenizer;
  private readonly unkId: number | undefined;
  private readonly specialCount: number;

  constructor(json: Record<string, unknown>, private readonly opts: HfTokenizerOptions) {
    const { source } = opts;
    this.kind = opts.kind;
    const model = json.model as { type?: unknown; unk_token?: unknown } | undefined;
    if (typeof model !== 'object' || model === null) throw new UserError(`${source}: "model" is missing`, source);
    if (typeof model.type === 'string' && !SUPPORTED_MODELS.includes(model.type)) {
      throw new UserError(`${source}: tokenizer model type "${model.type}" is not supported (supported: ${SUPPORTED_MODELS.join(', ')})`, source);
    }
    const full = { added_tokens: [], normalizer: null, post_processor: null, decoder: null, ...json, pre_tokenizer: withUnicodeWhitespace(json.pre_tokenizer ?? null) };
    // the package's WordLevel model takes its unknown token from the config, not from the model
    const config = { ...opts.config, ...(model.type === 'WordLevel' && typeof model.unk_token === 'string' ? { unk_token: model.unk_token } : {}) };
    try {
      this.lib = new HfLibTokenizer(full, config);
    } catch (e) {
      throw new UserError(`${source}: the tokenizer cannot be built: ${(e as Error).message}`, source);
    }
    if (!Number.isInteger(opts.maxLength) || opts.maxLength < 1) throw new UserError(`${source}: model_max_length must be a positive integer, got ${opts.maxLength}`, source);
    this.maxLength = opts.maxLength;
    const pad = this.lib.token_to_id(opts.padToken);
    if (pad === undefined) throw new UserError(`${source}: the pad_token ${JSON.stringify(opts.padToken)} is not in the vocabulary`, source);
    this.padId = pad;
    const unk = (this.lib.model as { unk_token_id?: number } | null)?.unk_token_id;
    const unkToken = typeof model.unk_token === 'string' ? model.unk_token : undefined;
    this.unkId = unk ?? (unkToken === undefined ? undefined : this.lib.token_to_id(unkToken));
    this.specialCount = this.lib.post_processor ? this.postProcess([]).length : 0;
    if (this.specialCount >= this.maxLength) {
      throw new UserError(`${source}: model_max_length ${this.maxLength} leaves no room for text after the ${this.specialCount} special tokens`, source);
    }
  }

  private postProcess(tokens: string[]): string[] {
    const pp = this.lib.post_processor as unknown as ((a: string[], b: null, special: boolean) => { tokens: string[] }) | null;
    return pp ? pp(tokens, null, true).tokens : tokens;
  }

  private id(token: string): number {
    const id = this.lib.token_to_id(token) ?? this.unkId;
    if (id === undefined) throw new UserError(`${this.opts.source}: the token ${JSON.stringify(token)} is not in the vocabulary and the model has no unk_token`, this.opts.source);
    return id;
  }

  /** The model's tokens of a prompt, before special tokens, truncation and padding. */
  tokenize(prompt: string): string[] {
    return this.lib.tokenize(prompt, { add_special_tokens: false });
  }

  encode(prompt: string): number[] {
    let tokens = this.tokenize(prompt);
    const room = this.maxLength - this.specialCount;
    if (tokens.length > room) tokens = this.opts.truncationSide === 'left' ? tokens.slice(tokens.length - room) : tokens.slice(0, room);
    const ids = this.postProcess(tokens).map((t) => this.id(t));
    const padding = new Array<number>(this.maxLength - ids.length).fill(this.padId);
    return this.opts.padSide === 'left' ? [...padding, ...ids] : [...ids, ...padding];
  }
}
