// The ld-surgeon CLI. Each command lives in src/cli/commands/<name>.ts and exports `register`;
// this file only wires them up and turns errors into one clear line on stderr.
// First: onnxruntime's telemetry off before anything loads the runtime (LD_SURGEON_ORT_TELEMETRY=1 allows it).
import '../core/runtime/quiet';
import { Command, CommanderError } from 'commander';
import { commands } from './commands';
import { CancelledError, UserError } from '../core/errors';

const program = new Command();
program
  .name('ld-surgeon')
  .description('LD-Pruner surgery for ONNX latent diffusion models: inspect, score, prune, sample, distill')
  .option('--verbose', 'print stack traces on errors')
  .showHelpAfterError()
  .exitOverride();

for (const register of commands) register(program);

function report(err: unknown): never {
  const verbose = program.opts().verbose || process.argv.includes('--verbose');
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (verbose && err instanceof Error) console.error(err.stack);
  else console.error(`ld-surgeon: ${err instanceof Error ? err.message : String(err)}`);
  // 130 = stopped by SIGINT, what a shell or a CI step expects from a cancelled command
  process.exit(err instanceof CancelledError ? 130 : err instanceof UserError ? 2 : 1);
}

program.parseAsync(process.argv).catch(report);
