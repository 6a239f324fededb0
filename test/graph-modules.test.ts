// Module hierarchy, exporter noise and parameter assignment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeModel, scopeFromMetadata, scopeFromName, GraphView, classifyNoise, moduleBoundary, subtreeNodes, type ModelAnalysis } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { ElemType, numElements, type Node } from '../src/core/onnx/types';
import { GraphBuilder, tensor } from './helpers/graph-builder';

const CORPUS = '../shared/corpus/onnx-backend';
const node = (name: string, metadata?: Record<string, string>): Node => ({
  name, opType: 'X', domain: '', inputs: [], outputs: [], attributes: [],
  metadataProps: metadata && Object.entries(metadata).map(([key, value]) => ({ key, value })),
});

test('scopes from torch.onnx node names', () => {
  assert.deepEqual(scopeFromName('/down_blocks.1/attentions.0/transformer_blocks.0/attn1/to_q/MatMul').at(-1), 'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q');
  assert.deepEqual(scopeFromName('/down_blocks.0/resnets.0/conv1/Conv_1'), ['down_blocks.0', 'down_blocks.0.resnets.0', 'down_blocks.0.resnets.0.conv1']);
  assert.deepEqual(scopeFromName('/mid_block/attentions.0/Add'), ['mid_block', 'mid_block.attentions.0']);
  assert.deepEqual(scopeFromName('/Constant'), []);
  assert.deepEqual(scopeFromName('Constant_46'), []);
  assert.deepEqual(scopeFromName('onnx::Mul_1460'), []);
});

test('scopes from pkg.torch.onnx.name_scopes metadata (qualified, local and dynamo-style names)', () => {
  const key = 'pkg.torch.onnx.name_scopes';
  assert.deepEqual(scopeFromMetadata(node('node_Conv_3', { [key]: "['', 'down_blocks.0', 'down_blocks.0.resnets.0', 'down_blocks.0.resnets.0.conv1', 'conv2d_3']" })),
    ['down_blocks.0', 'down_blocks.0.resnets.0', 'down_blocks.0.resnets.0.conv1']);
  assert.deepEqual(scopeFromMetadata(node('n', { [key]: "['', 'layers.0', 'conv', 'conv2d']" })), ['layers.0', 'layers.0.conv']);
  assert.deepEqual(scopeFromMetadata(node('n', { [key]: `["", "L['self'].down_blocks[1]", "add_7"]` })), ['down_blocks.1']);
  assert.deepEqual(scopeFromMetadata(node('n', { [key]: "['', 'add']" })), []);
  assert.equal(scopeFromMetadata(node('/a/b/Conv')), undefined);
});

let fixture: ModelAnalysis | undefined;
async function tinyUnet(): Promise<ModelAnalysis> {
  fixture ??= await analyzeModel(await readModel('test/fixtures/graph/tiny_unet_dynamic.onnx'), { inputShapes: { sample: [2, 4, 16, 16] } });
  return fixture;
}

test('module tree of the tiny U-Net export', async () => {
  const a = await tinyUnet();
  assert.equal(a.tree.source, 'node-names');
  assert.deepEqual(a.tree.root.children.map((m) => m.id), [
    'time_proj', 'time_embedding', 'conv_in', 'down_blocks.0', 'down_blocks.1', 'mid_block', 'up_blocks.0', 'up_blocks.1', 'conv_norm_out', 'conv_act', 'conv_out',
  ]);
  const q = a.tree.byId.get('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q')!;
  assert.equal(q.name, 'to_q');
  assert.equal(q.parent?.id, 'down_blocks.0.attentions.0.transformer_blocks.0.attn1');
  assert.equal(q.depth, 5);
  assert.deepEqual(q.nodes.map((n) => n.opType), ['MatMul']);
  assert.deepEqual(a.tree.byId.get('up_blocks.0.upsamplers.0')!.children.map((m) => m.name), ['conv']);
  // a module's total is the sum of its own nodes and its children's totals
  const mid = a.tree.byId.get('mid_block')!;
  const childOps = mid.children.reduce((s, c) => s + a.total.get(c)!.ops, 0);
  assert.equal(a.total.get(mid)!.ops, a.own.get(mid)!.ops + childOps);
});

