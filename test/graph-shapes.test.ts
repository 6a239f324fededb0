// The static shape pass: per-operator rules, shape-constant folding with symbolic dims, caller
// shapes, and agreement with the shapes ONNX itself declares (value_info, corpus outputs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GraphView, inferShapes, analyzeModel, readFoldValues, formatShape, type DimValue } from '../src/core/graph';
import { factsFromType } from '../src/core/graph/shapes';
import { readModel } from '../src/core/onnx/reader';
import { ElemType, type Model, type TensorData } from '../src/core/onnx/types';
import { GraphBuilder } from './helpers/graph-builder';

const CORPUS = '../shared/corpus/onnx-backend';

function tensorsOf(m: Model): TensorData[] {
  const out = [...m.graph.initializers];
  for (const n of m.graph.nodes) for (const a of n.attributes) if (a.t) out.push(a.t);
  return out;
}

async function shapesOf(b: GraphBuilder, inputShapes?: Record<string, DimValue[]>) {
  const m = b.model();
  const values = await readFoldValues(tensorsOf(m));
  return inferShapes(new GraphView(m.graph), { tensorValues: values, inputShapes, useDeclared: false });
}

test('Conv, pooling, ConvTranspose and Resize output shapes', async () => {
  const b = new GraphBuilder();
  b.input('x', [2, 3, 17, 17]);
  b.weight('w', [8, 3, 3, 3]);
  const c = b.node('Conv', ['x', 'w'], { attrs: { pads: [1, 1, 1, 1], strides: [2, 2] } });
  const p = b.node('MaxPool', [c], { attrs: { kernel_shape: [3, 3], strides: [2, 2] } });
  const pc = b.node('AveragePool', [c], { attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 } });
  b.weight('wt', [8, 4, 4, 4]);
  const t = b.node('ConvTranspose', [p, 'wt'], { attrs: { strides: [2, 2], pads: [1, 1, 1, 1], group: 2 } });
  const same = b.node('Conv', [c, 'w8'], { attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] } });
  b.weight('w8', [5, 8, 3, 3]);
  b.weight('scales', [4], [1, 1, 2, 2]);
  const r = b.node('Resize', [t, '', 'scales'], { attrs: { mode: 'nearest' } });
  const s = await shapesOf(b);
  assert.deepEqual(s.get(c)?.shape, [2, 8, 9, 9]);
  assert.deepEqual(s.get(p)?.shape, [2, 8, 4, 4]);
  assert.deepEqual(s.get(pc)?.shape, [2, 8, 5, 5]);
  assert.deepEqual(s.get(t)?.shape, [2, 8, 8, 8]);
  assert.deepEqual(s.get(same)?.shape, [2, 5, 5, 5]);
  assert.deepEqual(s.get(r)?.shape, [2, 8, 16, 16]);
});

test('MatMul (batched and broadcast), Gemm, Transpose, Softmax, LayerNormalization', async () => {
  const b = new GraphBuilder();
  b.input('q', ['batch', 8, 64, 40]);
  b.input('k', ['batch', 8, 77, 40]);
  const kt = b.node('Transpose', ['k'], { attrs: { perm: [0, 1, 3, 2] } });
  const sc = b.node('MatMul', ['q', kt]);
  const sm = b.node('Softmax', [sc], { attrs: { axis: -1 } });
  b.weight('w', [40, 320]);
  const lin = b.node('MatMul', ['q', 'w']);
  b.input('a', [16, 320]);
  b.weight('g', [1280, 320]);
  const gemm = b.node('Gemm', ['a', 'g'], { attrs: { transB: 1 } });
  const ln = b.node('LayerNormalization', [lin, 'lnw'], { outputs: 3 });
  const s = await shapesOf(b);
  assert.deepEqual(s.get(sc)?.shape, ['batch', 8, 64, 77]);
  assert.deepEqual(s.get(sm)?.shape, ['batch', 8, 64, 77]);
  assert.deepEqual(s.get(lin)?.shape, ['batch', 8, 64, 320]);
  assert.deepEqual(s.get(gemm)?.shape, [16, 1280]);
  assert.deepEqual(s.get(ln)?.shape, ['batch', 8, 64, 320]);
});

