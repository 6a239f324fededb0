// Graph-layer benchmark: how long the analysis behind `inspect`, scoring and the webview takes.
//
//   npx tsx bench/graph.ts [--runs N] [model.onnx|pipeline-folder ...]
//
// Without arguments: every examples/*/unet/model.onnx and bench/out/sd15-unet*/model.onnx (from
// bench/gen_sd_unet.py; the real SD 1.5 node structure) that exist. Per model: readModel once, then
// the best of N runs of each stage (GraphView index, constant folding reads, full analysis with a
// concrete sample shape from unet/config.json, webview index) and the index's JSON size. Prints JSON.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { analyzeWithValues, buildGraphIndex, GraphView, readFoldValues } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import type { Model } from '../src/core/onnx/types';
import { best, foldCandidates, sdModels } from './common';

const ROOT = resolve(__dirname, '..');

function defaultModels(): string[] {
  const out: string[] = [];
  const ex = join(ROOT, 'examples');
  if (existsSync(ex)) for (const d of readdirSync(ex)) if (existsSync(join(ex, d, 'unet', 'model.onnx'))) out.push(join(ex, d, 'unet', 'model.onnx'));
  return [...out, ...sdModels()];
}

function sampleShape(modelPath: string, m: Model): number[] | undefined {
  const cfgPath = join(modelPath, '..', 'config.json');
  const sample = m.graph.inputs.find((v) => v.name === 'sample');
  if (!sample || !existsSync(cfgPath)) return undefined;
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  const size = Array.isArray(cfg.sample_size) ? cfg.sample_size : [cfg.sample_size, cfg.sample_size];
  return [2, cfg.in_channels, size[0], size[1]];
}

async function main() {
  const args = process.argv.slice(2);
  let runs = 7;
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--runs') runs = Number(args[++i]);
    else paths.push(statSync(args[i]).isDirectory() ? join(args[i], 'unet', 'model.onnx') : args[i]);
  }
  const results = [];
  for (const p of paths.length ? paths : defaultModels()) {
    const t0 = performance.now();
    const model = await readModel(p);
    const readMs = +(performance.now() - t0).toFixed(1);
    const dims = sampleShape(p, model);
    const view = await best(runs, () => new GraphView(model.graph));
    const fold = await best(runs, () => readFoldValues(foldCandidates(model)));
    const analysis = await best(runs, () => analyzeWithValues(model, fold.result, dims ? { sample: dims } : {}));
    const index = await best(runs, () => buildGraphIndex(analysis.result));
    const root = analysis.result.total.get(analysis.result.tree.root)!;
    results.push({
      model: p,
      nodes: model.graph.nodes.length,
      modules: analysis.result.tree.byId.size,
      sample: dims ?? null,
      params: root.params,
      flops: root.flops,
      ms: { readModel: readMs, graphView: view.ms, foldReads: fold.ms, analyze: analysis.ms, graphIndex: index.ms },
      indexJsonBytes: JSON.stringify(index.result).length,
    });
  }
  console.log(JSON.stringify({ bench: 'graph', runs, results }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
