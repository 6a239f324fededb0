// "Check model" in the graph editor: the pruned-model checks run on the document as it is now,
// unsaved edits included. The current snapshot is encoded to a scratch folder (the save path's
// writer, so it is the file Save would write), re-read, checked for structure, then loaded in
// onnxruntime beside the original and run on the same seeded inputs (output difference, latency).
// The scratch folder is removed afterwards; one left by a killed process is swept on the next check.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { compareModels, type CompareResult } from '../prune/compare';
import { checkReread, checkStructure } from '../prune/checks';
import type { LatencyComparison, LatentComparison, PruneCheckResult } from '../prune/types';
import type { EpRequest } from '../scoring/settings';
import { EDIT_CHECK_DIR_PREFIX, makeWorkDir, removeStaleWorkDirs } from '../work-dirs';
import type { EditableModel } from './document';
import { saveEdited } from './save';

export interface EditCheckOptions {
  /** seeded input samples compared (default 2: a quick check, not a score) */
  samples?: number;
  seed?: number;
  ep?: EpRequest;
  /** latency budget in seconds (default 2, at least 3 timed runs each) */
  latencySeconds?: number;
  signal?: AbortSignal;
}

/** What "Check model" shows: the checks as the prune result shows them, plus the measurements. */
export interface EditCheckResult {
  /** the document version checked */
  version: number;
  checks: PruneCheckResult[];
  ep?: string;
  latents?: LatentComparison;
  latency?: LatencyComparison;
  seconds: number;
}

export async function checkEditedModel(doc: EditableModel, o: EditCheckOptions = {}): Promise<EditCheckResult> {
  const t0 = performance.now();
  removeStaleWorkDirs([EDIT_CHECK_DIR_PREFIX]);
  const dir = makeWorkDir(EDIT_CHECK_DIR_PREFIX);
  const version = doc.version;
  const checks: PruneCheckResult[] = [];
  let compared: CompareResult | undefined;
  try {
    const file = join(dir, 'edited.onnx');
    await saveEdited(doc.model, doc.path, file, [doc.model], { durable: false, signal: o.signal });
    const reread = await checkReread(file, doc.model);
    checks.push(reread.check);
    if (reread.model) checks.push(checkStructure(reread.model, new Set(doc.model.graph.inputs.map((i) => i.name))));
    if (!checks.some((c) => c.status === 'failed')) {
      compared = await compareModels(doc.path, file, {
        settings: { samples: o.samples ?? 2, seed: o.seed ?? 0, variant: 'avg+std', steps: 1, scheduler: 'ddim', eta: 0, conditions: { kind: 'default' } },
        ep: o.ep ?? 'cpu',
        latency: { seconds: o.latencySeconds ?? 2, minRuns: 3 },
        metric: false,
        signal: o.signal,
      });
      // a bare model has no quality metric; the editor never offers one, so the row says nothing
      checks.push(...compared.checks.filter((c) => c.name !== 'metric'));
    } else {
      checks.push({ name: 'onnxruntime', status: 'skipped', detail: 'not run: the encoded model failed the checks above' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { version, checks, ep: compared?.ep.used, latents: compared?.latents, latency: compared?.latency, seconds: (performance.now() - t0) / 1000 };
}
