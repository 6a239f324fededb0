// Prompts or token ids → an [N, L, D] embeddings .npy through the pipeline's tokenizer and text
// encoder: what the distillation trainer takes as --conditions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { conditionNpys } from '../src/core/pipeline/condition-embeddings';

/** the encoder hidden states of `input` through `pipeline`, as the trainer's --conditions file holds them */
const conditionEmbeddingsNpy = async (...a: Parameters<typeof conditionNpys>) => (await conditionNpys(...a))?.hidden;
import { PipelineRunner } from '../src/core/pipeline/runner';
import { parseNpy } from '../src/core/npy';
import { UserError } from '../src/core/errors';
import { copyPipeline, DIGITS_COND, EXAMPLES, tempDir } from './pipeline-fixtures';

test('prompts and token ids become the text encoder\'s hidden states, the same through a tokenizer.json', { skip: !existsSync(DIGITS_COND) && 'examples/digits-cond is not there' }, async () => {
  const t = tempDir('cond-npy-');
  const prompts = ['a digit seven', 'a digit two', 'a digit zero'];
  const runner = PipelineRunner.open(DIGITS_COND);
  try {
    const npy = parseNpy((await conditionEmbeddingsNpy(DIGITS_COND, { kind: 'prompts', prompts }))!);
    const ref = await runner.encodePrompts(prompts);
    assert.deepEqual(npy.shape, [3, ref.seqLen, ref.dim]);
    assert.deepEqual(Array.from(npy.data as Float32Array), Array.from(ref.embeddings));

    const ids = runner.tokenizer().encode('a digit seven');
    const byIds = parseNpy((await conditionEmbeddingsNpy(DIGITS_COND, { kind: 'ids', ids: [ids.slice(0, 5)] }))!);
    assert.deepEqual(byIds.shape, [1, ref.seqLen, ref.dim]);
    assert.deepEqual(Array.from(byIds.data as Float32Array), Array.from(ref.embeddings.subarray(0, ref.seqLen * ref.dim)), 'short rows are padded like the tokenizer pads');

    const fast = copyPipeline(DIGITS_COND, t.dir);
    rmSync(join(fast, 'tokenizer'), { recursive: true });
    cpSync(join(__dirname, 'fixtures', 'tokenizers', 'digits-wordlevel'), join(fast, 'tokenizer'), { recursive: true });
    const viaFast = parseNpy((await conditionEmbeddingsNpy(fast, { kind: 'prompts', prompts }))!);
    assert.deepEqual(Array.from(viaFast.data as Float32Array), Array.from(npy.data as Float32Array));

    const uncond = join(EXAMPLES, 'digits-uncond');
    if (existsSync(uncond)) await assert.rejects(conditionEmbeddingsNpy(uncond, { kind: 'prompts', prompts }), (e: Error) => e instanceof UserError && /unconditional/.test(e.message));
  } finally {
    await runner.release();
    t.done();
  }
});
