// Candidates: ids, kinds, regions (one exit, shared exporter nodes left out) and the modification each
// gets, on the miniature diffusers-style U-Net fixture and on hand-built graphs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeModel, type ModelAnalysis } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { UserError } from '../src/core/errors';
import { applyModifications, findCandidates, selectCandidates, type Candidate } from '../src/core/surgery';
import { GraphBuilder } from './helpers/graph-builder';

const STATIC = 'test/fixtures/graph/tiny_unet_static.onnx';
const DYNAMIC = 'test/fixtures/graph/tiny_unet_dynamic.onnx';

let cached: ModelAnalysis | undefined;
async function tiny(): Promise<ModelAnalysis> {
  cached ??= await analyzeModel(await readModel(STATIC));
  return cached;
}

const byId = (list: Candidate[]) => new Map(list.map((c) => [c.id, c]));

/** Values the region writes that a non-shape node outside it reads: recomputed here, independently. */
function leaving(a: ModelAnalysis, c: Candidate): string[] {
  const nodes = c.nodeIndices.map((i) => a.view.nodes[i]);
  const inside = new Set(nodes);
  const out: string[] = [];
  for (const n of nodes) {
    if (a.noise.has(n)) continue;
    for (const o of n.outputs) {
      if (a.view.isGraphOutput(o) || a.view.consumers(o).some((x) => !inside.has(x) && a.noise.get(x) !== 'shape')) out.push(o);
    }
  }
  return out;
}

test('block and layer candidates of a diffusers-style U-Net carry module-path ids and a modification each', async () => {
  const a = await tiny();
  const all = findCandidates(a, { granularity: 'both' });
  const c = byId(all);
  for (const id of ['down_blocks.0.resnets.0', 'down_blocks.0.attentions.0', 'down_blocks.0.downsamplers.0', 'mid_block.resnets.1', 'mid_block.attentions.0', 'up_blocks.0.upsamplers.0']) {
    assert.equal(c.get(id)?.level, 'block', id);
  }
  for (const id of ['down_blocks.0.resnets.0.conv1', 'down_blocks.0.resnets.0.time_emb_proj', 'down_blocks.0.attentions.0.transformer_blocks.0.attn1', 'down_blocks.0.attentions.0.proj_in', 'conv_norm_out']) {
    assert.equal(c.get(id)?.level, 'layer', id);
  }
  assert.equal(c.get('down_blocks.0.resnets.0')!.kind, 'resnet');
  assert.equal(c.get('mid_block.attentions.0.transformer_blocks.0.attn2')!.kind, 'attention');
  // a Downsample2D is nothing but its conv: listed once, the conv as an alias
  assert.deepEqual(c.get('down_blocks.0.downsamplers.0')!.aliases, ['down_blocks.0.downsamplers.0.conv']);
  assert.ok(!c.has('down_blocks.0.downsamplers.0.conv'));

  const method = (id: string) => c.get(id)!.modification?.method;
  assert.equal(method('down_blocks.0.resnets.0'), 'identity');
  assert.equal(method('down_blocks.0.attentions.0.transformer_blocks.0.attn1'), 'skip-residual');
  assert.equal(c.get('down_blocks.0.attentions.0.transformer_blocks.0.attn1')!.modification!.bypassedNode, '/down_blocks.0/attentions.0/transformer_blocks.0/Add');
  assert.equal(method('down_blocks.0.resnets.0.time_emb_proj'), 'skip-residual');
  assert.equal(method('down_blocks.1.resnets.0'), 'shortcut');
  assert.equal(method('up_blocks.0.resnets.0'), 'shortcut');
  assert.deepEqual(c.get('down_blocks.0.downsamplers.0')!.modification!.steps, [{ op: 'avgpool', factor: 2 }]);
  assert.deepEqual(c.get('up_blocks.0.upsamplers.0')!.modification!.steps, [{ op: 'upsample', factor: 2 }]);
  // up block conv1: input is concat(up path, skip) → keep the first C channels
  assert.deepEqual(c.get('up_blocks.0.resnets.0.conv1')!.modification!.steps, [{ op: 'slice', axis: 1, size: 8 }]);
  assert.deepEqual(c.get('down_blocks.1.resnets.0.conv1')!.modification!.steps, [{ op: 'pad', axis: 1, size: 8 }]);
  // in-line layers are replaced by their input, not treated as the whole residual branch
  assert.equal(method('down_blocks.0.resnets.0.conv2'), 'identity');
  const out = c.get('conv_out')!;
  assert.equal(out.modification, null);
  assert.match(out.reason!, /graph output/);

  for (const x of all) {
    assert.ok(x.flops >= 0 && x.params >= 0, x.id);
    if (!x.modification) continue;
    assert.deepEqual(leaving(a, x), [x.exit], `${x.id}: exactly one value leaves the region`);
  }
});

test('granularity filters levels; ids are the same for static and dynamic exports of the same network', async () => {
  const a = await tiny();
  const blocks = findCandidates(a, { granularity: 'block' });
  const layers = findCandidates(a, { granularity: 'layer' });
  assert.ok(blocks.length > 5 && blocks.every((c) => c.level === 'block'));
  assert.ok(layers.length > 20 && layers.every((c) => c.level === 'layer'));
  const d = await analyzeModel(await readModel(DYNAMIC), { inputShapes: { sample: [2, 4, 16, 16], timestep: [2], encoder_hidden_states: [2, 3, 4] } });
  const dyn = findCandidates(d, { granularity: 'both' });
  assert.deepEqual(dyn.map((c) => c.id), findCandidates(a, { granularity: 'both' }).map((c) => c.id));
  assert.deepEqual(dyn.map((c) => c.modification?.method ?? null), findCandidates(a, { granularity: 'both' }).map((c) => c.modification?.method ?? null));
  assert.throws(() => findCandidates(a, { granularity: 'tiles' as never }), UserError);
});

