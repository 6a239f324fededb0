// The Hugging Face "fast" layout that transformers' save_pretrained and Optimum's exporters write:
// tokenizer.json (normalizer, pre-tokenizer, model, post-processor) beside tokenizer_config.json
// (model_max_length, padding/truncation side) and special_tokens_map.json (pad/bos/eos/unk).
import { join } from 'node:path';
import { UserError } from '../../errors';
import { HfTokenizer } from './hf-tokenizer';
import { readJson, readJsonIfExists, specialToken } from './files';

/** transformers writes int(1e30) when a checkpoint names no length */
const UNSET_LENGTH = 1e6;

function side(v: unknown, key: string, file: string): 'left' | 'right' | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === 'left' || v === 'right') return v;
  throw new UserError(`${file}: ${key} must be "left" or "right", got ${JSON.stringify(v)}`, file);
}

export function loadFastTokenizer(folder: string): HfTokenizer {
  const jsonFile = join(folder, 'tokenizer.json');
  const configFile = join(folder, 'tokenizer_config.json');
  const json = readJson(jsonFile);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${jsonFile}: expected a JSON object`, jsonFile);
  const tj = json as Record<string, unknown>;
  const cfg = readJsonIfExists(configFile);
  const configs = [cfg, readJsonIfExists(join(folder, 'special_tokens_map.json'))];

  // tokenizer.json's own padding/truncation (when an exporter enabled them) are the fallback
  const padding = (tj.padding ?? {}) as { strategy?: { Fixed?: unknown }; pad_token?: unknown };
  const truncation = (tj.truncation ?? {}) as { max_length?: unknown };
  const lengths = [cfg.model_max_length, padding.strategy?.Fixed, truncation.max_length];
  const maxLength = lengths.find((v): v is number => typeof v === 'number' && v < UNSET_LENGTH);
  if (maxLength === undefined) {
    throw new UserError(`${configFile}: model_max_length is missing (prompts are padded and truncated to it, as diffusers does); add e.g. "model_max_length": 77`, configFile);
  }
  const padToken = specialToken(configs, 'pad_token') ?? (typeof padding.pad_token === 'string' ? padding.pad_token : undefined);
  if (padToken === undefined) {
    throw new UserError(`${folder}: no pad_token in tokenizer_config.json or special_tokens_map.json (prompts are padded to model_max_length with it)`, folder);
  }
  const config: Record<string, unknown> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const t = specialToken(configs, key);
    if (t !== undefined) config[key] = t;
  }
  return new HfTokenizer(tj, {
    kind: 'tokenizer.json',
    source: jsonFile,
    maxLength,
    padToken,
    padSide: side(cfg.padding_side, 'padding_side', configFile),
    truncationSide: side(cfg.truncation_side, 'truncation_side', configFile),
    config,
  });
}
