// SDXL's conditions, built the way diffusers' StableDiffusionXLPipeline builds them from an Optimum export:
// two text encoders (text_encoder/ and text_encoder_2/, each with its own tokenizer), prompt embeddings the
// concatenation of both encoders' penultimate hidden states on the feature axis, the pooled `text_embeds` of
// encoder 2, and `time_ids` = original_size + crops_coords_top_left + target_size. The U-Net takes the last two
// as its `text_embeds` and `time_ids` inputs (addition_embed_type "text_time").
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { UserError } from '../errors';
import { vaeScaleFactor, type PipelineLayout } from './layout';
import { idsTensor, inputInfo, outputInfo, readFloat } from './tensors';
import { hasTokenizerFiles, loadTokenizer, type Tokenizer } from './tokenizers';

/** The U-Net's added conditions (SDXL): pooled text embeddings per condition, the unconditional one for guidance. */
export interface AddedConditions {
  /** [count, pooledDim] */
  textEmbeds: Float32Array;
  pooledDim: number;
  /** [pooledDim]: the negative (empty prompt or zeros) pooled embedding; set with guidance */
  uncondTextEmbeds?: Float32Array;
}

export interface SdxlParts {
  textEncoder2Path: string;
  tokenizer2Folder: string;
}

const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

/** text_encoder_2/ and tokenizer_2/ when the pipeline has them (an SDXL export), else undefined. */
export function sdxlParts(layout: PipelineLayout): SdxlParts | undefined {
  const te2 = join(layout.folder, 'text_encoder_2', 'model.onnx');
  if (!isFile(te2)) return undefined;
  const tok2 = join(layout.folder, 'tokenizer_2');
  if (!hasTokenizerFiles(tok2)) throw new UserError(`${layout.folder}: text_encoder_2/model.onnx is there but tokenizer_2/ has no tokenizer (tokenizer.json, or vocab.json + merges.txt)`, layout.folder);
  return { textEncoder2Path: te2, tokenizer2Folder: tok2 };
}

/**
 * diffusers' force_zeros_for_empty_prompt (a config entry of the pipeline, stored in model_index.json; true by
 * default in StableDiffusionXLPipeline): the negative conditions are zeros rather than the encoded empty prompt.
 */
export function forceZerosForEmptyPrompt(layout: PipelineLayout): boolean {
  const v = layout.modelIndex.force_zeros_for_empty_prompt ?? layout.ldSurgeon.raw.force_zeros_for_empty_prompt;
  return v === undefined ? true : v === true;
}

/** clip_skip (model_index.json, or its ld_surgeon section): how many layers before the penultimate one to take. */
export function clipSkip(layout: PipelineLayout): number {
  const v = layout.modelIndex.clip_skip ?? layout.ldSurgeon.raw.clip_skip ?? 0;
  if (!Number.isInteger(v) || (v as number) < 0) throw new UserError(`${layout.modelIndexFile}: clip_skip must be a non-negative integer`, layout.modelIndexFile);
  return v as number;
}

/**
 * The output holding the hidden states diffusers uses: hidden_states[-(clip_skip + 2)] among Optimum's
 * `hidden_states.0` … `hidden_states.N` (the embeddings, then each layer); `last_hidden_state` when the export
 * has no per-layer outputs and clip_skip is 0 is not what diffusers takes, so that is an error.
 */
