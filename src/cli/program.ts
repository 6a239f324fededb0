// The top-level `ld-surgeon` program and its error reporting, shared by the CLI's two bundles: the
// entry (main.ts: the command list, `--help`) and the commands (run.ts), each with its own copy.
import { Command, CommanderError } from 'commander';
import { CancelledError, UserError } from '../core/errors';

export function createProgram(): Command {
  return new Command()
    .name('ld-surgeon')
    .description('LD-Pruner surgery for ONNX latent diffusion models: inspect, score, prune, sample, distill')
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError()
    .exitOverride();
}

/**
 * Turns an error into one clear line on stderr (a stack trace with --verbose) and the exit code.
 * It must run in the bundle whose code threw: each bundle has its own UserError class.
 */
export function reportAndExit(program: Command, err: unknown): never {
  const verbose = program.opts().verbose || process.argv.includes('--verbose');
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (verbose && err instanceof Error) console.error(err.stack);
  else console.error(`ld-surgeon: ${err instanceof Error ? err.message : String(err)}`);
  // 130 = stopped by SIGINT, what a shell or a CI step expects from a cancelled command
  process.exit(err instanceof CancelledError ? 130 : err instanceof UserError ? 2 : 1);
}
