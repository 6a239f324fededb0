// Conditions as arrays in .npy files: the form the PyTorch distillation trainer takes (--conditions, and for
// SDXL --text-embeds), made here from prompts or token ids with the pipeline's own tokenizers and text encoders,
// so every tokenizer format this package reads also serves distillation.
import { encodeNpy } from '../npy';
import { resolveConditions, type ConditionInput } from './conditions';
import { PipelineRunner } from './runner';

export interface ConditionNpys {
  /** encoder hidden states [N, L, D] */
  hidden: Uint8Array;
  /** SDXL: the pooled text embeddings [N, P] of the same rows (the U-Net's text_embeds) */
  textEmbeds?: Uint8Array;
}

/**
 * The .npy bytes of `input` through `pipeline`'s text encoder(s): [N, L, D] embeddings and, for an SDXL
 * pipeline, the pooled [N, P] ones (sdxl-conditions.ts); undefined for the defaults of an unconditional U-Net
 * (any other input there is an error).
 */
export async function conditionNpys(pipeline: string, input: Exclude<ConditionInput, { kind: 'embeddings' }>): Promise<ConditionNpys | undefined> {
  const runner = PipelineRunner.open(pipeline);
  try {
    // guidance 1: only the conditional rows; the trainer makes its own unconditional embedding
    const { conditioning } = await resolveConditions(runner, input, 1);
    if (!conditioning) return undefined;
    const { embeddings, count, seqLen, dim, added } = conditioning;
    const hidden = encodeNpy(embeddings.slice(0, count * seqLen * dim), [count, seqLen, dim]);
    if (!added) return { hidden };
    return { hidden, textEmbeds: encodeNpy(added.textEmbeds.slice(0, count * added.pooledDim), [count, added.pooledDim]) };
  } finally {
    await runner.release();
  }
}
