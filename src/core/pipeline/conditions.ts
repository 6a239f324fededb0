// What the samples are conditioned on: prompts (through the pipeline's tokenizer and text
// encoder), raw token id rows, or precomputed encoder hidden states from a .npy; plus, when
// known, each condition's class label (for the metric's accuracy).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import { UserError } from '../errors';
import { readNpyFloat32 } from '../npy';
import type { PipelineLayout } from './layout';
import type { Conditioning, PipelineRunner } from './runner';
import { loadTokenizer } from './tokenizers';
import { sdxlParts } from './sdxl-conditions';

export type ConditionInput =
  | { kind: 'default' }
  /** `file`: the prompts file they were read from, when they came from one */
  | { kind: 'prompts'; prompts: string[]; file?: string }
  | { kind: 'ids'; ids: number[][] }
  | { kind: 'embeddings'; file: string };

export interface ResolvedConditions {
  /** undefined for an unconditional U-Net */
  conditioning?: Conditioning;
  /** class label per condition (null where unknown) */
  labels?: (number | null)[];
  /** what conditions.json records */
  record: {
    kind: ConditionInput['kind'] | 'none';
    prompts?: string[];
    ids?: number[][];
    /** the prompts file (kind prompts) or the embeddings .npy (kind embeddings) */
    file?: string;
    labels?: (number | null)[];
  };
}

/**
 * Prompts used when a conditional pipeline gets none: model_index.json's ld_surgeon prompts
 * (explicit `prompts`, or `prompt_template` filled with each of `prompt_words`, labelled by
 * position), else a few generic captions for text-to-image models.
 */
const GENERIC_PROMPTS = [
  'a photograph of an astronaut riding a horse',
  'a bowl of fruit on a wooden table',
  'a red car parked on a city street',
  'a cat sleeping on a sofa',
  'a mountain lake at sunrise',
  'a plate of pasta with tomato sauce',
  'a lighthouse on a rocky coast',
  'a dog running on the beach',
];

export function defaultPrompts(runner: PipelineRunner): { prompts: string[]; labels?: number[] } {
  const s = runner.layout.ldSurgeon;
  if (s.prompts?.length) return { prompts: s.prompts, labels: s.labels?.length === s.prompts.length ? s.labels : undefined };
  const template = s.raw.prompt_template;
  const words = s.raw.prompt_words;
  if (typeof template === 'string' && template.includes('{word}') && Array.isArray(words) && words.every((w) => typeof w === 'string')) {
    return { prompts: (words as string[]).map((w) => template.replace('{word}', w)), labels: words.map((_, i) => i) };
  }
  return { prompts: GENERIC_PROMPTS };
}

const norm = (p: string) => p.toLowerCase().replace(/\s+/g, ' ').trim();

