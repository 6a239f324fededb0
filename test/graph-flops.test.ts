// FLOPs/MACs per node (the documented convention) and their roll-up per module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeModel, nodeCost, GraphView, inferShapes, knownSize, readFoldValues } from '../src/core/graph';
import { factsFromType } from '../src/core/graph/shapes';
import { readModel } from '../src/core/onnx/reader';
import { numElements } from '../src/core/onnx/types';
import { GraphBuilder } from './helpers/graph-builder';

async function costs(b: GraphBuilder) {
  const view = new GraphView(b.graph);
  const shapes = inferShapes(view, { tensorValues: await readFoldValues(b.graph.initializers) });
  return (name: string) => nodeCost(view.nodeById(name)!, shapes);
}

test('Conv FLOPs on the tiny U-Net equal the formula on the shapes ONNX inference declared', async () => {
  const dyn = await readModel('test/fixtures/graph/tiny_unet_dynamic.onnx');
  const stat = await readModel('test/fixtures/graph/tiny_unet_static.onnx');
  const declared = new Map(stat.graph.valueInfo.map((v) => [v.name, factsFromType(v.type)?.shape]));
  for (const o of stat.graph.outputs) declared.set(o.name, factsFromType(o.type)?.shape);
  const weights = new Map(stat.graph.initializers.map((t) => [t.name, t.dims]));
  const a = await analyzeModel(dyn, { inputShapes: { sample: [2, 4, 16, 16] } });
  let checked = 0;
  for (const n of dyn.graph.nodes.filter((x) => x.opType === 'Conv')) {
    const out = declared.get(n.outputs[0]) as number[];
    const w = weights.get(n.inputs[1])!; // [C_out, C_in/group, kh, kw]
    const outElems = numElements(out);
    const macs = outElems * w[1] * w[2] * w[3];
    const flops = 2 * macs + (n.inputs[2] ? outElems : 0);
    assert.deepEqual(a.cost.get(n), { macs, flops }, n.name);
    checked++;
  }
  assert.equal(checked, 23);
});

test('MatMul (batched), Gemm, attention pieces and element-wise ops follow the convention', async () => {
  const b = new GraphBuilder();
  b.input('q', [2, 8, 64, 40]);
  b.input('kt', [2, 8, 40, 77]);
  b.node('MatMul', ['q', 'kt'], { name: 'scores', outputs: ['s'] });
  b.node('Softmax', ['s'], { name: 'softmax', outputs: ['p'] });
  b.input('v', [8, 77, 40]); // broadcast over the leading batch
  b.node('MatMul', ['p', 'v'], { name: 'pv' });
  b.input('a', [16, 320]);
  b.weight('w', [1280, 320]);
  b.weight('bias', [1280]);
  b.node('Gemm', ['a', 'w', 'bias'], { name: 'gemm', attrs: { transB: 1 } });
  b.node('Gemm', ['a', 'w'], { name: 'gemm_nobias', attrs: { transB: 1 } });
  b.node('Mul', ['q', 'q'], { name: 'mul' });
  b.node('Sigmoid', ['q'], { name: 'sigmoid' });
  b.node('Sum', ['q', 'q', 'q'], { name: 'sum3' });
  b.node('LayerNormalization', ['q', 'lnw'], { name: 'ln', attrs: { axis: -1 } });
  b.node('Reshape', ['q', b.ints('shape', [2, -1])], { name: 'reshape' });
  b.node('Erf', ['q'], { name: 'erf' });
  b.node('Softplus2', ['q'], { name: 'unknown_op' });
  const c = await costs(b);
  const qElems = 2 * 8 * 64 * 40;
  assert.deepEqual(c('scores'), { macs: 2 * 8 * 64 * 77 * 40, flops: 2 * 2 * 8 * 64 * 77 * 40 });
  assert.deepEqual(c('softmax'), { macs: 0, flops: 3 * 2 * 8 * 64 * 77 });
  assert.deepEqual(c('pv'), { macs: 2 * 8 * 64 * 40 * 77, flops: 2 * 2 * 8 * 64 * 40 * 77 });
  assert.deepEqual(c('gemm'), { macs: 16 * 1280 * 320, flops: 2 * 16 * 1280 * 320 + 16 * 1280 });
  assert.deepEqual(c('gemm_nobias'), { macs: 16 * 1280 * 320, flops: 2 * 16 * 1280 * 320 });
  assert.deepEqual(c('mul'), { macs: 0, flops: qElems });
  assert.deepEqual(c('sigmoid'), { macs: 0, flops: qElems });
  assert.deepEqual(c('sum3'), { macs: 0, flops: 2 * qElems });
  assert.deepEqual(c('ln'), { macs: 0, flops: 7 * qElems });
  assert.deepEqual(c('reshape'), { macs: 0, flops: 0 });
  assert.deepEqual(c('erf'), { macs: 0, flops: qElems });
  assert.equal(c('unknown_op'), null);
});

