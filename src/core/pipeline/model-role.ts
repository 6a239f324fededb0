// What an .onnx file is to the actions that take a model: the denoiser of a pipeline (unet/, also its
// pruned or distilled versions beside it), another part of one (the VAE decoder, the text encoder…),
// or a bare model with no pipeline around it. Prune and distillation work on denoisers only, so their
// pickers list those and refuse another part at once, instead of failing deep in a job.
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors';
import { denoiserModelPath, readPipelineLayout } from './layout';

export type ModelRole = 'denoiser' | 'vae-decoder' | 'vae-encoder' | 'text-encoder' | 'pipeline-part' | 'model';

export interface ModelRoleInfo {
  role: ModelRole;
  /** the pipeline folder around the file, when there is one */
  pipeline?: string;
  /** for the pickers: "denoiser of digits-cond", "VAE decoder of digits-cond", "model" */
  label: string;
}

const DENOISER_FOLDERS = new Set(['unet', 'transformer']);

const PART_NAMES: Record<Exclude<ModelRole, 'denoiser' | 'model'>, string> = {
  'vae-decoder': 'the VAE decoder',
  'vae-encoder': 'the VAE encoder',
  'text-encoder': 'the text encoder',
  'pipeline-part': 'a part',
};

export function modelRole(fileArg: string): ModelRoleInfo {
  const file = resolve(fileArg);
  const component = basename(dirname(file));
  const pipeline = dirname(dirname(file));
  if (!existsSync(join(pipeline, 'model_index.json'))) return { role: 'model', label: 'model' };
  const name = basename(pipeline);
  if (DENOISER_FOLDERS.has(component)) return { role: 'denoiser', pipeline, label: `denoiser of ${name}` };
  let role: ModelRole = 'pipeline-part';
  try {
    const l = readPipelineLayout(pipeline);
    role = file === l.vaeDecoderPath ? 'vae-decoder' : file === l.vaeEncoderPath ? 'vae-encoder' : file === l.textEncoderPath ? 'text-encoder' : 'pipeline-part';
  } catch {
    // an incomplete pipeline: its component folder still says what the file is not (a denoiser)
  }
  const what = role === 'pipeline-part' ? `${component}/ part` : PART_NAMES[role].replace(/^the /, '');
  return { role, pipeline, label: `${what} of ${name}` };
}

/**
 * Throws a UserError naming the file and what it is when `file` is a pipeline part other than its
 * denoiser: `action` (e.g. "Prune", "distillation's student") works on the denoiser.
 */
export function requireDenoiser(file: string, action: string): void {
  const r = modelRole(file);
  if (r.role === 'denoiser' || r.role === 'model' || !r.pipeline) return;
  const part = r.role === 'pipeline-part' ? `the ${basename(dirname(resolve(file)))}/ part` : PART_NAMES[r.role];
  throw new UserError(
    `${file}: this is ${part} of the pipeline ${r.pipeline}, not its denoiser; ${action} works on the denoiser (${denoiserModelPath(r.pipeline)})`,
    file,
  );
}
