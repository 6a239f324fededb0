// Conditions as encoder hidden states in a .npy: the form the PyTorch distillation trainer takes
// (--conditions), made here from prompts or token ids with the pipeline's own tokenizer and text
// encoder, so every tokenizer format this package reads also serves distillation.
import { UserError } from '../errors';
import { encodeNpy } from '../npy';
import { resolveConditions, type ConditionInput } from './conditions';
import { PipelineRunner } from './runner';

/**
 * The .npy bytes of [N, L, D] embeddings for `input` through `pipeline`'s text encoder; undefined for
 * the defaults of an unconditional U-Net (any other input there is an error).
 */
export async function conditionEmbeddingsNpy(pipeline: string, input: Exclude<ConditionInput, { kind: 'embeddings' }>): Promise<Uint8Array | undefined> {
  const runner = PipelineRunner.open(pipeline);
  try {
    // guidance 1: only the conditional rows; the trainer makes its own unconditional embedding
    const { conditioning } = await resolveConditions(runner, input, 1);
    if (!conditioning) return undefined;
    if (conditioning.added) {
      // the trainer feeds encoder_hidden_states only; an SDXL U-Net also needs text_embeds and time_ids
      throw new UserError(`${pipeline}: distilling an SDXL U-Net (text_embeds and time_ids inputs) is not supported: the PyTorch trainer feeds encoder_hidden_states only`, pipeline);
    }
    const { embeddings, count, seqLen, dim } = conditioning;
    return encodeNpy(embeddings.slice(0, count * seqLen * dim), [count, seqLen, dim]);
  } finally {
    await runner.release();
  }
}