test('exporter noise is flagged and folded out of op counts', async () => {
  const a = await tinyUnet();
  const byOp = (op: string) => a.view.nodes.filter((n) => n.opType === op);
  for (const n of byOp('Constant')) assert.equal(a.noise.get(n), 'constant', n.name);
  for (const n of byOp('Shape')) assert.equal(a.noise.get(n), 'shape', n.name);
  for (const n of [...byOp('Conv'), ...byOp('MatMul'), ...byOp('Softmax'), ...byOp('InstanceNormalization')]) assert.equal(a.noise.get(n), undefined, n.name);
  // the Gather/Unsqueeze/Concat chains building Reshape targets are shape noise
  const reshapeTargets = byOp('Reshape').map((n) => a.view.producer(n.inputs[1])).filter((p) => p && p.opType === 'Concat');
  assert.ok(reshapeTargets.length > 0);
  for (const p of reshapeTargets) assert.equal(a.noise.get(p!), 'shape');
  const root = a.total.get(a.tree.root)!;
  assert.equal(root.ops + root.noiseNodes, a.view.nodes.length);
  assert.equal(root.opCounts.Constant, undefined);
  assert.equal(root.opCounts.Shape, undefined);
  assert.equal(root.opCounts.Conv, byOp('Conv').length);
  // unscoped Constants (torch names them 'Constant_46') join their consumers' module
  const stray = a.tree.root.nodes.filter((n) => a.noise.has(n) && !n.name.startsWith('/'));
  for (const n of stray) {
    const users = new Set(n.outputs.flatMap((o) => a.view.consumers(o)).map((c) => a.tree.moduleOf.get(c)));
    assert.ok(users.size !== 1 || users.has(a.tree.root), `${n.name} left at the root though all its users are in one module`);
  }
});

test('noise: Identity/Cast of weights and shape arithmetic, but not data ops', () => {
  const b = new GraphBuilder();
  b.input('x', ['n', 4]);
  b.weight('w', [4, 4]);
  const wi = b.node('Identity', ['w'], { name: '/lin/Identity' });
  const y = b.node('MatMul', ['x', wi], { name: '/lin/MatMul' });
  const s = b.node('Shape', [y], { name: '/Shape' });
  const c = b.node('Cast', [s], { name: '/Cast' });
  const r = b.node('Reshape', [y, c], { name: '/Reshape' });
  const cx = b.node('Cast', [r], { name: '/CastData', attrs: { to: ElemType.FLOAT16 } });
  b.output(cx);
  const v = new GraphView(b.graph);
  const noise = classifyNoise(v);
  const kind = (name: string) => noise.get(v.nodeById(name)!);
  assert.equal(kind('/lin/Identity'), 'constant');
  assert.equal(kind('/lin/MatMul'), undefined);
  assert.equal(kind('/Shape'), 'shape');
  assert.equal(kind('/Cast'), 'shape');
  assert.equal(kind('/Reshape'), undefined);
  assert.equal(kind('/CastData'), undefined);
});