export function hiddenStateOutput(session: ort.InferenceSession, skip: number, path: string): string {
  const names = outputInfo(session).map((o) => o.name);
  const layers = names
    .map((n) => /^hidden_states\.(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  if (!layers.length) throw new UserError(`${path}: an SDXL text encoder must output its per-layer hidden states (hidden_states.0 … hidden_states.N, as Optimum exports them with output_hidden_states); it outputs ${names.join(', ')}`, path);
  const idx = layers.length - (skip + 2);
  if (idx < 0) throw new UserError(`${path}: clip_skip ${skip} asks for hidden state -${skip + 2}, but the encoder outputs only ${layers.length}`, path);
  return `hidden_states.${layers[idx]}`;
}

interface Encoded {
  /** [rows, L, D] */
  hidden: Float32Array;
  seqLen: number;
  dim: number;
  /** [rows, P], when asked for */
  pooled?: Float32Array;
  pooledDim?: number;
}

/** Runs one text encoder over token rows, one row at a time when its batch is fixed. */
async function runEncoder(session: ort.InferenceSession, path: string, rows: number[][], skip: number, pooled: boolean): Promise<Encoded> {
  const input = inputInfo(session).find((i) => i.name === 'input_ids') ?? inputInfo(session)[0];
  const hiddenName = hiddenStateOutput(session, skip, path);
  const names = outputInfo(session).map((o) => o.name);
  if (pooled && !names.includes('text_embeds')) throw new UserError(`${path}: text_encoder_2 must output 'text_embeds' (the projected pooled embedding SDXL's U-Net takes); it outputs ${names.join(', ')}`, path);
  const wanted = pooled ? [hiddenName, 'text_embeds'] : [hiddenName];
  const fixed = input.shape?.[0];
  const chunk = typeof fixed === 'number' ? fixed : rows.length;
  const hs: Float32Array[] = [];
  const ps: Float32Array[] = [];
  let seqLen = 0;
  let dim = 0;
  let pooledDim = 0;
  for (let s = 0; s < rows.length; s += chunk) {
    const part = rows.slice(s, s + chunk);
    const c = part.length;
    while (part.length < chunk) part.push(part[part.length - 1]);
    const out = await session.run({ [input.name]: idsTensor(input.type, part.flat(), [chunk, part[0].length], `${path} input '${input.name}'`) }, wanted);
    const h = out[hiddenName] as ort.Tensor;
    if (h.dims.length !== 3) throw new UserError(`${path}: output '${hiddenName}' has shape [${h.dims}]; expected [B, L, D]`, path);
    [, seqLen, dim] = h.dims;
    hs.push(readFloat(h, `${path} output '${hiddenName}'`).slice(0, c * seqLen * dim));
    if (pooled) {
      const p = out.text_embeds as ort.Tensor;
      if (p.dims.length !== 2) throw new UserError(`${path}: output 'text_embeds' has shape [${p.dims}]; expected [B, P]`, path);
      pooledDim = p.dims[1];
      ps.push(readFloat(p, `${path} output 'text_embeds'`).slice(0, c * pooledDim));
    }
  }
  const cat = (xs: Float32Array[]) => {
    const r = new Float32Array(xs.reduce((n, x) => n + x.length, 0));
    let o = 0;
    for (const x of xs) (r.set(x, o), (o += x.length));
    return r;
  };
  return { hidden: cat(hs), seqLen, dim, ...(pooled ? { pooled: cat(ps), pooledDim } : {}) };
}

/** Concatenates [rows, L, D1] and [rows, L, D2] on the feature axis: [rows, L, D1 + D2] (encoder 1 first, as diffusers). */
export function concatFeatures(a: Float32Array, d1: number, b: Float32Array, d2: number, rows: number, seqLen: number): Float32Array {
  const out = new Float32Array(rows * seqLen * (d1 + d2));
  for (let r = 0; r < rows * seqLen; r++) {
    out.set(a.subarray(r * d1, (r + 1) * d1), r * (d1 + d2));
    out.set(b.subarray(r * d2, (r + 1) * d2), r * (d1 + d2) + d1);
  }
  return out;
}

export interface SdxlEncoders {
  textEncoder: () => Promise<ort.InferenceSession>;
  textEncoder2: () => Promise<ort.InferenceSession>;
  tokenizer: () => Tokenizer;
}

export interface SdxlConditioning {
  embeddings: Float32Array;
  count: number;
  seqLen: number;
  dim: number;
  uncond?: Float32Array;
  added: AddedConditions;
}

/** Prompts → SDXL conditions: concatenated hidden states, pooled text_embeds, and the negative ones for guidance. */
export async function encodeSdxlPrompts(layout: PipelineLayout, enc: SdxlEncoders, prompts: string[], guided: boolean): Promise<SdxlConditioning> {
  const parts = sdxlParts(layout);
  if (!parts || !layout.textEncoderPath) throw new UserError(`${layout.folder}: SDXL conditions need text_encoder/ and text_encoder_2/ with their tokenizers`, layout.folder);
  const tok1 = enc.tokenizer();
  const tok2 = loadTokenizer(parts.tokenizer2Folder);
  const zeros = forceZerosForEmptyPrompt(layout);
  const encodeEmpty = guided && !zeros;
  const all = encodeEmpty ? [...prompts, ''] : prompts;
  const skip = clipSkip(layout);
  const e1 = await runEncoder(await enc.textEncoder(), layout.textEncoderPath, all.map((p) => tok1.encode(p)), skip, false);
  const e2 = await runEncoder(await enc.textEncoder2(), parts.textEncoder2Path, all.map((p) => tok2.encode(p)), skip, true);
  if (e1.seqLen !== e2.seqLen) throw new UserError(`${layout.folder}: the two text encoders give ${e1.seqLen} and ${e2.seqLen} tokens; SDXL concatenates them per token, so the tokenizers' model_max_length must agree`, layout.folder);
  const rows = all.length;
  const seqLen = e1.seqLen;
  const dim = e1.dim + e2.dim;
  const hidden = concatFeatures(e1.hidden, e1.dim, e2.hidden, e2.dim, rows, seqLen);
  const k = prompts.length;
  const P = e2.pooledDim!;
  const c: SdxlConditioning = {
    embeddings: hidden.subarray(0, k * seqLen * dim),
    count: k,
    seqLen,
    dim,
    added: { textEmbeds: e2.pooled!.subarray(0, k * P), pooledDim: P },
  };
  if (guided) {
    c.uncond = encodeEmpty ? hidden.slice(k * seqLen * dim) : new Float32Array(seqLen * dim);
    c.added.uncondTextEmbeds = encodeEmpty ? e2.pooled!.slice(k * P) : new Float32Array(P);
  }
  return c;
}

/**
 * time_ids = original_size + crops_coords_top_left + target_size, (height, width) each, as _get_add_time_ids
 * builds them: from model_index.json's ld_surgeon (original_size, crops_coords_top_left, target_size) when set,
 * else the sample size in pixels (latent size × the VAE's factor) and (0, 0).
 */
export function addTimeIds(layout: PipelineLayout, latentShape: number[]): Float32Array {
  const raw = layout.ldSurgeon.raw;
  const scale = vaeScaleFactor(layout);
  const px = [latentShape[1] * scale, latentShape[2] * scale];
  const pair = (key: string, fallback: number[]): number[] => {
    const v = raw[key];
    if (v === undefined) return fallback;
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 0)) {
      throw new UserError(`${layout.modelIndexFile}: ld_surgeon.${key} must be [height, width] non-negative integers`, layout.modelIndexFile);
    }
    return v as number[];
  };
  return Float32Array.from([...pair('original_size', px), ...pair('crops_coords_top_left', [0, 0]), ...pair('target_size', px)]);
}
