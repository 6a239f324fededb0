// Runs one ld-surgeon command (bundled apart from the entry point as dist/cli-run.js; see main.ts).
// First: onnxruntime's telemetry off before anything loads the runtime (LD_SURGEON_ORT_TELEMETRY=1 allows it).
import '../core/runtime/quiet';
import { registers } from './commands/registry';
import { createProgram, reportAndExit } from './program';

export async function runCommand(name: string, argv: string[]): Promise<void> {
  const program = createProgram();
  const register = registers[name];
  if (!register) throw new Error(`no CLI command module registers '${name}'`);
  register(program);
  await program.parseAsync(argv).catch((err) => reportAndExit(program, err));
}
