// The graph layer on the committed example pipelines' U-Nets (torch-exported, diffusers-style):
// module tree, parameter totals checked against an independent decoder (onnx-proto), Conv FLOPs,
// toposort, cleanup and the webview index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { analyzeModel, buildGraphIndex, GraphView, type ModelAnalysis } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';

const EXAMPLES = 'examples';
const unets = existsSync(EXAMPLES)
  ? readdirSync(EXAMPLES)
      .filter((d) => !d.includes('.tmp') && existsSync(join(EXAMPLES, d, 'unet', 'model.onnx')))
      .map((d) => join(EXAMPLES, d, 'unet', 'model.onnx'))
  : [];

/** Concrete sample dims from the pipeline's unet/config.json (batch 2, as classifier-free guidance runs it). */
function sampleShape(path: string): number[] | undefined {
  const cfgPath = join(path, '..', 'config.json');
  if (!existsSync(cfgPath)) return undefined;
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  const size = cfg.sample_size;
  const [h, w] = Array.isArray(size) ? size : [size, size];
  return typeof h === 'number' && typeof cfg.in_channels === 'number' ? [2, cfg.in_channels, h, w] : undefined;
}

for (const path of unets) {
  test(`example U-Net ${path}`, async (t) => {
    const model = await readModel(path);
    const dims = sampleShape(path);
    const a: ModelAnalysis = await analyzeModel(model, dims ? { inputShapes: { sample: dims } } : {});
    const top = a.tree.root.children.map((m) => m.id);

    await t.test('top-level modules are the diffusers U-Net parts', () => {
      for (const id of ['time_embedding', 'conv_in', 'down_blocks.0', 'mid_block', 'up_blocks.0', 'conv_out']) assert.ok(top.includes(id), `${id} in ${top.join(', ')}`);
      assert.ok(top.filter((id) => id.startsWith('up_blocks.')).length >= 2);
      assert.ok(a.total.get(a.tree.byId.get('down_blocks.0')!)!.params > 0);
    });

    await t.test('parameter total equals the initializer elements decoded independently', () => {
      // onnx-proto decodes the whole file its own way; weights are the floating-point initializers
      const proto = onnx.ModelProto.decode(readFileSync(path));
      const FLOATING = new Set([onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.FLOAT16, onnx.TensorProto.DataType.DOUBLE, onnx.TensorProto.DataType.BFLOAT16]);
      let expected = 0;
      for (const init of proto.graph!.initializer!) {
        if (FLOATING.has(init.dataType!)) expected += (init.dims ?? []).reduce((p: number, d) => p * Number(d), 1);
      }
      assert.ok(expected > 10_000);
      assert.equal(a.total.get(a.tree.root)!.params, expected);
    });

    await t.test('Conv FLOPs follow the formula on the inferred shapes', { skip: !dims && 'no unet/config.json' }, () => {
      const convs = model.graph.nodes.filter((n) => n.opType === 'Conv');
      assert.ok(convs.length > 10);
      for (const n of convs) {
        const out = a.shapes.get(n.outputs[0])!.shape as number[];
        const w = a.view.initializer(n.inputs[1])!.dims;
        assert.equal(out[0], 2);
        assert.equal(out[1], w[0]);
        const elems = out.reduce((p, d) => p * d, 1);
        const macs = elems * w.slice(1).reduce((p, d) => p * d, 1);
        assert.deepEqual(a.cost.get(n), { macs, flops: 2 * macs + (n.inputs[2] ? elems : 0) }, n.name);
      }
      assert.equal(a.shapes.get(model.graph.outputs[0].name)?.shape?.join(','), dims!.join(','));
      assert.equal(a.total.get(a.tree.root)!.uncounted, 0, 'every op is counted once shapes are concrete');
    });

    await t.test('webview index is compact and consistent', () => {
      const idx = buildGraphIndex(a);
      const json = JSON.stringify(idx);
      assert.ok(json.length < 2_000_000, `${json.length} bytes`);
      assert.equal(idx.nodes.length, model.graph.nodes.length);
      assert.equal(idx.modules[0].id, '');
      assert.equal(idx.modules[0].params, a.total.get(a.tree.root)!.params);
      for (const [from, to, v] of idx.edges) {
        assert.ok(idx.nodes[from].out.includes(v));
        assert.ok(idx.nodes[to].in.includes(v));
        assert.ok(from < to, 'nodes are in topological order');
      }
    });

    await t.test('toposort and cleanup leave an already clean, sorted export as it is', () => {
      const g = model.graph;
      const names = g.nodes.map((n) => n.name);
      const v = new GraphView(g);
      v.toposort();
      assert.deepEqual(g.nodes.map((n) => n.name), names);
      assert.equal(v.cleanup().removedNodes, 0);
    });
  });
}

test('example U-Nets are present', { skip: unets.length === 0 && 'no examples/*/unet/model.onnx yet' }, () => {
  assert.ok(unets.length > 0);
});
