// Modules of graphs without exporter scopes (model zoo CNNs, tf2onnx, older exporters) come from
// the graph's structure: residual blocks, their branches and the stages between resolution
// changes, named by position, the same whatever the node names are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeModel, buildGraphIndex, walkModules, type ModelAnalysis, type ModuleNode } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { findCandidates } from '../src/core/surgery';
import { GraphBuilder } from './helpers/graph-builder';

const FIXTURES = 'test/fixtures/structural';
const CORPUS = '../shared/corpus/onnx-backend';

function ops(a: ModelAnalysis, m: ModuleNode): string[] {
  return m.nodes.filter((n) => !a.noise.has(n)).map((n) => n.opType);
}

/** Every data edge between two different top-level modules goes forward in module order. */
function topLevelEdgesForward(a: ModelAnalysis): string[] {
  const top = new Map<ModuleNode, number>();
  a.tree.root.children.forEach((m, i) => walkModules(m, (x) => top.set(x, i)));
  const bad: string[] = [];
  for (const n of a.view.nodes) {
    const to = top.get(a.tree.moduleOf.get(n)!);
    for (const x of a.view.allInputs(n)) {
      const p = a.view.producer(x);
      const from = p && top.get(a.tree.moduleOf.get(p)!);
      if (to !== undefined && from !== undefined && from > to) bad.push(`${x}: module ${from} → ${to}`);
    }
  }
  return bad;
}

test('an unscoped ResNet-18 (opset 9, names like Conv_12) shows stages, residual blocks and their branches', async () => {
  const a = await analyzeModel(await readModel(join(FIXTURES, 'resnet18_opset9.onnx')));
  assert.equal(a.tree.source, 'structure');
  assert.deepEqual(a.tree.root.children.map((m) => m.id), ['stage.0', 'stage.1', 'stage.2', 'stage.3', 'stage.4']);
  // the stem, then the first stage's two blocks, at the stem's resolution
  assert.deepEqual(a.tree.byId.get('stage.0')!.children.map((m) => m.name), ['block.0', 'block.1', 'block.2']);
  assert.deepEqual(ops(a, a.tree.byId.get('stage.0.block.0')!), ['Conv', 'Relu', 'MaxPool']);
  // a downsampling block: the Add and the ReLU after it, the residual branch and the 1x1 projection
  const down = a.tree.byId.get('stage.1.block.0')!;
  assert.deepEqual(ops(a, down), ['Add', 'Relu']);
  assert.deepEqual(down.children.map((m) => [m.name, ops(a, m).join(',')]), [['branch.0', 'Conv,Relu,Conv'], ['branch.1', 'Conv']]);
  assert.deepEqual(a.tree.byId.get('stage.1.block.1')!.children.map((m) => m.name), ['branch.0']);
  assert.deepEqual(ops(a, a.tree.byId.get('stage.4.block.0')!), ['GlobalAveragePool', 'Flatten', 'Gemm']);
  let placed = 0;
  for (const m of a.tree.byId.values()) placed += m.nodes.length;
  assert.equal(placed, a.view.nodes.length, 'every node in exactly one module');
  assert.deepEqual(topLevelEdgesForward(a), []);
  // every weight belongs to the block that uses it, none is left at the root
  assert.equal(a.own.get(a.tree.root)!.params, 0);
  assert.equal(a.total.get(a.tree.byId.get('stage.1.block.0.branch.1')!)!.opCounts.Conv, 1);
});

test('node names play no part: the same model with empty names has the same modules', async () => {
  const named = await analyzeModel(await readModel(join(FIXTURES, 'resnet18_opset9.onnx')));
  const unnamed = await analyzeModel(await readModel(join(FIXTURES, 'resnet18_noname.onnx')));
  assert.ok(unnamed.view.nodes.every((n) => n.name === ''));
  const ids = (a: ModelAnalysis) => [...a.tree.byId.keys()].sort();
  assert.deepEqual(ids(unnamed), ids(named));
  const shape = (a: ModelAnalysis) => [...a.tree.byId.values()].map((m) => `${m.id}:${a.total.get(m)!.ops}`).sort();
  assert.deepEqual(shape(unnamed), shape(named));
});

test('the graph index (what the graph view draws) carries the structural blocks', async () => {
  const a = await analyzeModel(await readModel(join(FIXTURES, 'resnet18_noname.onnx')));
  const index = buildGraphIndex(a);
  assert.ok(index.modules.some((m) => m.id === 'stage.2.block.0.branch.1'));
  const convModules = index.nodes.filter((n) => n.op === 'Conv').map((n) => index.modules[n.module].id);
  assert.ok(convModules.every((id) => /^stage\.\d\.block\.\d(\.branch\.\d)?$/.test(id)), convModules.join(' '));
  assert.ok(!index.modules.some((m) => ['Conv', 'Relu', 'Add'].includes(m.id)), 'no op-type buckets');
});

test('scoring candidates of the unscoped ResNet are its blocks and branches, with the modifications scoped exports get', async () => {
  const a = await analyzeModel(await readModel(join(FIXTURES, 'resnet18_noname.onnx')));
  const c = new Map(findCandidates(a).map((x) => [x.id, x]));
  assert.equal(c.get('stage.1.block.1')!.level, 'block');
  assert.equal(c.get('stage.1.block.1')!.modification?.method, 'identity');
  assert.equal(c.get('stage.1.block.1.branch.0')!.modification?.method, 'skip-residual');
  const down = c.get('stage.2.block.0')!;
  assert.equal(down.modification?.method, 'resample');
  assert.deepEqual(down.modification?.steps, [{ op: 'avgpool', factor: 2 }, { op: 'pad', axis: 1, size: 8 }]);
  assert.equal(c.get('stage.4')!.reason, 'its output logits is a graph output');
  assert.ok(![...c.keys()].some((id) => id.startsWith('#') || /^n\d+$/.test(id)), 'no internal ids');
});