test('torch shape chains fold through Shape/Gather/Unsqueeze/Concat with a symbolic batch', async () => {
  // h: [batch, 320, 8, 8] → Reshape(h, [batch, 320, 64]) built from Shape like torch exports it
  const b = new GraphBuilder();
  b.input('h', ['batch', 320, 8, 8]);
  const shp = b.node('Shape', ['h']);
  const g0 = b.node('Gather', [shp, b.constInts([0], [])], { attrs: { axis: 0 } });
  const g2 = b.node('Gather', [shp, b.constInts([2], [])], { attrs: { axis: 0 } });
  const g3 = b.node('Gather', [shp, b.constInts([3], [])], { attrs: { axis: 0 } });
  const hw = b.node('Mul', [g2, g3]);
  const u0 = b.node('Unsqueeze', [g0, b.constInts([0])]);
  const u1 = b.node('Unsqueeze', [hw, b.constInts([0])]);
  const cat = b.node('Concat', [u0, b.constInts([320]), u1], { attrs: { axis: 0 } });
  const rs = b.node('Reshape', ['h', cat]);
  const tr = b.node('Transpose', [rs], { attrs: { perm: [0, 2, 1] } });
  // Reshape with 0 (copy) and -1 (infer), and an attribute-form Squeeze (opset < 13)
  const back = b.node('Reshape', [tr, b.constInts([0, 8, 8, -1])]);
  const sq = b.node('Squeeze', [b.node('Unsqueeze', [back], { attrs: { axes: [1] } })], { attrs: { axes: [1] } });
  const s = await shapesOf(b);
  assert.deepEqual(s.get(cat)?.value, ['batch', 320, 64]);
  assert.deepEqual(s.get(rs)?.shape, ['batch', 320, 64]);
  assert.deepEqual(s.get(tr)?.shape, ['batch', 64, 320]);
  assert.deepEqual(s.get(back)?.shape, ['batch', 8, 8, 320]);
  assert.deepEqual(s.get(sq)?.shape, ['batch', 8, 8, 320]);

  const concrete = await shapesOf(b, { h: [2, 320, 8, 8] });
  assert.deepEqual(concrete.get(cat)?.value, [2, 320, 64]);
  assert.deepEqual(concrete.get(back)?.shape, [2, 8, 8, 320]);
});

test('Split, Slice (with INT64_MAX end and negative steps), Gather, Expand, Pad, Tile, Flatten', async () => {
  const b = new GraphBuilder();
  b.input('x', ['n', 640, 32, 32]);
  const [s1, s2] = [0, 1].map((i) => `split_${i}`);
  b.node('Split', ['x', b.ints('sizes', [320, 320])], { outputs: [s1, s2], attrs: { axis: 1 } });
  const ch = b.node('Split', ['x'], { outputs: 3, attrs: { axis: 2 } });
  const sl = b.node('Slice', ['x', b.ints('st', [2]), b.ints('en', [Number.MAX_SAFE_INTEGER]), b.ints('ax', [1])]);
  const whole = b.node('Slice', ['x', b.ints('st0', [0]), b.ints('en0', [9223372036854775807n]), b.ints('ax0', [0])]);
  const rev = b.node('Slice', ['x', b.ints('st1', [-1]), b.ints('en1', [-1000]), b.ints('ax1', [3]), b.ints('step1', [-2])]);
  b.weight('emb', [1000, 64]);
  b.input('ids', ['n', 77], ElemType.INT64);
  const ga = b.node('Gather', ['emb', 'ids']);
  const ex = b.node('Expand', [b.weight('one', [1, 64]), b.ints('tgt', [5, 1])]);
  const pd = b.node('Pad', ['x', b.ints('pads', [0, 0, 1, 1, 0, 0, 1, 1])]);
  const tl = b.node('Tile', [ex, b.ints('reps', [2, 3])]);
  const fl = b.node('Flatten', [pd], { attrs: { axis: 1 } });
  const fl2 = b.node('Flatten', [pd], { attrs: { axis: 2 } });
  const s = await shapesOf(b);
  assert.deepEqual(s.get(s1)?.shape, ['n', 320, 32, 32]);
  assert.deepEqual(s.get(s2)?.shape, ['n', 320, 32, 32]);
  assert.deepEqual(s.get(ch)?.shape, ['n', 640, 11, 32]);
  assert.deepEqual(s.get(sl)?.shape, ['n', 638, 32, 32]);
  assert.deepEqual(s.get(whole)?.shape, ['n', 640, 32, 32]);
  assert.deepEqual(s.get(rev)?.shape, ['n', 640, 32, 16]);
  assert.deepEqual(s.get(ga)?.shape, ['n', 77, 64]);
  assert.deepEqual(s.get(ex)?.shape, [5, 64]);
  assert.deepEqual(s.get(pd)?.shape, ['n', 640, 34, 34]);
  assert.deepEqual(s.get(tl)?.shape, [10, 192]);
  assert.deepEqual(s.get(fl)?.shape, ['n', 640 * 34 * 34]);
  assert.deepEqual(s.get(fl2)?.shape, [null, 34 * 34], 'n·640 is not a single dim');
});

