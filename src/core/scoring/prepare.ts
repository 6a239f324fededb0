// Everything a scoring (or faithfulness) run needs before its first evaluation: the model read and
// analysed with the shapes it will run with, its candidates, and the gated evaluation model written
// to a work folder.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors';
import { EVAL_DIR_PREFIX, makeWorkDir } from '../work-dirs';
import { analyzeModel, type ModelAnalysis } from '../graph';
import { factsFromType } from '../graph/shapes';
import { readModel } from '../onnx/reader';
import type { Model } from '../onnx/types';
import { readPipelineLayout } from '../pipeline/layout';
import { buildGatedModel, findCandidates, type Candidate, type GatedModel } from '../surgery';
import type { Granularity } from '../surgery/types';
import { evalModel, type EvalModel } from './eval-model';
import type { ScoreTarget } from './target';

export interface Prepared {
  model: Model;
  analysis: ModelAnalysis;
  candidates: Candidate[];
  /** the modifiable candidates, in gate order */
  gated: Candidate[];
  gatedModel: GatedModel;
  workDir: string;
  /** the gated model as onnxruntime loads it (in memory, or a file in the work folder) */
  evalModel: EvalModel;
  /** removes the work folder (the eval model, if written, and its profile) */
  dispose(): void;
}

/**
 * Concrete input shapes for the shape pass: batch 1; a pipeline's latent size from the U-Net's
 * static dims, else model_index.json's ld_surgeon.latent_shape, else unet/config.json.
 */
export function analysisShapes(model: Model, target: ScoreTarget, inputs?: Record<string, number[]>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  const graphInputs = model.graph.inputs.filter((v) => !model.graph.initializers.some((t) => t.name === v.name));
  let latent: number[] | undefined;
  if (target.kind === 'pipeline') {
    const layout = readPipelineLayout(target.pipeline!);
    const hint = layout.ldSurgeon.latentShape;
    const cfg = layout.unetConfig;
    const size = typeof cfg.sample_size === 'number' ? [cfg.sample_size, cfg.sample_size] : Array.isArray(cfg.sample_size) ? (cfg.sample_size as number[]) : undefined;
    const channels = typeof cfg.in_channels === 'number' ? cfg.in_channels : undefined;
    latent = hint ?? (size && channels ? [channels, ...size] : undefined);
  }
  for (const v of graphInputs) {
    if (inputs?.[v.name]) {
      out[v.name] = inputs[v.name];
      continue;
    }
    const declared = factsFromType(v.type)?.shape;
    if (!declared) continue;
    const dims = declared.map((d, i) => {
      if (typeof d === 'number') return d;
      if (i === 0) return 1;
      if (latent && declared.length === 4 && v.name === 'sample') return latent[i - 1];
      return null;
    });
    if (dims.every((d): d is number => typeof d === 'number')) out[v.name] = dims;
  }
  return out;
}

export async function prepare(target: ScoreTarget, granularity: Granularity, opts: { inputs?: Record<string, number[]>; workDir?: string }): Promise<Prepared> {
  const model = await readModel(target.modelPath);
  const analysis = await analyzeModel(model, { inputShapes: analysisShapes(model, target, opts.inputs) });
  const candidates = findCandidates(analysis, { granularity });
  const gated = candidates.filter((c) => c.modification);
  if (!gated.length) {
    const reasons = [...new Set(candidates.map((c) => c.reason))].slice(0, 3).join('; ');
    throw new UserError(`${target.modelPath}: no candidate at ${granularity} granularity can be modified${candidates.length ? ` (${reasons})` : ' (no module scopes or operators found)'}`, target.modelPath);
  }
  const gatedModel = buildGatedModel(model, gated);
  const workDir = makeWorkDir(EVAL_DIR_PREFIX, opts.workDir);
  const dispose = () => rmSync(workDir, { recursive: true, force: true });
  let evalM: EvalModel;
  try {
    evalM = await evalModel(gatedModel.model, target.modelPath, join(workDir, 'eval.onnx'));
  } catch (e) {
    dispose();
    throw e;
  }
  return { model, analysis, candidates, gated, gatedModel, workDir, evalModel: evalM, dispose };
}

/** Whether two candidates share nodes (a block and one of its layers): never both pruned. */
export function overlaps(a: Candidate, b: Candidate): boolean {
  if (a === b) return true;
  const s = new Set(a.nodeIndices);
  return b.nodeIndices.some((i) => s.has(i));
}