test('a node one scope computes for every scope (a shared SiLU of the time embedding) stays out of the region', async () => {
  // torch's CSE keeps one SiLU(temb) in the first ResNet's scope and feeds every time_emb_proj from it
  const b = new GraphBuilder();
  b.input('x', [1, 4]);
  b.input('t', [1, 4]);
  const w = b.weight('w', [4, 4], Array.from({ length: 16 }, (_, i) => (i % 5 ? 0.1 : 1)));
  const s = b.node('Sigmoid', ['t'], { name: '/blocks.0/act/Sigmoid' });
  const silu = b.node('Mul', ['t', s], { name: '/blocks.0/act/Mul' });
  const p0 = b.node('MatMul', [silu, w], { name: '/blocks.0/proj/MatMul' });
  const h0 = b.node('Add', ['x', p0], { name: '/blocks.0/Add' });
  const p1 = b.node('MatMul', [silu, w], { name: '/blocks.1/proj/MatMul' });
  const h1 = b.node('Add', [h0, p1], { name: '/blocks.1/Add' });
  b.node('Relu', [h1], { name: '/Relu', outputs: ['y'] });
  b.output('y', [1, 4]);
  const a = await analyzeModel(b.model());
  const c = byId(findCandidates(a, { granularity: 'block' })).get('blocks.0')!;
  assert.ok(c.modification, c.reason);
  const names = c.nodeIndices.map((i) => a.view.nodes[i].name);
  assert.deepEqual(names, ['/blocks.0/proj/MatMul', '/blocks.0/Add']);
  assert.equal(c.exit, h0);
  assert.equal(c.entry, 'x');
});

test('a region with two exits, or whose output is a graph output, is listed as unmodifiable with the reason', async () => {
  const b = new GraphBuilder();
  b.input('x', ['batch', 4]);
  const r = b.node('Relu', ['x'], { name: '/blk/Relu' });
  const n = b.node('Neg', [r], { name: '/blk/Neg' });
  const s = b.node('Add', [r, n], { name: '/Add' });
  b.node('Sigmoid', [s], { name: '/head/Sigmoid', outputs: ['y'] });
  b.output('y', ['batch', 4]);
  const a = await analyzeModel(b.model(), { inputShapes: { x: [1, 4] } });
  const c = byId(findCandidates(a, { granularity: 'both' }));
  assert.equal(c.get('blk')!.modification, null);
  assert.match(c.get('blk')!.reason!, /2 values leave it .*no single exit/);
  assert.match(c.get('head')!.reason!, /graph output/);
});

test('selecting candidates: unknown and unmodifiable ids are clear user errors', async () => {
  const all = findCandidates(await tiny(), { granularity: 'both' });
  assert.throws(() => selectCandidates(all, ['down_blocks.0.resnets.7']), (e: Error) => e instanceof UserError && /no candidate 'down_blocks\.0\.resnets\.7'.*did you mean down_blocks\.0/.test(e.message));
  assert.throws(() => selectCandidates(all, ['conv_out']), (e: Error) => e instanceof UserError && /'conv_out' cannot be modified: its output out_sample is a graph output/.test(e.message));
  // an alias selects its candidate
  assert.equal(selectCandidates(all, ['down_blocks.0.downsamplers.0.conv'])[0].id, 'down_blocks.0.downsamplers.0');
});

test('applyModifications works on a copy: the input model is unchanged and the removed region is gone', async () => {
  const model = await readModel(STATIC);
  const a = await analyzeModel(model);
  const before = JSON.stringify(model.graph.nodes);
  const beforeInfo = JSON.stringify(model.graph.valueInfo);
  assert.ok(model.graph.valueInfo.length > 0);
  const beforeInits = model.graph.initializers.length;
  const all = findCandidates(a, { granularity: 'both' });
  const attn = byId(all).get('mid_block.attentions.0.transformer_blocks.0.attn1')!;
  const r = applyModifications(model, [attn]);
  assert.equal(JSON.stringify(model.graph.nodes), before);
  assert.equal(model.graph.initializers.length, beforeInits);
  // declared shapes of the copy can be corrected in place without touching the source
  for (const v of r.model.graph.valueInfo) if (v.type?.kind === 'tensor') v.type.shape = [];
  for (const n of r.model.graph.nodes) n.inputs.push('x');
  assert.equal(JSON.stringify(model.graph.valueInfo), beforeInfo);
  assert.equal(JSON.stringify(model.graph.nodes), before);
  const names = new Set(r.model.graph.nodes.map((n) => n.name));
  assert.ok(!names.has('/mid_block/attentions.0/transformer_blocks.0/attn1/to_q/MatMul'));
  assert.ok(!names.has('/mid_block/attentions.0/transformer_blocks.0/Add'), 'the bypassed residual Add is gone too');
  assert.ok(r.removedNodes >= attn.ops);
  assert.ok(r.model.graph.initializers.length < beforeInits, 'weights only attn1 used are dropped');
  assert.deepEqual(r.model.graph.outputs.map((o) => o.name), ['out_sample']);
  assert.deepEqual(r.model.graph.inputs.map((o) => o.name), model.graph.inputs.map((o) => o.name));
});
