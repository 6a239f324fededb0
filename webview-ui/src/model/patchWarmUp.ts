// Warming the code an edit's redraw runs, while the view is idle after its first paint.
//
// Why: the first edit in a page ran the patch code cold — applying the index patch and building the
// patched view model took 43-128 ms on SD-1.5 (bench/webview.ts, ld:patch:model) against 15-25 ms
// once the same code had run a couple of times: V8 had not yet optimised the loops over ~4,400
// nodes, ~5,000 values and ~6,000 edges. Running the same functions once on a patch shaped like an
// edit's (a splice in the middle, so that everything after it is remapped as a bypass remaps it)
// while the user is looking at the graph makes the first real edit cost what later ones do.
// The result is dropped: nothing here changes the index, the view model it reads, or the page.
import type { GraphIndex } from '../../../src/protocol/webview';
import { applyGraphIndexPatch, type GraphIndexPatch } from '../../../src/core/graph/index-patch';
import { ViewGraph } from './graph';

const WARM_ID = '\u0000ld-surgeon-warm-up';

/**
 * A patch of `index` shaped like an edit in the middle of the model: one module, one value and one
 * node inserted half way (so every later module, value and node index shifts and every reference to
 * one is remapped), the root module's totals sent in `set`. Applied, it gives `index` plus an unused
 * Identity node; it is made only to be applied and thrown away.
 */
export function warmUpPatch(index: GraphIndex): GraphIndexPatch {
  const m = Math.max(1, Math.floor(index.modules.length / 2));
  const v = Math.floor(index.values.name.length / 2);
  const n = Math.floor(index.nodes.length / 2);
  // edges after the first one that touches a node past the splice shift with it
  const e = Math.max(0, index.edges.findIndex((x) => x[0] >= n || x[1] >= n));
  return {
    base: { modules: index.modules.length, values: index.values.name.length, nodes: index.nodes.length, edges: index.edges.length },
    modules: {
      at: m, remove: 0, set: index.modules.length ? [[0, index.modules[0]]] : [],
      insert: [{ id: WARM_ID, name: WARM_ID, parent: 0, depth: 1, nodes: 1, ops: 1, params: 0, paramBytes: 0, macs: 0, flops: 0, uncounted: 0, opCounts: { Identity: 1 } }],
    },
    values: { at: v, remove: 0, insert: [[WARM_ID, '[1]', 1]], set: [] },
    nodes: { at: n, remove: 0, insert: [{ id: WARM_ID, op: 'Identity', module: m, in: [], out: [v] }], set: [] },
    edges: { at: e, remove: 0, insert: [], set: [] },
    inputs: index.inputs.map((i) => (i >= v ? i + 1 : i)),
    outputs: index.outputs.map((i) => (i >= v ? i + 1 : i)),
  };
}

/**
 * Runs an edit's model work (applyGraphIndexPatch, ViewGraph.patched) once on `index` and `graph`
 * (the graph built from it) and drops the result; returns how long it took (ms).
 */
export function warmPatchPath(index: GraphIndex, graph: ViewGraph): number {
  const t0 = performance.now();
  const patch = warmUpPatch(index);
  const next = applyGraphIndexPatch(index, patch);
  ViewGraph.patched(graph, index, patch, next, { showNoise: graph.showNoise });
  return performance.now() - t0;
}
