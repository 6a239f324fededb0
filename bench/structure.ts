// Structural modules benchmark: what deriving modules from the graph's structure costs, on models
// whose scopes are stripped the way converters and older exporters leave them.
//
//   npx tsx bench/structure.ts [--runs N] [model.onnx ...]
//
// Default: test/fixtures/structural/resnet18_opset9.onnx and /work/bench-models/sd15-unet-*/model.onnx
// (bench/gen_sd_unet.py). Per model, in the same run: the full analysis as exported (baseline: the
// scoped module tree, or already structural for an unscoped file) and with every node name and
// metadata entry cleared (structural modules), best of N; the structural tree's size. Prints JSON.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { analyzeWithValues, readFoldValues, type ModelAnalysis } from '../src/core/graph';
import { attr } from '../src/core/graph/attrs';
import { readModel } from '../src/core/onnx/reader';
import type { Model, TensorData } from '../src/core/onnx/types';

const ROOT = resolve(__dirname, '..');
const BENCH_MODELS = '/work/bench-models';

function defaultModels(): string[] {
  const out = [join(ROOT, 'test/fixtures/structural/resnet18_opset9.onnx')];
  if (existsSync(BENCH_MODELS)) {
    for (const d of readdirSync(BENCH_MODELS).sort()) {
      const p = join(BENCH_MODELS, d, 'model.onnx');
      if (d.startsWith('sd15-unet') && !d.includes('staging') && existsSync(p)) out.push(p);
    }
  }
  return out;
}

function foldCandidates(m: Model): TensorData[] {
  const out = [...m.graph.initializers];
  for (const n of m.graph.nodes) {
    const t = attr(n, 'value')?.t;
    if (t) out.push(t);
  }
  return out;
}

function stripped(m: Model): Model {
  return { ...m, graph: { ...m.graph, nodes: m.graph.nodes.map((n) => ({ ...n, name: '', metadataProps: undefined })) } };
}

function best(runs: number, fn: () => ModelAnalysis): { ms: number; result: ModelAnalysis } {
  let ms = Infinity;
  let result!: ModelAnalysis;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    result = fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms: +ms.toFixed(1), result };
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
    const asExported = best(runs, () => analyzeWithValues(model, values));
    const bare = stripped(model);
    const structural = best(runs, () => analyzeWithValues(bare, values));
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
