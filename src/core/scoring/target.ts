// What is being scored: a pipeline folder (its U-Net, through the sampling loop) or a bare .onnx
// (one forward pass on seeded random inputs); where its score file goes; and the model's identity.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors';
import type { Model } from '../onnx/types';
import { denoiserModelPath } from '../pipeline/layout';

export interface ScoreTarget {
  kind: 'pipeline' | 'model';
  /** the pipeline folder (kind 'pipeline') */
  pipeline?: string;
  /** the .onnx being scored (the pipeline's unet/model.onnx) */
  modelPath: string;
}

/**
 * A folder with model_index.json is a pipeline; a .onnx at <pipeline>/unet/model.onnx is scored
 * through that pipeline too (its latents come from the sampling loop); any other .onnx is a bare model.
 */
export function resolveTarget(arg: string): ScoreTarget {
  const p = resolve(arg);
  if (!existsSync(p)) throw new UserError(`${p}: does not exist`, p);
  if (statSync(p).isDirectory()) {
    if (!existsSync(join(p, 'model_index.json'))) throw new UserError(`${p}: is a folder without model_index.json; give an .onnx file or a pipeline folder`, p);
    const unet = denoiserModelPath(p);
    if (!existsSync(unet)) throw new UserError(`${p}: the pipeline folder has no unet/model.onnx (nor transformer/model.onnx)`, p);
    return { kind: 'pipeline', pipeline: p, modelPath: unet };
  }
  if (!p.endsWith('.onnx')) throw new UserError(`${p}: expected an .onnx model or a pipeline folder`, p);
  const folder = dirname(dirname(p));
  if (basename(p) === 'model.onnx' && existsSync(join(folder, 'model_index.json')) && resolve(denoiserModelPath(folder)) === p) {
    return { kind: 'pipeline', pipeline: folder, modelPath: p };
  }
  return { kind: 'model', modelPath: p };
}

/** MODEL.ldscores.json beside the model (unet/model.ldscores.json for a pipeline); shards get their own. */
export function defaultScoreFile(modelPath: string, shard?: { index: number; count: number }): string {
  const base = modelPath.replace(/\.onnx$/i, '');
  return shard ? `${base}.ldscores.shard-${shard.index + 1}-of-${shard.count}.json` : `${base}.ldscores.json`;
}

export interface ModelIdentity {
  path: string;
  sha256: string;
  bytes: number;
  /** external data files: hashing gigabytes on every run is too slow, size + mtime identify them */
  externalData: { file: string; bytes: number; mtimeMs: number }[];
}

export async function modelIdentity(model: Model): Promise<ModelIdentity> {
  const path = model.path;
  const hash = createHash('sha256');
  await new Promise<void>((ok, fail) => {
    createReadStream(path).on('data', (c) => hash.update(c)).on('end', ok).on('error', fail);
  });
  const files = new Set<string>();
  for (const t of model.graph.initializers) if (t.location.kind === 'external') files.add(t.location.file);
  const externalData = [...files].sort().map((f) => {
    const st = statSync(f);
    return { file: basename(f), bytes: st.size, mtimeMs: Math.round(st.mtimeMs) };
  });
  return { path, sha256: hash.digest('hex'), bytes: statSync(path).size, externalData };
}

export function sameIdentity(a: ModelIdentity, b: ModelIdentity): boolean {
  return a.sha256 === b.sha256 && JSON.stringify(a.externalData) === JSON.stringify(b.externalData);
}
