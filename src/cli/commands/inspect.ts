// ld-surgeon inspect MODEL: model summary and module tree (params, FLOPs), as a table or JSON.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { analyzeModel, buildInspectReport, renderInspectText } from '../../core/graph';
import { readModel } from '../../core/onnx/reader';
import { denoiserModelPath } from '../../core/pipeline/layout';
import { inputShapesFlag, intFlag, repeatable } from '../flags';

/**
 * A pipeline folder (with model_index.json) stands for its U-Net. Resolved here rather than with
 * the pipeline layout reader, which also requires the VAE and scheduler that inspect never needs.
 */
export function resolveModelPath(arg: string): string {
  const p = resolve(arg);
  if (existsSync(p) && statSync(p).isDirectory()) {
    if (!existsSync(join(p, 'model_index.json'))) throw new UserError(`${p}: is a folder without model_index.json; give an .onnx file or a pipeline folder`, p);
    const unet = denoiserModelPath(p);
    if (!existsSync(unet)) throw new UserError(`${p}: pipeline folder has no unet/model.onnx (nor transformer/model.onnx)`, p);
    return unet;
  }
  return p;
}

/** @param out where the report goes (stdout; tests pass a collector) */
export function register(program: Command, out: { write(s: string): unknown } = process.stdout): void {
  program
    .command('inspect')
    .description('summarise a model: inputs/outputs, params, FLOPs and the module tree')
    .argument('<model>', '.onnx file, or a pipeline folder (inspects its unet/model.onnx)')
    .option('--json', 'print the summary as JSON (schema ld-surgeon/inspect@1)')
    .option('--depth <n>', 'module tree depth to list', '2')
    .option('--input <name=dims>', 'concrete dims for an input, e.g. sample=1,4,64,64 (repeatable)', repeatable, [] as string[])
    .action(async (modelArg: string, opts: { json?: boolean; depth: string; input: string[] }) => {
      const depth = intFlag('--depth', opts.depth, 0)!;
      const inputShapes = inputShapesFlag(opts.input);
      const model = await readModel(resolveModelPath(modelArg));
      const analysis = await analyzeModel(model, { inputShapes });
      const report = buildInspectReport(analysis, depth);
      out.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : renderInspectText(report) + '\n');
    });
}
