// A pipeline folder in the exported Stable Diffusion ONNX layout: what is there, what is
// required, and the few numbers read from component configs. Reading it loads no model.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors';
import { readSchedulerConfig, type SchedulerConfig } from './schedulers/config';
import { readJson, readJsonIfExists } from './tokenizers/files';
import { hasTokenizerFiles } from './tokenizers';

/**
 * The folder of a pipeline's denoiser, the one place that decides it: `transformer/` when the pipeline is a
 * diffusion transformer (model_index.json names a `transformer` component, as diffusers' DiT, PixArt and SD3
 * exports do, or only transformer/model.onnx is there), else `unet/`.
 */
export function denoiserFolderName(pipeline: string): 'unet' | 'transformer' {
  const hasTransformer = file(join(pipeline, 'transformer', 'model.onnx'));
  if (!hasTransformer) return 'unet';
  if (!file(join(pipeline, 'unet', 'model.onnx'))) return 'transformer';
  const index = readJsonIfExists(join(pipeline, 'model_index.json'));
  return Array.isArray(index.transformer) && index.transformer[0] !== null && !(Array.isArray(index.unet) && index.unet[0] !== null) ? 'transformer' : 'unet';
}

/** A pipeline folder's denoiser model: <pipeline>/unet/model.onnx or <pipeline>/transformer/model.onnx. */
export function denoiserModelPath(pipeline: string): string {
  return join(pipeline, denoiserFolderName(pipeline), 'model.onnx');
}

/** The denoiser model a path names: an .onnx file itself, else a pipeline folder's denoiser. */
export function modelFileOf(p: string): string {
  return p.toLowerCase().endsWith('.onnx') ? p : denoiserModelPath(p);
}

/** ld-surgeon's own section of model_index.json (all optional). */
export interface LdSurgeonSection {
  /** [C, H, W] of the U-Net's latents */
  latentShape?: number[];
  /** default classifier-free guidance scale */
  guidanceScale?: number;
  /** default number of inference steps */
  numInferenceSteps?: number;
  /** default prompts for a conditional pipeline, cycled over the samples */
  prompts?: string[];
  /** class label of each default prompt (for accuracy) */
  labels?: number[];
  raw: Record<string, unknown>;
}

export interface PipelineLayout {
  folder: string;
  modelIndexFile: string;
  modelIndex: Record<string, unknown>;
  ldSurgeon: LdSurgeonSection;
  /** the denoiser: unet/model.onnx, or transformer/model.onnx for a diffusion transformer (denoiserFolderName) */
  unetPath: string;
  vaeDecoderPath: string;
  vaeEncoderPath?: string;
  textEncoderPath?: string;
  tokenizerFolder?: string;
  schedulerConfigFile: string;
  schedulerConfig: SchedulerConfig;
  /** the denoiser's config.json (unet/: UNet2DConditionModel's, transformer/: the transformer's), {} when absent */
  unetConfig: Record<string, unknown>;
  /** the VAE config (vae_decoder/config.json, else vae/config.json), {} when absent */
  vaeConfig: Record<string, unknown>;
  /** latents are divided by this before decoding (SD: 0.18215) */
  scalingFactor: number;
  /** and then shifted by this (0 unless the VAE config says otherwise) */
  shiftFactor: number;
  /** metrics/metric.json, when the pipeline ships a quality metric */
  metricFile?: string;
}

function file(p: string): boolean {
  return existsSync(p) && statSync(p).isFile();
}

function numberArray(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.every((x) => Number.isInteger(x) && x > 0) ? (v as number[]) : undefined;
}

