/** Turns prompts into fixed-length token id rows for a pipeline's text encoder. */
export interface Tokenizer {
  readonly kind: 'word-level' | 'clip-bpe';
  /** every encoded row has this many ids (model_max_length) */
  readonly maxLength: number;
  /** the id rows are padded with */
  readonly padId: number;
  encode(prompt: string): number[];
}
