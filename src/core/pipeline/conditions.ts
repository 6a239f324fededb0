// What the samples are conditioned on: prompts (through the pipeline's tokenizer and text
// encoder), raw token id rows, or precomputed encoder hidden states from a .npy; plus, when
// known, each condition's class label (for the metric's accuracy).
import { UserError } from '../errors';
import { readNpyFloat32 } from '../npy';
import type { Conditioning, PipelineRunner } from './runner';

export type ConditionInput =
  | { kind: 'default' }
  | { kind: 'prompts'; prompts: string[] }
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
    return { conditioning, labels, record: { kind: input.kind, prompts, labels } };
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