test('ConvTranspose, pooling, Resize and normalizations', async () => {
  const b = new GraphBuilder();
  b.input('x', [1, 8, 16, 16]);
  b.weight('wt', [8, 4, 3, 3]); // C_in=8, C_out/group=4
  b.node('ConvTranspose', ['x', 'wt'], { name: 'deconv', attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] } });
  b.node('AveragePool', ['x'], { name: 'pool', attrs: { kernel_shape: [2, 2], strides: [2, 2] } });
  b.node('GlobalAveragePool', ['x'], { name: 'gap' });
  b.weight('scales', [4], [1, 1, 2, 2]);
  b.node('Resize', ['x', '', 'scales'], { name: 'nearest', attrs: { mode: 'nearest' } });
  b.node('Resize', ['x', '', 'scales'], { name: 'bilinear', attrs: { mode: 'linear' } });
  b.node('InstanceNormalization', ['x', 'g', 'bb'], { name: 'in' });
  b.node('BatchNormalization', ['x', 'g', 'bb', 'm', 'v'], { name: 'bn' });
  b.node('ReduceMean', ['x'], { name: 'mean', attrs: { axes: [2, 3] } });
  const c = await costs(b);
  const inElems = 8 * 16 * 16;
  assert.deepEqual(c('deconv'), { macs: inElems * 4 * 9, flops: 2 * inElems * 4 * 9 });
  assert.deepEqual(c('pool'), { macs: 0, flops: 8 * 8 * 8 * 4 });
  assert.deepEqual(c('gap'), { macs: 0, flops: inElems });
  assert.deepEqual(c('nearest'), { macs: 0, flops: 0 });
  assert.deepEqual(c('bilinear'), { macs: 0, flops: 3 * 2 * 8 * 32 * 32 });
  assert.deepEqual(c('in'), { macs: 0, flops: 7 * inElems });
  assert.deepEqual(c('bn'), { macs: 0, flops: 2 * inElems });
  assert.deepEqual(c('mean'), { macs: 0, flops: inElems });
});

test('the fused Attention op counts as its MatMul/Softmax/MatMul parts', () => {
  const b = new GraphBuilder();
  b.input('q', [2, 8, 64, 40]);
  b.input('k', [2, 8, 77, 40]);
  b.input('v', [2, 8, 77, 32]);
  b.node('Attention', ['q', 'k', 'v'], { name: 'attn' });
  const view = new GraphView(b.graph);
  const shapes = inferShapes(view, {});
  assert.deepEqual(shapes.get(b.graph.nodes[0].outputs[0])?.shape, [2, 8, 64, 32]);
  const scores = 2 * 8 * 64 * 77;
  assert.deepEqual(nodeCost(b.graph.nodes[0], shapes), { macs: scores * (40 + 32), flops: 2 * scores * 72 + 3 * scores });
});

