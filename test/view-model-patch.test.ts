// The graph view's model after an edit, undo or redo is patched from the one shown (ViewGraph.patched:
// the entries the patch did not touch are reused) — it must equal the model built from the whole edited
// index in everything the view reads, and leave the graph shown before as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { EditableModel, type ModelEdit } from '../src/core/edit';
import type { GraphIndex } from '../src/core/graph';
import { applyGraphIndexPatch, type GraphIndexPatch } from '../src/core/graph/index-patch';
import { ViewGraph, type ViewOptions } from '../webview-ui/src/model/graph';
import { EXAMPLES } from './pipeline-fixtures';
import { digitsCondEdits } from './helpers/unet-edits';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const SD = process.env.LD_SURGEON_BENCH_MODELS ? join(process.env.LD_SURGEON_BENCH_MODELS, 'sd15-unet', 'model.onnx') : undefined;

/** as the webview receives them: JSON on the wire */
const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** Everything the view reads, in the order it iterates (modules in index order: the search lists them so). */
function viewed(g: ViewGraph): unknown {
  return {
    graph: g,
    moduleOrder: [...g.modules.keys()],
    values: [...g.values.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

interface Shown { index: GraphIndex; graph: ViewGraph }

/** The patch reaches the shown graph as the webview applies it; returns what is shown afterwards. */
function step(doc: EditableModel, shown: Shown, patch: GraphIndexPatch, what: string, options: ViewOptions): Shown & { reused: number } {
  const p = wire(patch);
  const index = applyGraphIndexPatch(shown.index, p);
  const graph = ViewGraph.patched(shown.graph, shown.index, p, index, options);
  const fresh = new ViewGraph(wire(JSON.parse(doc.graphIndexJson()) as GraphIndex), options);
  assert.deepStrictEqual(viewed(graph), viewed(fresh), `${what}: the patched view model equals one built from the whole index`);
  assert.deepStrictEqual(viewed(shown.graph), viewed(new ViewGraph(shown.index, options)), `${what}: the graph shown before is left as it was`);
  const old = new Set<unknown>([...shown.graph.nodes, ...shown.graph.values.values()]);
  const reused = [...graph.nodes, ...graph.values.values()].filter((x) => old.has(x)).length;
  return { index, graph, reused };
}

async function walk(model: string, edits: (doc: EditableModel) => [string, ModelEdit][], options: ViewOptions = {}): Promise<Map<string, number>> {
  const doc = await EditableModel.open(model);
  const start = wire(JSON.parse(doc.graphIndexJson()) as GraphIndex);
  let shown: Shown = { index: start, graph: new ViewGraph(start, options) };
  const reused = new Map<string, number>();
  for (const [what, edit] of edits(doc)) {
    const v = doc.version;
    await doc.apply(edit);
    let r = step(doc, shown, doc.graphIndexPatch(v), what, options);
    reused.set(what, r.reused);
    doc.undo();
    r = step(doc, r, doc.graphIndexPatch(v + 1), `undo ${what}`, options);
    doc.redo();
    shown = step(doc, r, doc.graphIndexPatch(v), `redo ${what}`, options);
  }
  return reused;
}

test('digits-cond: the view model patched after each edit, undo and redo equals a fresh one, reusing what the edit left', async () => {
  const reused = await walk(COND, digitsCondEdits);
  assert.ok(reused.get('bypass')! > 0, 'a bypass late in the graph reuses the entries before it');
  assert.ok(reused.get('rename a node')! > 0, 'a rename reuses the entries it did not rename');
});

test('digits-cond with exporter noise drawn: patched equals fresh', async () => {
  await walk(COND, (doc) => digitsCondEdits(doc).slice(0, 3), { showNoise: true });
});

test('SD-1.5 U-Net: the view model patched after edits, undo and redo equals a fresh one', { skip: SD && existsSync(SD) ? false : 'LD_SURGEON_BENCH_MODELS has no sd15-unet' }, async () => {
  const reused = await walk(SD!, (doc) => [
    ['bypass', { kind: 'bypass', module: 'mid_block.attentions.0' }],
    ['another bypass', { kind: 'bypass', module: 'up_blocks.1.attentions.0' }],
    ['rename a node', { kind: 'rename-node', node: '/conv_in/Conv', to: 'stem' }],
    ['rename a value', { kind: 'rename-value', value: doc.model.graph.nodes[5].outputs[0], to: 'renamed_value' }],
  ]);
  assert.ok(reused.get('bypass')! > 2000, `a bypass of the mid block reuses the entries before it (${reused.get('bypass')})`);
});