export async function resolveConditions(runner: PipelineRunner, input: ConditionInput, guidance: number): Promise<ResolvedConditions> {
  const conditional = await runner.isConditional();
  const folder = runner.layout.folder;
  if (!conditional) {
    if (input.kind !== 'default') throw new UserError(`${folder}: the U-Net is unconditional; prompts and conditions do not apply`, folder);
    return { record: { kind: 'none' } };
  }
  const defaults = defaultPrompts(runner);
  const labelOfPrompt = new Map<string, number>();
  defaults.prompts.forEach((p, i) => defaults.labels && labelOfPrompt.set(norm(p), defaults.labels[i]));
  const guided = guidance !== 1;

  if (input.kind === 'default' || input.kind === 'prompts') {
    const prompts = input.kind === 'prompts' ? input.prompts : defaults.prompts;
    if (!prompts.length) throw new UserError('no prompts given');
    const conditioning = await runner.encodePrompts(prompts);
    const labels = prompts.map((p) => labelOfPrompt.get(norm(p)) ?? null);
    const file = input.kind === 'prompts' ? input.file : undefined;
    return { conditioning, labels, record: { kind: input.kind, prompts, ...(file ? { file } : {}), labels } };
  }

  if (input.kind === 'ids') {
    if (!input.ids.length) throw new UserError('no condition ids given');
    let ids = input.ids;
    let labels: (number | null)[] | undefined;
    if (runner.layout.tokenizerFolder) {
      // rows shorter than the tokenizer's length are padded the way the tokenizer pads
      const tok = runner.tokenizer();
      const long = ids.find((r) => r.length > tok.maxLength);
      if (long) throw new UserError(`--condition-ids: a row has ${long.length} ids; the tokenizer's model_max_length is ${tok.maxLength}`);
      ids = ids.map((r) => [...r, ...new Array<number>(tok.maxLength - r.length).fill(tok.padId)]);
      const labelOfIds = new Map<string, number>();
      defaults.prompts.forEach((p, i) => defaults.labels && labelOfIds.set(tok.encode(p).join(','), defaults.labels[i]));
      labels = ids.map((r) => labelOfIds.get(r.join(',')) ?? null);
    }
    const { embeddings, seqLen, dim } = await runner.encodeIds(ids);
    const conditioning: Conditioning = { embeddings, count: ids.length, seqLen, dim };
    if (guided) conditioning.uncond = await runner.encodeUncond();
    return { conditioning, labels, record: { kind: 'ids', ids, labels } };
  }

  const { shape, data } = readNpyFloat32(input.file);
  const dims = shape.length === 2 ? [1, ...shape] : shape;
  if (dims.length !== 3 || dims.some((d) => d < 1)) {
    throw new UserError(`${input.file}: conditions must be encoder hidden states [N, L, D] (or [L, D]); the array is [${shape}]`, input.file);
  }
  const conditioning: Conditioning = { embeddings: data, count: dims[0], seqLen: dims[1], dim: dims[2] };
  if (guided) {
    if (!runner.layout.textEncoderPath || !runner.layout.tokenizerFolder) {
      throw new UserError(`${input.file}: guidance ${guidance} needs the empty prompt's embedding, but ${folder} has no tokenizer + text encoder; use --guidance 1`, input.file);
    }
    conditioning.uncond = await runner.encodeUncond();
    if (conditioning.uncond.length !== dims[1] * dims[2]) {
      throw new UserError(`${input.file}: conditions are [${dims}] but the text encoder produces [${dims[0]}, ${conditioning.uncond.length / dims[2]}, ${dims[2]}]-shaped rows`, input.file);
    }
  }
  return { conditioning, record: { kind: 'embeddings', file: input.file } };
}

/** Parses "--condition-ids 1,5,7;1,5,8" into rows. */
export function parseConditionIds(text: string): number[][] {
  const rows = text.split(';').map((r) => r.trim()).filter((r) => r.length > 0);
  if (!rows.length) throw new UserError(`--condition-ids: no rows in ${JSON.stringify(text)}`);
  return rows.map((r) =>
    r.split(',').map((v) => {
      const n = Number(v.trim());
      if (!Number.isInteger(n) || n < 0) throw new UserError(`--condition-ids: ${JSON.stringify(v.trim())} is not a token id`);
      return n;
    }),
  );
}

/**
 * How a user names the conditions, from the CLI's flags (--prompt, --prompts-file,
 * --condition-ids, --conditions) or the extension's ldSurgeon.conditions setting; both become a
 * ConditionInput through conditionInputFromSpec, so the worker gets the same input either way.
 */
export type ConditionSpec =
  | { source: 'default' }
  | { source: 'prompts'; prompts: string[] }
  | { source: 'promptsFile'; file: string }
  /** rows as the CLI takes them: "1,5,7;1,5,8" */
  | { source: 'tokenIds'; ids: string }
  | { source: 'embeddings'; file: string };

export const CONDITION_SOURCES = ['default', 'promptsFile', 'tokenIds', 'embeddings'] as const;

