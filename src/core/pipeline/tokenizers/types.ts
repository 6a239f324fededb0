/** Turns prompts into fixed-length token id rows for a pipeline's text encoder. */
export interface Tokenizer {
  /** which files it was read from: tokenizer.json (HF fast), vocab.json + merges.txt (CLIP), or our word-level config */
  readonly kind: 'tokenizer.json' | 'clip-bpe' | 'word-level';
  /** every encoded row has this many ids (model_max_length) */
  readonly maxLength: number;
  /** the id rows are padded with */
  readonly padId: number;
  encode(prompt: string): number[];
}
