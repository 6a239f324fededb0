// Conditions as encoder hidden states in a .npy: the form the PyTorch distillation trainer takes
// (--conditions), made here from prompts or token ids with the pipeline's own tokenizer and text
// encoder, so every tokenizer format this package reads also serves distillation.
import { UserError } from '../errors';
import { encodeNpy } from '../npy';
import { resolveConditions, type ConditionInput } from './conditions';
import { PipelineRunner } from './runner';

/** The .npy bytes of [N, L, D] embeddings for `input` through `pipeline`'s text encoder. */
export async function conditionEmbeddingsNpy(pipeline: string, input: Exclude<ConditionInput, { kind: 'embeddings' }>): Promise<Uint8Array> {
  const runner = PipelineRunner.open(pipeline);
  try {
    // guidance 1: only the conditional rows; the trainer makes its own unconditional embedding
    const { conditioning } = await resolveConditions(runner, input, 1);
    if (!conditioning) throw new UserError(`${pipeline}: the U-Net is unconditional; conditions do not apply`, pipeline);
    const { embeddings, count, seqLen, dim } = conditioning;
    return encodeNpy(embeddings.slice(0, count * seqLen * dim), [count, seqLen, dim]);
  } finally {
    await runner.release();
  }
}

