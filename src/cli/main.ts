// The ld-surgeon CLI's entry point (dist/cli.js). It knows the command list and nothing else, so
// `ld-surgeon --help` starts fast; a command's module, the model reader, the graph layer and
// onnxruntime-node are loaded (run.ts, bundled as dist/cli-run.js) only when a command runs or its
// own help is asked for. Start-up is measured by bench/cli-startup.ts.
import { commandOf, commands } from './commands';
import { createProgram, reportAndExit } from './program';

async function main(): Promise<void> {
  const chosen = commandOf(process.argv.slice(2));
  if (chosen) {
    const { runCommand } = await import('./run');
    return runCommand(chosen.name, process.argv);
  }
  // No command, `--help`, `help` or an unknown word: commander shows the list (or the error and the list).
  const program = createProgram();
  for (const c of commands) program.command(c.name).summary(c.summary);
  await program.parseAsync(process.argv).catch((err) => reportAndExit(program, err));
}

// Only a failure to load the commands bundle gets here (commands report their own errors).
main().catch((err) => reportAndExit(createProgram(), err));
