// The graph index and the candidate an edit needs, in process, on the SD-1.5 U-Net (bench/gen_sd_unet.py):
// per edit, the index built from the one before with its patch (updateGraphIndex, what the editor does now)
// beside a whole build plus a diff of the two indexes (what it did before), and the patch sizes of both;
// then the one candidate a bypass needs (findCandidate) beside the whole listing (findCandidates). Medians
// of --runs, same process, same analyses. Prints JSON.
//   LD_SURGEON_BENCH_MODELS=… npx tsx bench/index-update.ts [--model M.onnx] [--runs N]
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { sdModels } from './common';
import { EditableModel, type ModelEdit } from '../src/core/edit';
import { buildGraphIndex } from '../src/core/graph';
import { diffGraphIndex } from '../src/core/graph/index-patch';
import { updateGraphIndex } from '../src/core/graph/index-update';
import { findCandidates } from '../src/core/surgery';
import { findCandidate } from '../src/core/surgery/candidates';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const model = resolve(opt('--model') ?? sdModels()[0] ?? 'examples/digits-cond/unet/model.onnx');
const runs = Number(opt('--runs') ?? 5);

const EDITS: [string, ModelEdit][] = [
  ['bypass mid_block.attentions.0', { kind: 'bypass', module: 'mid_block.attentions.0' }],
  ['bypass up_blocks.1.attentions.0', { kind: 'bypass', module: 'up_blocks.1.attentions.0' }],
  ['rename a node', { kind: 'rename-node', node: '/conv_in/Conv', to: 'stem' }],
];

const r1 = (x: number) => Math.round(x * 10) / 10;
function median(fn: () => unknown): number {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    xs.push(performance.now() - t0);
  }
  return r1(xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
}

async function main() {
  const doc = await EditableModel.open(model);
  const edits: Record<string, unknown> = {};
  for (const [label, edit] of EDITS) {
    const before = { analysis: doc.analysis(), index: buildGraphIndex(doc.analysis()) };
    const candidateMs = 'module' in edit ? median(() => findCandidate(before.analysis, edit.module, { granularity: 'both' })) : undefined;
    const listingMs = 'module' in edit ? median(() => findCandidates(before.analysis, { granularity: 'both' })) : undefined;
    await doc.apply(edit);
    const a = doc.analysis();
    const { patch } = updateGraphIndex(before, a);
    const whole = buildGraphIndex(a);
    edits[label] = {
      indexFromBeforeMs: median(() => updateGraphIndex(before, a)),
      wholeBuildMs: median(() => buildGraphIndex(a)),
      diffMs: median(() => diffGraphIndex(before.index, whole)),
      patchBytes: JSON.stringify(patch).length,
      diffPatchBytes: JSON.stringify(diffGraphIndex(before.index, whole)).length,
      ...(candidateMs !== undefined ? { candidateAloneMs: candidateMs, wholeListingMs: listingMs } : {}),
    };
  }
  console.log(JSON.stringify({ model, nodes: doc.model.graph.nodes.length, runs, cpus: cpus().length, loadAverage1m: r1(loadavg()[0]), edits }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
