// Structural modules benchmark: what deriving modules from the graph's structure costs, on models
// whose scopes are stripped the way converters and older exporters leave them.
//
//   npx tsx bench/structure.ts [--runs N] [model.onnx ...]
//
// Default: test/fixtures/structural/resnet18_opset9.onnx and the generated SD U-Nets (bench/common.ts BENCH_MODELS)
// (bench/gen_sd_unet.py). Per model, in the same run: the full analysis as exported (baseline: the
// scoped module tree, or already structural for an unscoped file) and with every node name and
// metadata entry cleared (structural modules), best of N; the structural tree's size. Prints JSON.
import { join, resolve } from 'node:path';
import { analyzeWithValues, readFoldValues, type ModelAnalysis } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import type { Model } from '../src/core/onnx/types';
import { best, foldCandidates, sdModels } from './common';

const ROOT = resolve(__dirname, '..');

function defaultModels(): string[] {
  return [join(ROOT, 'test/fixtures/structural/resnet18_opset9.onnx'), ...sdModels()];
}

function stripped(m: Model): Model {
  return { ...m, graph: { ...m.graph, nodes: m.graph.nodes.map((n) => ({ ...n, name: '', metadataProps: undefined })) } };
}

async function main() {
  const args = process.argv.slice(2);
  let runs = 3;
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--runs') runs = Number(args[++i]);
    else paths.push(args[i]);
  }
  const results = [];
  for (const p of paths.length ? paths : defaultModels()) {
    const model = await readModel(p);
    const values = await readFoldValues(foldCandidates(model));
    const asExported = await best(runs, () => analyzeWithValues(model, values));
    const bare = stripped(model);
    const structural = await best(runs, () => analyzeWithValues(bare, values));
    const tree = structural.result.tree;
    results.push({
      model: p,
      nodes: model.graph.nodes.length,
      asExported: { scopeSource: asExported.result.tree.source, modules: asExported.result.tree.byId.size, analyzeMs: asExported.ms },
      structural: {
        scopeSource: tree.source,
        modules: tree.byId.size,
        topLevel: tree.root.children.map((m) => m.id),
        maxDepth: Math.max(...[...tree.byId.values()].map((m) => m.depth)),
        analyzeMs: structural.ms,
      },
    });
  }
  console.log(JSON.stringify({ bench: 'structure', runs, results }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