export interface ConditionFlags {
  prompt?: string[];
  promptsFile?: string;
  conditionIds?: string;
  conditions?: string;
}

/** The CLI's condition flags as a spec; more than one source is an error. */
export function conditionSpecFromFlags(f: ConditionFlags): ConditionSpec {
  const given: ConditionSpec[] = [];
  if (f.prompt?.length) given.push({ source: 'prompts', prompts: f.prompt });
  if (f.promptsFile !== undefined) given.push({ source: 'promptsFile', file: f.promptsFile });
  if (f.conditionIds !== undefined) given.push({ source: 'tokenIds', ids: f.conditionIds });
  if (f.conditions !== undefined) given.push({ source: 'embeddings', file: f.conditions });
  if (given.length > 1) throw new UserError('use only one of --prompt, --prompts-file, --condition-ids, --conditions');
  return given[0] ?? { source: 'default' };
}

/**
 * The ldSurgeon.conditions setting ({source, file?, ids?}) checked for shape; `where` names the
 * setting in errors. Files are checked when the spec is turned into conditions.
 */
export function parseConditionSetting(v: unknown, where = 'ldSurgeon.conditions'): ConditionSpec {
  if (v === undefined || v === null || v === '') return { source: 'default' };
  if (typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${where}: expected an object {"source": ${CONDITION_SOURCES.map((s) => `"${s}"`).join(' | ')}, …}`);
  const o = v as { source?: unknown; file?: unknown; ids?: unknown };
  const text = (key: 'file' | 'ids', what: string): string => {
    const t = o[key];
    if (typeof t !== 'string' || t.trim() === '') throw new UserError(`${where}: source "${String(o.source)}" needs "${key}" (${what})`);
    return t.trim();
  };
  switch (o.source ?? 'default') {
    case 'default':
      return { source: 'default' };
    case 'promptsFile':
      return { source: 'promptsFile', file: text('file', 'a text file, one prompt per line') };
    case 'tokenIds':
      return { source: 'tokenIds', ids: text('ids', 'token id rows, e.g. "1,5,7;1,5,8"') };
    case 'embeddings':
      return { source: 'embeddings', file: text('file', 'an .npy of encoder hidden states [N, L, D]') };
    default:
      throw new UserError(`${where}: unknown source ${JSON.stringify(o.source)} (expected ${CONDITION_SOURCES.join(', ')})`);
  }
}

/** One prompt per non-empty line; lines starting with '#' are comments. */
export function readPromptsFile(file: string): string[] {
  if (!existsSync(file)) throw new UserError(`${file}: prompts file not found`, file);
  if (!statSync(file).isFile()) throw new UserError(`${file}: not a file (expected a text file, one prompt per line)`, file);
  const bytes = readFileSync(file);
  if (bytes.includes(0)) throw new UserError(`${file}: not a text file (expected one prompt per line)`, file);
  const prompts = bytes.toString('utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#'));
  if (!prompts.length) throw new UserError(`${file}: no prompts (expected one prompt per line)`, file);
  return prompts;
}

/**
 * The conditions a spec names, read and checked at once (a prompts file's lines, the id rows, the
 * .npy's shape) so a bad choice is reported before any model runs. Relative files are resolved
 * against `baseDir` (the workspace folder or the current directory).
 */
export function conditionInputFromSpec(spec: ConditionSpec, baseDir = process.cwd()): ConditionInput {
  const abs = (f: string) => (isAbsolute(f) ? f : resolve(baseDir, f));
  switch (spec.source) {
    case 'default':
      return { kind: 'default' };
    case 'prompts':
      if (!spec.prompts.length) throw new UserError('no prompts given');
      return { kind: 'prompts', prompts: spec.prompts };
    case 'promptsFile': {
      const file = abs(spec.file);
      return { kind: 'prompts', prompts: readPromptsFile(file), file };
    }
    case 'tokenIds':
      return { kind: 'ids', ids: parseConditionIds(spec.ids) };
    case 'embeddings': {
      const file = abs(spec.file);
      if (!file.toLowerCase().endsWith('.npy')) throw new UserError(`${file}: conditions must be a .npy file of encoder hidden states [N, L, D]`, file);
      if (!existsSync(file)) throw new UserError(`${file}: embeddings file not found`, file);
      const { shape } = readNpyFloat32(file);
      if ((shape.length !== 2 && shape.length !== 3) || shape.some((d) => d < 1)) {
        throw new UserError(`${file}: conditions must be encoder hidden states [N, L, D] (or [L, D]); the array is [${shape}]`, file);
      }
      return { kind: 'embeddings', file };
    }
  }
}

/** A short line saying which conditions were used (notifications, the Jobs view, the graph view). */
export function describeConditions(c: ConditionInput | ResolvedConditions['record'] | undefined): string {
  if (!c) return "the pipeline's default prompts";
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  switch (c.kind) {
    case 'none':
      return 'unconditional';
    case 'default':
      return "the pipeline's default prompts";
    case 'prompts': {
      const n = c.prompts?.length ?? 0;
      const first = c.prompts?.[0];
      const sample = first ? ` ("${first.length > 40 ? first.slice(0, 39) + '…' : first}"${n > 1 ? ', …' : ''})` : '';
      return c.file ? `${plural(n, 'prompt')} from ${basename(c.file)}${sample}` : `${plural(n, 'prompt')}${sample}`;
    }
    case 'ids':
      return `${plural(c.ids?.length ?? 0, 'token id row')}`;
    case 'embeddings':
      return `embeddings from ${basename(c.file ?? '')}`;
  }
}

/**
 * Checks chosen conditions against a pipeline's folder before a job starts, without loading a
 * model: prompts need a tokenizer that loads and a text encoder; id rows must fit the tokenizer's
 * model_max_length. (Whether the U-Net is conditional at all is told by the job itself.)
 */
export function checkConditionsForPipeline(layout: PipelineLayout, input: ConditionInput): void {
  const folder = layout.folder;
  const sdxl = sdxlParts(layout);
  if ((input.kind === 'embeddings' || input.kind === 'ids') && sdxl) {
    throw new UserError(`${folder}: an SDXL pipeline (text_encoder_2/) is conditioned by prompts: ${input.kind === 'ids' ? 'token ids' : 'an embeddings .npy'} carry no pooled text embedding for the U-Net's text_embeds input`, folder);
  }
  if (input.kind === 'embeddings') return;
  const needs = input.kind === 'ids' ? 'token ids need' : 'prompts need';
  if (!layout.textEncoderPath) throw new UserError(`${folder}: ${needs} text_encoder/model.onnx, which this pipeline does not have; use an embeddings .npy`, folder);
  if (!layout.tokenizerFolder) {
    if (input.kind === 'ids') return;
    throw new UserError(`${folder}: prompts need a tokenizer (tokenizer/tokenizer.json, or vocab.json + merges.txt), which this pipeline does not have; use token ids or an embeddings .npy`, folder);
  }
  const tok = loadTokenizer(layout.tokenizerFolder);
  if (input.kind === 'ids') {
    const long = input.ids.findIndex((r) => r.length > tok.maxLength);
    if (long >= 0) throw new UserError(`token ids: row ${long + 1} has ${input.ids[long].length} ids; the tokenizer's model_max_length is ${tok.maxLength}`);
  } else if (input.kind === 'prompts') {
    // an SDXL pipeline encodes every prompt with both tokenizers: one only tokenizer_2 refuses fails here, not in the job
    const tok2 = sdxl ? loadTokenizer(sdxl.tokenizer2Folder) : undefined;
    for (const p of input.prompts) {
      tok.encode(p);
      tok2?.encode(p);
    }
  }
}
