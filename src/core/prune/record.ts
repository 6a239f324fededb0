// The prune record (*.prune.json): reading one back (a pruned model's own record becomes the parent
// of the next prune's), the model figures it holds, and the hash of a written file.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import type { ModelAnalysis } from '../graph';
import type { Model } from '../onnx/types';
import { modelFiles, recordPathFor } from './output';
import { modelFileOf } from '../pipeline/layout';
import { PRUNE_FORMAT, type ModelFigures, type PruneRecord } from './types';

/** The record at `path`, or undefined when there is none (or it is not one this version reads). */
export function readPruneRecord(path: string): PruneRecord | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as Partial<PruneRecord>;
    return j && j.format === PRUNE_FORMAT && Array.isArray(j.removed) ? (j as PruneRecord) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The original a pruned model (or pipeline folder) came from, by its prune record (`X.prune.json` beside `X.onnx`):
 * the teacher a distillation defaults to. Undefined without a record or when the original is gone.
 */
export function originalOfPruned(pruned: string): string | undefined {
  const record = readPruneRecord(recordPathFor(modelFileOf(pruned)));
  return record && existsSync(record.source.model) ? record.source.model : undefined;
}

export function filesBytes(files: readonly string[]): number {
  return files.reduce((sum, f) => sum + (statSync(f, { throwIfNoEntry: false })?.size ?? 0), 0);
}

export function figures(a: ModelAnalysis, model: Model, files = modelFiles(model)): ModelFigures {
  const root = a.total.get(a.tree.root)!;
  return {
    params: root.params,
    flops: root.flops,
    uncountedOps: root.uncounted,
    nodes: model.graph.nodes.length,
    initializers: model.graph.initializers.length,
    fileBytes: filesBytes(files),
  };
}

export function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  return new Promise((ok, fail) => {
    createReadStream(path).on('data', (c) => hash.update(c)).on('end', () => ok(hash.digest('hex'))).on('error', fail);
  });
}