test('unknown stays unknown: a Reshape target from a graph input is never guessed', async () => {
  const b = new GraphBuilder();
  b.input('x', [2, 6]);
  b.input('shape', [3], ElemType.INT64);
  const r = b.node('Reshape', ['x', 'shape']);
  const y = b.node('Relu', [r]);
  const s = await shapesOf(b);
  assert.deepEqual(s.get(y)?.shape, [null, null, null]);
  assert.equal(formatShape(s.get(y)?.shape), '[?,?,?]');
});

test('caller input shapes bind symbols across inputs and are checked against the model', async () => {
  const b = new GraphBuilder();
  b.input('sample', ['batch', 4, 'h', 'w']);
  b.input('context', ['batch', 77, 768]);
  b.output(b.node('Relu', ['context']));
  const m = b.model();
  m.path = '/tmp/unet.onnx';
  const a = await analyzeModel(m, { inputShapes: { sample: [2, 4, 64, 64] } });
  assert.deepEqual(a.inputShapes.context, [2, 77, 768]);
  await assert.rejects(analyzeModel(m, { inputShapes: { sampel: [1] } }), /unet\.onnx: has no input 'sampel' \(inputs: sample, context\)/);
  await assert.rejects(analyzeModel(m, { inputShapes: { sample: [1, 4, 64] } }), /rank 4/);
  await assert.rejects(analyzeModel(m, { inputShapes: { sample: [1, 3, 64, 64] } }), /dim 1 is fixed at 4/);
});

test('shape pass agrees with the value_info onnx shape inference (data_prop) wrote (tiny U-Net)', async () => {
  const m = await readModel('test/fixtures/graph/tiny_unet_static.onnx');
  const declared = new Map(m.graph.valueInfo.map((v) => [v.name, factsFromType(v.type)?.shape]));
  assert.ok(declared.size > 300, 'fixture carries value_info');
  m.graph.valueInfo = [];
  const shapes = inferShapes(new GraphView(m.graph), { tensorValues: await readFoldValues(tensorsOf(m)), useDeclared: false });
  let compared = 0;
  for (const [name, want] of declared) {
    assert.deepEqual(shapes.get(name)?.shape, want, `shape of ${name}`);
    compared++;
  }
  assert.equal(compared, 343);
});

