// The input shapes a model is analysed at for the views and the editor, so FLOPs are per sample.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Model } from '../onnx/types';

/** diffusers' U-Net config beside the model: sample_size and in_channels give the latent shape. */
export function latentShapeFromConfig(modelPath: string): number[] | undefined {
  const cfgPath = path.join(path.dirname(modelPath), 'config.json');
  if (!modelPath || !existsSync(cfgPath)) return undefined;
  try {
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { sample_size?: number | number[]; in_channels?: number };
    const size = Array.isArray(cfg.sample_size) ? cfg.sample_size : [cfg.sample_size, cfg.sample_size];
    if (typeof cfg.in_channels !== 'number' || !size.every((d) => typeof d === 'number' && d > 0)) return undefined;
    return [1, cfg.in_channels, size[0] as number, size[1] as number];
  } catch {
    return undefined;
  }
}

/**
 * Costs are shown per sample: an input whose only symbolic dim is the leading (batch) axis is analyzed at
 * batch 1, and a U-Net's `sample` with symbolic height/width takes its size from the config.json beside it.
 * Inputs with other symbolic dims keep them (their costs stay partly unknown, and the views say so).
 */
export function perSampleInputShapes(model: Model): Record<string, number[]> {
  const constants = new Set(model.graph.initializers.map((t) => t.name));
  const shapes: Record<string, number[]> = {};
  for (const v of model.graph.inputs) {
    if (constants.has(v.name) || v.type?.kind !== 'tensor' || !v.type.shape?.length) continue;
    const dims = v.type.shape;
    if (v.name === 'sample' && dims.length === 4 && dims.slice(1).some((d) => typeof d.value !== 'number')) {
      const latent = latentShapeFromConfig(model.path);
      const fits = latent && dims.every((d, i) => typeof d.value !== 'number' || i === 0 || d.value === latent[i]);
      if (fits) shapes[v.name] = latent;
      continue;
    }
    const [first, ...rest] = dims;
    if (typeof first.value === 'number' || !rest.every((d) => typeof d.value === 'number')) continue;
    shapes[v.name] = [1, ...rest.map((d) => d.value!)];
  }
  return shapes;
}
