// What the conditions pick offers for a pipeline (kept free of `vscode` so it is unit-tested): every source for an
// SD-style pipeline; for an SDXL one (text_encoder_2/) prompts only, because its U-Net also takes the pooled
// text_embeds that only prompts encoded through both text encoders give — token ids and an embeddings .npy would be
// refused by the check right after the pick.
import type { ConditionSpec } from '../core/pipeline/conditions';

export interface ConditionSourceItem {
  source: ConditionSpec['source'];
  label: string;
  detail?: string;
}

export function conditionSourceItems(sdxl: boolean): ConditionSourceItem[] {
  const both = sdxl ? ' (encoded by both text encoders)' : '';
  const items: ConditionSourceItem[] = [
    { source: 'default', label: "$(list-unordered) Use the pipeline's default prompts", ...(sdxl ? { detail: `the prompts in model_index.json${both}` } : {}) },
    { source: 'promptsFile', label: '$(file-text) Choose prompts file…', detail: `a text file, one prompt per line${both}` },
  ];
  if (sdxl) return items;
  return [
    ...items,
    { source: 'tokenIds', label: '$(symbol-numeric) Token ids…', detail: 'id rows such as 1,5,7;1,5,8' },
    { source: 'embeddings', label: '$(file-binary) Embeddings .npy…', detail: 'encoder hidden states [N, L, D]' },
  ];
}

/**
 * Files a prompts-file pick leaves out: a pipeline's own tokenizer files (an SDXL export's BPE tokenizers carry a
 * merges.txt each, which would otherwise be listed first as "prompts").
 */
export const NOT_PROMPTS_FILES = ['**/tokenizer/**', '**/tokenizer_2/**', '**/tokenizer_3/**'];
