// ld-surgeon prune MODEL_OR_PIPELINE: removes the chosen candidates (explicit ids, the k lowest
// scored, the k lowest of one depth stack, or lowest scored first until a latency / params / FLOPs
// target is met), keeps every other weight byte for byte, checks the result and writes it with its record beside it. Ctrl-C leaves nothing.
import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { parseTargetFraction, pruneModel, renderPruneSummary, type PruneSelection } from '../../core/prune';
import { EP_CHOICES } from '../../core/scoring/settings';
import { choiceFlag, inputShapesFlag, intFlag, numFlag, repeatable } from '../flags';

interface PruneFlags {
  ops?: string;
  lowest?: string;
  stack?: string;
  k?: string;
  targetLatency?: string;
  targetParams?: string;
  targetFlops?: string;
  scores?: string;
  out?: string;
  force?: boolean;
  ep: string;
  metric: boolean;
  samples?: string;
  steps?: string;
  latencySeconds?: string;
  input: string[];
  json?: boolean;
  quiet?: boolean;
}

function selectionOf(f: PruneFlags): PruneSelection {
  if (f.k !== undefined && f.stack === undefined) throw new UserError('--k goes with --stack: the k lowest-scored blocks of that stack');
  const given = [
    f.ops !== undefined && '--ops', f.lowest !== undefined && '--lowest', f.stack !== undefined && '--stack',
    f.targetLatency !== undefined && '--target-latency', f.targetParams !== undefined && '--target-params', f.targetFlops !== undefined && '--target-flops',
  ].filter((x): x is string => !!x);
  if (given.length !== 1) {
    throw new UserError(given.length ? `use only one of ${given.join(', ')}` : 'say what to prune: --ops ID,..., --lowest K, --stack ID --k K, --target-latency -35%, --target-params -30% or --target-flops -30%');
  }
  if (f.stack !== undefined) {
    if (f.k === undefined) throw new UserError(`--stack ${f.stack}: say how many of its blocks to prune with --k K`);
    if (!f.stack.trim()) throw new UserError('--stack: no stack id given (`ld-surgeon inspect` lists the modules; a stack is e.g. transformer_blocks)');
    return { mode: 'stack', stack: f.stack.trim(), count: intFlag('--k', f.k, 1)! };
  }
  if (f.ops !== undefined) {
    const ids = f.ops.split(',').map((s) => s.trim()).filter(Boolean);
    if (!ids.length) throw new UserError('--ops: no candidate ids given (`ld-surgeon candidates` lists them)');
    return { mode: 'ops', ids };
  }
  if (f.lowest !== undefined) return { mode: 'lowest', count: intFlag('--lowest', f.lowest, 0)! };
  if (f.targetLatency !== undefined) return { mode: 'target', kind: 'latency', fraction: parseTargetFraction('--target-latency', f.targetLatency) };
  if (f.targetParams !== undefined) return { mode: 'target', kind: 'params', fraction: parseTargetFraction('--target-params', f.targetParams) };
  return { mode: 'target', kind: 'flops', fraction: parseTargetFraction('--target-flops', f.targetFlops!) };
}

export function register(program: Command): void {
  program
    .command('prune')
    .description('remove candidates (by id, the lowest scored, or until a target is met), keeping the remaining weights; checks and measures the result')
    .argument('<model>', 'pipeline folder, or an .onnx model')
    .option('--ops <ids>', 'comma-separated candidate ids (`ld-surgeon candidates` lists them)')
    .option('--lowest <k>', 'the k lowest-scored candidates of the score file')
    .option('--stack <id>', 'a depth stack (its list, e.g. single_transformer_blocks, or the module holding it, e.g. down_blocks.2.attentions.0): prune its --k lowest-scored blocks')
    .option('--k <k>', 'with --stack: how many of its blocks, 1 to its size − 1')
    .option('--target-latency <pct>', 'lowest scored first until the measured latency shares add up to this reduction, e.g. -35%')
    .option('--target-params <pct>', 'lowest scored first until this share of the parameters is gone, e.g. -30%')
    .option('--target-flops <pct>', 'lowest scored first until this share of the FLOPs is gone, e.g. -30%')
    .option('--scores <file>', 'score file (default: MODEL.ldscores.json beside the model)')
    .option('--out <path>', 'output .onnx (a model) or folder (a pipeline); default MODEL.pruned.onnx / PIPELINE.pruned/')
    .option('--force', 'replace an existing output pipeline folder')
    .option('--ep <provider>', `execution provider of the checks: ${EP_CHOICES.join(', ')}`, 'auto')
    .option('--no-metric', "skip the pipeline's quality metric before/after")
    .option('--samples <n>', "samples of the latent comparison (default: the score file's, else 16)")
    .option('--steps <t>', "denoising steps of the latent comparison (default: the score file's, else the pipeline's)")
    .option('--latency-seconds <s>', 'time budget of the latency measurement', '20')
    .option('--input <name=dims>', 'dims of an input of a bare .onnx model, e.g. sample=1,4,64,64 (repeatable)', repeatable, [] as string[])
    .option('--json', 'print the prune record as JSON')
    .option('--quiet', 'no progress output')
    .action(async (arg: string, f: PruneFlags) => {
      const selection = selectionOf(f);
      const ep = choiceFlag('--ep', f.ep, EP_CHOICES);
      const inputs = inputShapesFlag(f.input);
      const latencySeconds = numFlag('--latency-seconds', f.latencySeconds, { above: 0 })!;
      const tty = process.stderr.isTTY && !f.quiet && !f.json;
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        const record = await pruneModel({
          input: arg,
          selection,
          scores: f.scores,
          out: f.out,
          force: f.force,
          ep,
          metric: f.metric,
          samples: intFlag('--samples', f.samples, 2),
          steps: intFlag('--steps', f.steps, 1),
          latencySeconds,
          inputs: Object.keys(inputs).length ? inputs : undefined,
        }, {
          signal: abort.signal,
          onProgress: tty
            ? (p) => process.stderr.write(`\r\x1b[K${p.phase}: ${p.message}${p.total ? ` ${p.done}/${p.total}` : ''}`)
            : undefined,
        });
        if (tty) process.stderr.write('\r\x1b[K');
        process.stdout.write(f.json ? JSON.stringify(record, null, 1) + '\n' : renderPruneSummary(record) + '\n');
      } finally {
        if (tty) process.stderr.write('\r\x1b[K');
        process.off('SIGINT', onSigint);
      }
    });
}