function parseLdSurgeon(v: unknown, where: string): LdSurgeonSection {
  if (v === undefined) return { raw: {} };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UserError(`${where}: "ld_surgeon" must be an object`, where);
  const j = v as Record<string, unknown>;
  const s: LdSurgeonSection = { raw: j };
  if (j.latent_shape !== undefined) {
    s.latentShape = numberArray(j.latent_shape);
    if (!s.latentShape || s.latentShape.length !== 3) throw new UserError(`${where}: ld_surgeon.latent_shape must be [C, H, W] positive integers`, where);
  }
  if (typeof j.guidance_scale === 'number') s.guidanceScale = j.guidance_scale;
  if (Number.isInteger(j.num_inference_steps)) s.numInferenceSteps = j.num_inference_steps as number;
  const prompts = j.prompts ?? j.default_prompts;
  if (Array.isArray(prompts) && prompts.every((p) => typeof p === 'string')) s.prompts = prompts as string[];
  const labels = j.labels ?? j.prompt_labels;
  if (Array.isArray(labels) && labels.every((l) => Number.isInteger(l))) s.labels = labels as number[];
  return s;
}

export function readPipelineLayout(folderArg: string): PipelineLayout {
  const folder = resolve(folderArg);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UserError(`${folder}: not a pipeline folder (it does not exist or is not a directory)`, folder);
  const modelIndexFile = join(folder, 'model_index.json');
  if (!file(modelIndexFile)) throw new UserError(`${folder}: not a pipeline folder: model_index.json is missing`, folder);
  const mi = readJson(modelIndexFile);
  if (typeof mi !== 'object' || mi === null || Array.isArray(mi)) throw new UserError(`${modelIndexFile}: expected a JSON object`, modelIndexFile);
  const modelIndex = mi as Record<string, unknown>;

  const need = (rel: string, what: string) => {
    const p = join(folder, rel);
    if (!file(p)) throw new UserError(`${folder}: ${rel} is missing (${what})`, p);
    return p;
  };
  const optional = (rel: string) => (file(join(folder, rel)) ? join(folder, rel) : undefined);

  const denoiser = denoiserFolderName(folder);
  const unetPath = need(`${denoiser}/model.onnx`, denoiser === 'unet' ? 'the denoising U-Net' : 'the denoising transformer');
  const vaeDecoderPath = need('vae_decoder/model.onnx', 'the VAE decoder that turns latents into samples');
  const schedulerConfigFile = need('scheduler/scheduler_config.json', 'the noise schedule the model was trained with');
  const textEncoderPath = optional('text_encoder/model.onnx');
  // which tokenizer format is there (and whether it is complete) is told by loadTokenizer
  const tokenizerFolder = hasTokenizerFiles(join(folder, 'tokenizer')) ? join(folder, 'tokenizer') : undefined;

  const vaeConfigFile = [join(folder, 'vae_decoder', 'config.json'), join(folder, 'vae', 'config.json')].find(file);
  const vaeConfig = vaeConfigFile ? readJsonIfExists(vaeConfigFile) : {};
  const scalingFactor = vaeConfig.scaling_factor ?? 0.18215;
  const shiftFactor = vaeConfig.shift_factor ?? 0;
  if (typeof scalingFactor !== 'number' || !(scalingFactor !== 0) || !Number.isFinite(scalingFactor)) {
    throw new UserError(`${vaeConfigFile}: scaling_factor must be a non-zero number`, vaeConfigFile);
  }
  if (typeof shiftFactor !== 'number' || !Number.isFinite(shiftFactor)) throw new UserError(`${vaeConfigFile}: shift_factor must be a number`, vaeConfigFile);

  return {
    folder,
    modelIndexFile,
    modelIndex,
    ldSurgeon: parseLdSurgeon(modelIndex.ld_surgeon, modelIndexFile),
    unetPath,
    vaeDecoderPath,
    vaeEncoderPath: optional('vae_encoder/model.onnx'),
    textEncoderPath,
    tokenizerFolder,
    schedulerConfigFile,
    schedulerConfig: readSchedulerConfig(schedulerConfigFile),
    unetConfig: readJsonIfExists(join(folder, denoiser, 'config.json')),
    vaeConfig,
    scalingFactor,
    shiftFactor,
    metricFile: optional('metrics/metric.json'),
  };
}

/** the VAE's spatial down-sampling factor: 2^(len(block_out_channels) − 1), 8 for SD */
export function vaeScaleFactor(layout: PipelineLayout): number {
  const blocks = layout.vaeConfig.block_out_channels;
  return Array.isArray(blocks) && blocks.length > 0 ? 2 ** (blocks.length - 1) : 8;
}
