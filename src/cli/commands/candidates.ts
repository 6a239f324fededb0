// ld-surgeon candidates MODEL_OR_PIPELINE: the operators scoring would score, with their params,
// FLOPs and the modification each gets (or why it cannot be modified). Nothing is run.
import type { Command } from 'commander';
import { analyzeModel } from '../../core/graph';
import { readModel } from '../../core/onnx/reader';
import { renderCandidates } from '../../core/scoring/format';
import { analysisShapes } from '../../core/scoring/prepare';
import { resolveTarget } from '../../core/scoring/target';
import { findCandidates } from '../../core/surgery';
import { choiceFlag, GRANULARITIES, inputShapesFlag, repeatable } from '../flags';

export const CANDIDATES_SCHEMA = 'ld-surgeon/candidates@1';

export function register(program: Command): void {
  program
    .command('candidates')
    .description('list the operators (blocks and layers) LD-Pruner scoring would modify, with params, FLOPs and the modification')
    .argument('<model>', 'pipeline folder, or an .onnx model')
    .option('--granularity <g>', 'block, layer or both', 'both')
    .option('--input <name=dims>', 'concrete dims for an input, e.g. sample=1,4,64,64 (repeatable)', repeatable, [] as string[])
    .option('--json', `print JSON (schema ${CANDIDATES_SCHEMA})`)
    .action(async (arg: string, f: { granularity: string; input: string[]; json?: boolean }) => {
      const granularity = choiceFlag('--granularity', f.granularity, GRANULARITIES);
      const inputs = inputShapesFlag(f.input);
      const target = resolveTarget(arg);
      const model = await readModel(target.modelPath);
      const a = await analyzeModel(model, { inputShapes: analysisShapes(model, target, inputs) });
      const list = findCandidates(a, { granularity });
      if (f.json) {
        const candidates = list.map((c) => ({
          id: c.id, level: c.level, kind: c.kind, params: c.params, macs: c.macs, flops: c.flops, replacementFlops: c.replacementFlops,
          uncountedOps: c.uncountedOps, ops: c.ops, entry: c.entry, exit: c.exit, entryShape: c.entryShape, exitShape: c.exitShape,
          modification: c.modification ? c.modification.action : 'none', method: c.modification?.method, steps: c.modification?.steps,
          description: c.modification?.description, reason: c.reason, aliases: c.aliases,
        }));
        process.stdout.write(JSON.stringify({ schema: CANDIDATES_SCHEMA, model: target.modelPath, granularity: f.granularity, candidates }, null, 2) + '\n');
      } else process.stdout.write(`${target.modelPath}\n\n${renderCandidates(list)}\n`);
    });
}