test('an inception-style block: parallel branches meeting at a Concat, a side input feeding every block', async () => {
  const b = new GraphBuilder();
  b.input('x', [1, 4, 8, 8]);
  b.input('t', [1, 4]);
  b.weight('w', [4, 4, 1, 1]);
  b.weight('tw', [4, 4]);
  b.weight('w12', [4, 12, 1, 1]);
  const temb = b.node('Gemm', ['t', 'tw']);
  const tact = b.node('Relu', [temb]);
  const tb = b.node('Unsqueeze', [tact], { attrs: { axes: [2, 3] } });
  const stem = b.node('Conv', ['x', 'w']);
  const p1 = b.node('Conv', [stem, 'w']);
  const p2 = b.node('Relu', [b.node('Conv', [stem, 'w'])]);
  const p3 = b.node('MaxPool', [stem], { attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } });
  const cat = b.node('Concat', [p1, p2, p3], { attrs: { axis: 1 } });
  const mixed = b.node('Conv', [cat, 'w12']);
  const withT = b.node('Add', [mixed, tb]);
  const h = b.node('Relu', [b.node('Conv', [withT, 'w'])]);
  b.output(b.node('Add', [withT, h]), [1, 4, 8, 8]);
  const a = await analyzeModel(b.model(13));
  const top = a.tree.root.children.map((m) => m.id);
  assert.ok(top.includes('side.0'), top.join(' '));
  assert.deepEqual(ops(a, a.tree.byId.get('side.0')!), ['Gemm', 'Relu', 'Unsqueeze']);
  const inception = [...a.tree.byId.values()].find((m) => ops(a, m).includes('Concat'))!;
  assert.deepEqual(inception.children.map((m) => ops(a, m).join(',')), ['Conv', 'Conv,Relu', 'MaxPool']);
  assert.deepEqual(topLevelEdgesForward(a).filter((e) => !e.includes('→ 0')), []);
});

test('corpus: unscoped PyTorch-converted models get structural modules, every node in one module, edges forward', { skip: !existsSync(CORPUS) && 'corpus not present' }, async () => {
  let structured = 0;
  for (const sub of ['pytorch-converted', 'node']) {
    for (const d of readdirSync(join(CORPUS, sub))) {
      const p = join(CORPUS, sub, d, 'model.onnx');
      if (!existsSync(p) || (sub === 'node' && !d.endsWith('_expanded'))) continue;
      const a = await analyzeModel(await readModel(p));
      if (a.tree.source !== 'structure') continue;
      let placed = 0;
      for (const m of a.tree.byId.values()) placed += m.nodes.length;
      assert.equal(placed, a.view.nodes.length, d);
      if (a.tree.root.children.some((m) => m.id.startsWith('side.'))) continue;
      assert.deepEqual(topLevelEdgesForward(a), [], d);
      structured++;
    }
  }
  assert.ok(structured > 100, `only ${structured} models`);
});

test('a pre-norm transformer whose input feeds its first residual Add: each residual is a block, its branch skippable', async () => {
  const b = new GraphBuilder();
  b.input('x', [1, 16, 8]);
  b.weight('g', [8], new Array(8).fill(1));
  b.weight('beta', [8]);
  let h = 'x';
  for (let l = 0; l < 2; l++) {
    const ln = b.node('LayerNormalization', [h, 'g', 'beta'], { attrs: { axis: -1 } });
    const [q, k, v] = ['q', 'k', 'v'].map((p) => b.node('MatMul', [ln, b.weight(`w${p}${l}`, [8, 8])]));
    const s = b.node('Softmax', [b.node('MatMul', [q, b.node('Transpose', [k], { attrs: { perm: [0, 2, 1] } })])], { attrs: { axis: -1 } });
    const h1 = b.node('Add', [h, b.node('MatMul', [b.node('MatMul', [s, v]), b.weight(`wo${l}`, [8, 8])])]);
    const ln2 = b.node('LayerNormalization', [h1, 'g', 'beta'], { attrs: { axis: -1 } });
    h = b.node('Add', [h1, b.node('MatMul', [b.node('Relu', [b.node('MatMul', [ln2, b.weight(`w1${l}`, [8, 32])])]), b.weight(`w2${l}`, [32, 8])])]);
  }
  b.node('LayerNormalization', [h, 'g', 'beta'], { attrs: { axis: -1 }, outputs: ['y'] });
  b.output('y', [1, 16, 8]);
  const a = await analyzeModel(b.model());
  assert.deepEqual(a.tree.root.children.map((m) => `${m.id}:${ops(a, m).join(',')}`), ['block.0:Add', 'block.1:Add', 'block.2:Add', 'block.3:Add', 'block.4:LayerNormalization']);
  const attn = a.tree.byId.get('block.0.branch.0')!;
  assert.equal(a.total.get(attn)!.opCounts.Softmax, 1);
  assert.equal(a.total.get(attn)!.opCounts.LayerNormalization, 1);
  const c = new Map(findCandidates(a).map((x) => [x.id, x]));
  for (const id of ['block.0.branch.0', 'block.1.branch.0', 'block.2.branch.0', 'block.3.branch.0']) assert.equal(c.get(id)?.modification?.method, 'skip-residual', id);
  assert.equal(c.get('block.0')!.modification?.method, 'identity');
});
