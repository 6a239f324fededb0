// Reading the JSON files of a tokenizer/ folder, with errors that name the file.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors';

export function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`${file}: missing`, file);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: invalid JSON: ${(e as Error).message}`, file);
  }
}

export function readJsonIfExists(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  const j = readJson(file);
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new UserError(`${file}: expected a JSON object`, file);
  return j as Record<string, unknown>;
}

/** token → id, from a vocab.json object */
export function readVocab(folder: string): Map<string, number> {
  const file = join(folder, 'vocab.json');
  const j = readJson(file);
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new UserError(`${file}: expected an object of token → id`, file);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(j)) {
    if (!Number.isInteger(id) || (id as number) < 0) throw new UserError(`${file}: id of ${JSON.stringify(token)} is not a non-negative integer`, file);
    vocab.set(token, id as number);
  }
  return vocab;
}

/**
 * A special token from tokenizer_config.json or special_tokens_map.json: transformers stores
 * either the string or an AddedToken object {content: "..."}.
 */
export function specialToken(configs: Record<string, unknown>[], key: string): string | undefined {
  for (const c of configs) {
    const v = c[key];
    if (typeof v === 'string') return v;
    if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') {
      return (v as { content: string }).content;
    }
  }
  return undefined;
}

export function tokenId(vocab: Map<string, number>, token: string, role: string, folder: string): number {
  const id = vocab.get(token);
  if (id === undefined) throw new UserError(`${join(folder, 'vocab.json')}: the ${role} ${JSON.stringify(token)} is not in the vocabulary`, folder);
  return id;
}
