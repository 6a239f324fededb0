// ld-surgeon convert IN OUT: rewrites a model, moving its weights into one external data file or back
// inside the .onnx. Also the simplest end-to-end check of the reader and writer on a user's model.
import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { readModel } from '../../core/onnx/reader';
import { writeModel, type WriteOptions } from '../../core/onnx/writer';

function mb(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

export function register(program: Command): void {
  program
    .command('convert')
    .description('rewrite a model, with its weights in one external data file or embedded in the .onnx')
    .argument('<in>', 'source .onnx file (never modified)')
    .argument('<out>', 'output .onnx file')
    .option('--external-data', 'put every tensor of 1 kB or more into <out>.data (4096-aligned)')
    .option('--embed', 'put every tensor inside the .onnx (fails above protobuf\'s 2 GB limit)')
    .option('--data-name <file>', 'name of the external data file, in the output folder (default: <out name>.data)')
    .option('--json', 'print what was written as JSON')
    .action(async (input: string, output: string, opts: { externalData?: boolean; embed?: boolean; dataName?: string; json?: boolean }) => {
      if (opts.externalData && opts.embed) throw new UserError('--external-data and --embed cannot be used together');
      const mode: WriteOptions['externalData'] = opts.externalData ? 'always' : opts.embed ? 'never' : 'auto';
      const model = await readModel(input);
      const r = await writeModel(model, output, { externalData: mode, externalDataName: opts.dataName });
      if (opts.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      const lines = [`wrote ${r.path} (${mb(r.bytes)}): ${r.tensors} tensors`];
      if (r.dataPath) lines.push(`  ${r.externalTensors} tensors in external data ${r.dataPath} (${mb(r.dataBytes ?? 0)}), ${r.tensors - r.externalTensors} embedded`);
      else lines.push('  all tensor data embedded in the .onnx');
      process.stdout.write(lines.join('\n') + '\n');
    });
}
