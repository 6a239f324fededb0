// Every CLI command, in the order `--help` lists them. Add a command here (name and one-line summary)
// and its module's register function in registry.ts.
//
// This list imports no command module: they pull in the model reader, the graph layer and
// onnxruntime-node, which `ld-surgeon --help` never needs (see main.ts).
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export interface CommandEntry {
  /** the name its module registers (test/cli-commands.test.ts checks that they agree) */
  name: string;
  /** one line for the command list; the module's own description is in `ld-surgeon help <name>` */
  summary: string;
}

export const commands: CommandEntry[] = [
  { name: 'inspect', summary: 'inputs/outputs, params, FLOPs and module tree of a model' },
  { name: 'convert', summary: 'rewrite a model with external or embedded weights' },
  { name: 'sample', summary: 'generate samples from a pipeline, scored by its metric' },
  { name: 'measure', summary: "a pipeline's metric against its original, paired seeds" },
  { name: 'candidates', summary: 'list the blocks and layers that scoring would modify' },
  { name: 'score', summary: 'score each operator by its effect on the latents' },
  { name: 'merge-scores', summary: 'merge the score files of sharded scoring jobs' },
  { name: 'faithfulness', summary: 'check that the lowest-scored candidates matter least' },
  { name: 'report', summary: 'measure lowest vs random vs highest pruning on a pipeline' },
  { name: 'prune', summary: 'remove candidates; checks and measures the result' },
  { name: 'distill', summary: 'recover a pruned model by knowledge distillation' },
];

/**
 * The command a command line runs: the first word that is not an option (the only global option,
 * --verbose, takes no value), or the word after `help`. Undefined for `--help`, no command or an
 * unknown word, where the whole command list is shown.
 */
export function commandOf(args: readonly string[]): CommandEntry | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return commands.find((c) => c.name === name);
}