test('module FLOPs roll up; symbolic dims are counted at batch 1 and default sizes, and the analysis says so', async () => {
  const m = await readModel('test/fixtures/graph/tiny_unet_dynamic.onnx');
  const a = await analyzeModel(m, { inputShapes: { sample: [2, 4, 16, 16] } });
  const root = a.total.get(a.tree.root)!;
  let flops = 0;
  let macs = 0;
  for (const c of a.cost.values()) {
    flops += c!.flops;
    macs += c!.macs;
  }
  assert.equal(root.uncounted, 0);
  assert.equal(root.flops, flops);
  assert.equal(root.macs, macs);
  assert.ok(root.macs > 1e6);
  const attn = a.total.get(a.tree.byId.get('down_blocks.0.attentions.0')!)!;
  const matmuls = a.view.nodes.filter((n) => n.opType === 'MatMul' && n.name.startsWith('/down_blocks.0/attentions.0/'));
  assert.equal(matmuls.length, 12); // to_q, to_k, to_v, to_out.0 and the two attention products, in attn1 and attn2
  assert.ok(attn.macs >= matmuls.reduce((s, n) => s + a.cost.get(n)!.macs, 0));

  // symbolic batch and spatial dims: counted at batch 1 and a 64×64 latent, and said so; the
  // shapes themselves keep their symbols
  const symbolic = await analyzeModel(await readModel('test/fixtures/graph/tiny_unet_dynamic.onnx'));
  const sroot = symbolic.total.get(symbolic.tree.root)!;
  assert.equal(sroot.uncounted, 0);
  assert.deepEqual(symbolic.flopsAssumption?.inputs, { sample: [1, 4, 64, 64], timestep: [1], encoder_hidden_states: [1, 3, 4] });
  assert.deepEqual(symbolic.flopsAssumption?.dims.map((d) => `${d.input}[${d.axis}] ${d.symbol}=${d.value} (${d.rule})`), [
    'sample[0] batch=1 (batch)', 'sample[2] height=64 (spatial)', 'sample[3] width=64 (spatial)',
    'timestep[0] batch=1 (batch)', 'encoder_hidden_states[0] batch=1 (batch)',
  ]);
  const concrete = await analyzeModel(await readModel('test/fixtures/graph/tiny_unet_dynamic.onnx'), { inputShapes: { sample: [1, 4, 64, 64] } });
  assert.equal(concrete.flopsAssumption, null);
  assert.equal(sroot.flops, concrete.total.get(concrete.tree.root)!.flops);
  assert.ok(sroot.flops > root.flops, 'a 64×64 latent at batch 1 costs more than 16×16 at batch 2');
  for (const n of symbolic.view.nodes.filter((x) => x.opType === 'Conv')) {
    assert.equal(knownSize(symbolic.shapes.get(n.outputs[0])?.shape), undefined, 'shapes keep their symbols');
    assert.ok(symbolic.cost.get(n)!.flops > 0, `${n.name} is counted at the assumed size`);
  }
});

test('a symbolic latent is counted at the sample_size of the diffusers config.json beside the model', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-flops-config-'));
  try {
    copyFileSync('test/fixtures/graph/tiny_unet_dynamic.onnx', join(dir, 'model.onnx'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ sample_size: 16, in_channels: 4 }));
    const a = await analyzeModel(await readModel(join(dir, 'model.onnx')));
    assert.deepEqual(a.flopsAssumption?.inputs.sample, [1, 4, 16, 16]);
    assert.deepEqual(a.flopsAssumption?.dims.filter((d) => d.rule === 'config').map((d) => `${d.symbol}=${d.value}`), ['height=16', 'width=16']);
    const given = await analyzeModel(await readModel(join(dir, 'model.onnx')), { inputShapes: { sample: [1, 4, 16, 16] } });
    assert.equal(a.total.get(a.tree.root)!.flops, given.total.get(given.tree.root)!.flops);
    // a config whose channels do not fit the input is not this model's latent
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ sample_size: 512, in_channels: 3 }));
    const other = await analyzeModel(await readModel(join(dir, 'model.onnx')));
    assert.deepEqual(other.flopsAssumption?.inputs.sample, [1, 4, 64, 64]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