test('parameters: totals equal the float initializer elements, each weight in its module', async () => {
  const a = await tinyUnet();
  const g = a.model.graph;
  // independently: every float initializer is a weight here, every int64 one a shape constant
  const floats = g.initializers.filter((t) => t.elemType === ElemType.FLOAT);
  const expected = floats.reduce((s, t) => s + numElements(t.dims), 0);
  const root = a.total.get(a.tree.root)!;
  assert.equal(root.params, expected);
  assert.equal(root.paramBytes, 4 * expected);
  assert.equal(a.params.length, floats.length);
  const moduleOf = (name: string) => a.paramModule.get(a.params.find((p) => p.name === name)!)?.id;
  assert.equal(moduleOf('down_blocks.0.resnets.0.conv1.weight'), 'down_blocks.0.resnets.0.conv1');
  assert.equal(moduleOf('conv_out.bias'), 'conv_out');
  // unnamed weights (onnx::MatMul_N) are placed by their consumer's scope
  const toQ = a.view.nodeById('/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul')!;
  assert.match(toQ.inputs[1], /^onnx::MatMul_/);
  assert.equal(moduleOf(toQ.inputs[1]), 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q');
  // the sum over top-level modules plus what sits at the root (shared weights) is the total
  const top = a.tree.root.children.reduce((s, m) => s + a.total.get(m)!.params, 0);
  assert.equal(top + a.own.get(a.tree.root)!.params, expected);
});

test('a weight shared by two modules belongs to their lowest common module; shape constants are not params', async () => {
  const b = new GraphBuilder();
  b.input('x', [2, 8]);
  b.weight('shared', [8, 8]);
  const h = b.node('MatMul', ['x', 'shared'], { name: '/enc/a/MatMul' });
  const k = b.node('MatMul', [h, 'shared'], { name: '/enc/b/MatMul' });
  const r = b.node('Reshape', [k, b.ints('target', [4, 4])], { name: '/enc/Reshape' });
  const big = b.node('Constant', [], { name: '/dec/Constant', attrs: { value: { t: tensor('', ElemType.FLOAT, [16, 128]) } } });
  const small = b.node('Constant', [], { name: '/dec/Constant_1', attrs: { value: { t: tensor('', ElemType.FLOAT, [1], [0.125]) } } });
  const y = b.node('MatMul', [b.node('Mul', [r, small], { name: '/dec/Mul' }), big], { name: '/dec/MatMul' });
  b.output(y);
  const a = await analyzeModel(b.model());
  assert.deepEqual(a.params.map((p) => [p.name, p.source, a.paramModule.get(p)!.id]), [
    ['shared', 'initializer', 'enc'],
    [big, 'constant-node', 'dec'],
  ]);
  assert.equal(a.total.get(a.tree.root)!.params, 64 + 16 * 128);
});

test('modules come from name_scopes metadata when the exporter wrote it', async () => {
  const key = 'pkg.torch.onnx.name_scopes';
  const b = new GraphBuilder();
  b.input('x', [1, 4]);
  b.weight('w', [4, 4]);
  const classes = 'pkg.torch.onnx.class_hierarchy';
  const h = b.node('MatMul', ['x', 'w'], {
    name: 'node_MatMul_0',
    metadata: {
      [key]: "['', 'encoder', 'encoder.layers.0', 'encoder.layers.0.fc', 'linear']",
      [classes]: "['Model', 'Encoder', 'Layer', 'torch.nn.modules.linear.Linear', 'aten.linear.default']",
    },
  });
  const y = b.node('Relu', [h], { name: 'node_Relu_1', metadata: { [key]: "['', 'encoder', 'encoder.layers.0', 'relu']" } });
  b.output(y);
  const a = await analyzeModel(b.model());
  assert.equal(a.tree.source, 'metadata');
  assert.equal(a.tree.moduleOf.get(b.graph.nodes[0])!.id, 'encoder.layers.0.fc');
  assert.equal(a.tree.moduleOf.get(b.graph.nodes[1])!.id, 'encoder.layers.0');
  assert.equal(a.paramModule.get(a.params[0])!.id, 'encoder.layers.0.fc');
  assert.equal(a.tree.byId.get('encoder.layers.0.fc')!.className, 'torch.nn.modules.linear.Linear');
  assert.equal(a.tree.byId.get('encoder')!.className, 'Encoder');
});

test('without any scopes, modules come from the graph structure (a chain is one block)', async () => {
  const b = new GraphBuilder();
  b.input('x', [1, 3, 8, 8]);
  b.weight('w', [3, 3, 1, 1]);
  const c1 = b.node('Conv', ['x', 'w'], { name: 'conv_a' });
  const c2 = b.node('Conv', [c1, 'w'], { name: 'conv_b' });
  b.output(b.node('Relu', [c2], { name: 'relu' }));
  const a = await analyzeModel(b.model());
  assert.equal(a.tree.source, 'structure');
  assert.deepEqual(a.tree.root.children.map((m) => [m.id, m.nodes.length]), [['block.0', 3]]);
});

test('corpus: every pytorch-converted/-operator model builds a module tree', { skip: !existsSync(CORPUS) && 'corpus not present' }, async () => {
  let built = 0;
  for (const sub of ['pytorch-converted', 'pytorch-operator']) {
    for (const d of readdirSync(join(CORPUS, sub))) {
      const p = join(CORPUS, sub, d, 'model.onnx');
      if (!existsSync(p)) continue;
      const m = await readModel(p);
      const a = await analyzeModel(m);
      const root = a.total.get(a.tree.root)!;
      assert.equal(root.nodes, m.graph.nodes.length, d);
      let inTree = 0;
      for (const mod of a.tree.byId.values()) inTree += mod.nodes.length;
      assert.equal(inTree, m.graph.nodes.length, `${d}: every node in exactly one module`);
      built++;
    }
  }
  assert.ok(built > 100, `only ${built} models`);
});

test('module boundary: what surgery on a module must reconnect', async () => {
  const a = await tinyUnet();
  const b = moduleBoundary(a.view, a.tree, a.tree.byId.get('down_blocks.0.attentions.0')!);
  assert.deepEqual(b.inputs, ['/down_blocks.0/resnets.0/Add_1_output_0', 'encoder_hidden_states']);
  assert.deepEqual(b.outputs, ['/down_blocks.0/attentions.0/Add_output_0']);
  assert.ok(b.initializers.includes('down_blocks.0.attentions.0.proj_in.weight'));
  assert.equal(b.nodes.length, a.total.get(a.tree.byId.get('down_blocks.0.attentions.0')!)!.nodes);
  // the SiLU of the time embedding is computed once in the first ResNet and read by every other:
  // that ResNet has a second output, which is why it is not a plain single-path block
  const r = moduleBoundary(a.view, a.tree, a.tree.byId.get('down_blocks.0.resnets.0')!);
  assert.deepEqual(r.inputs, ['/conv_in/Conv_output_0', '/time_embedding/linear_2/Gemm_output_0']);
  assert.equal(r.outputs.length, 2);
  const shared = r.outputs.find((o) => a.view.producer(o)!.opType === 'Mul')!;
  assert.ok(a.view.consumers(shared).some((c) => c.name.startsWith('/up_blocks.')));
  assert.equal(subtreeNodes(a.tree, a.tree.root).length, a.view.nodes.length);
});