test('the symbolic export infers the same shapes once concrete input shapes are given', async () => {
  const stat = await readModel('test/fixtures/graph/tiny_unet_static.onnx');
  const dyn = await readModel('test/fixtures/graph/tiny_unet_dynamic.onnx');
  const a = await analyzeModel(dyn, { inputShapes: { sample: [2, 4, 16, 16] } });
  assert.deepEqual(a.inputShapes.timestep, [2]);
  assert.deepEqual(a.inputShapes.encoder_hidden_states, [2, 3, 4]);
  assert.deepEqual(a.shapes.get('out_sample')?.shape, [2, 4, 16, 16]);
  // every Conv output matches the static export's value_info for the node of the same name
  const declared = new Map(stat.graph.valueInfo.map((v) => [v.name, factsFromType(v.type)?.shape]));
  const convs = dyn.graph.nodes.filter((n) => n.opType === 'Conv' || n.opType === 'MatMul');
  assert.ok(convs.length > 30);
  for (const n of convs) {
    const want = declared.get(n.outputs[0]);
    if (want) assert.deepEqual(a.shapes.get(n.outputs[0])?.shape, want, n.name);
  }
});

test('corpus: inferred output shapes match the declared ones for every single-op model', { skip: !existsSync(CORPUS) && 'corpus not present' }, async () => {
  let agree = 0;
  const wrong: string[] = [];
  for (const sub of ['node', 'pytorch-converted', 'pytorch-operator', 'simple']) {
    for (const d of readdirSync(join(CORPUS, sub))) {
      const p = join(CORPUS, sub, d, 'model.onnx');
      if (!existsSync(p)) continue;
      const m = await readModel(p);
      const opset = m.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version;
      const shapes = inferShapes(new GraphView(m.graph), { tensorValues: await readFoldValues(tensorsOf(m)), useDeclared: false, opset });
      for (const o of m.graph.outputs) {
        const want = factsFromType(o.type)?.shape;
        const got = shapes.get(o.name)?.shape;
        if (!want || !got || got.some((x, i) => typeof x !== 'number' && typeof want[i] === 'number')) continue; // unknown: fine
        if (got.length === want.length && got.every((x, i) => typeof want[i] !== 'number' || x === want[i])) agree++;
        else wrong.push(`${sub}/${d} ${o.name}: ${formatShape(got)} != ${formatShape(want)}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(agree > 1400, `only ${agree} outputs inferred`);
});

test('joint attention keeps its token counts: concat of text and image tokens, sliced apart again', async () => {
  const b = new GraphBuilder();
  b.input('img', ['batch', 'image_tokens', 16]);
  b.input('txt', ['batch', 'text_tokens', 16]);
  const joint = b.node('Concat', ['txt', 'img'], { attrs: { axis: 1 } });
  const txtLen = b.node('Unsqueeze', [b.node('Gather', [b.node('Shape', ['txt']), b.ints('one', [1], [])], { attrs: { axis: 0 } }), b.ints('zero', [0])]);
  const end = b.ints('end', [2 ** 62]);
  const axis = b.ints('ax', [1]);
  const imgBack = b.node('Slice', [joint, txtLen, end, axis]);
  const txtBack = b.node('Slice', [joint, b.ints('start0', [0]), txtLen, axis]);
  const offByTwo = b.node('Slice', [joint, b.ints('two', [2]), end, axis]);
  const twice = b.node('Concat', [joint, 'img', 'img'], { attrs: { axis: 1 } });
  const unknown = b.node('Slice', ['img', txtLen, end, axis]); // image tokens minus text tokens: not expressible
  const s = await shapesOf(b);
  assert.equal(formatShape(s.get(joint)!.shape), '[batch,text_tokens+image_tokens,16]');
  assert.equal(formatShape(s.get(imgBack)!.shape), '[batch,image_tokens,16]');
  assert.equal(formatShape(s.get(txtBack)!.shape), '[batch,text_tokens,16]');
  assert.equal(formatShape(s.get(twice)!.shape), '[batch,text_tokens+image_tokens+image_tokens+image_tokens,16]');
  assert.equal(formatShape(s.get(offByTwo)!.shape), '[batch,?,16]'); // (text + image) − 2: the constant would go negative
  assert.equal(formatShape(s.get(unknown)!.shape), '[batch,?,16]');
});
