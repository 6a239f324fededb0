// Editing a shipped example U-Net through the EditableModel document: every edit operation, its
// refusals (with the module/node named), exact undo/redo, and saving (beside the original, over it
// with a backup) to a model that re-reads and runs in onnxruntime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EditableModel, EditRefused, type ModelEdit } from '../src/core/edit';
import { readModel } from '../src/core/onnx/reader';
import { AttrType, ElemType } from '../src/core/onnx/types';
import { writeModel } from '../src/core/onnx/writer';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from './helpers/graph-builder';
import { editModel, EXAMPLES, tempDir } from './pipeline-fixtures';
import { maxAbsDiff, run, sameBits, unetFeeds } from './prune-helpers';

const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const UNCOND = join(EXAMPLES, 'digits-uncond', 'unet', 'model.onnx');
const feeds = unetFeeds(1, true);
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** The structure the webview draws: equal indexes mean the same graph, shapes and totals. */
const structure = (d: EditableModel) => JSON.stringify(d.graphIndex());

async function refused(p: Promise<unknown>, ...parts: (string | RegExp)[]): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof EditRefused, `expected EditRefused, got ${String(e)}`);
    for (const part of parts) {
      if (typeof part === 'string') assert.ok(e.message.includes(part), `'${e.message}' should mention '${part}'`);
      else assert.match(e.message, part);
    }
    return e.message;
  }
  assert.fail(`the edit was applied; expected a refusal mentioning ${parts.join(', ')}`);
}

/** A copy of the example model in a temp folder (edits save beside their source). */
function copyOf(src: string, dir: string): string {
  const p = join(dir, 'model.onnx');
  copyFileSync(src, p);
  return p;
}

test('bypass a block: fewer FLOPs, exact undo/redo, saved beside the original, runs, original untouched', async () => {
  const tmp = tempDir('edit-bypass-');
  try {
    const src = copyOf(COND, tmp.dir);
    const before = sha(src);
    const doc = await EditableModel.open(src);
    const original = structure(doc);
    const s = await doc.apply({ kind: 'bypass', module: 'down_blocks.0.attentions.0' });
    assert.ok(s.removedNodes.some((id) => id.startsWith('/down_blocks.0/attentions.0/')), 'the block\'s nodes are removed');
    assert.ok(s.modules.some((m) => m.startsWith('down_blocks.0.attentions.0')), s.modules.join(','));
    assert.ok(s.now.flops < s.before.flops && s.now.params < s.before.params, JSON.stringify(s));
    assert.equal(s.speedup.basis, 'flops');
    assert.ok(s.speedup.estimate > 1, `speed-up ${s.speedup.estimate}`);
    assert.equal(s.label, 'Bypass down_blocks.0.attentions.0 (identity)');
    assert.ok(doc.dirty);
    const edited = structure(doc);
    assert.notEqual(edited, original);

    const u = doc.undo()!;
    assert.equal(structure(doc), original, 'undo gives back exactly the original');
    assert.deepEqual(u.now, u.original);
    assert.ok(!doc.dirty);
    doc.redo();
    assert.equal(structure(doc), edited, 'redo gives back exactly the edit');

    const r = await doc.save(undefined, { durable: false });
    assert.equal(r.path, join(tmp.dir, 'model.edited.onnx'));
    assert.ok(!doc.dirty);
    assert.equal(sha(src), before, 'the original file is unchanged');
    const reread = await readModel(r.path);
    assert.ok(!reread.graph.nodes.some((n) => n.name.startsWith('/down_blocks.0/attentions.0/')));
    const [a, b] = [await run(src, feeds), await run(r.path, feeds)];
    assert.ok(b.out_sample.data.every(Number.isFinite));
    assert.ok(maxAbsDiff(a.out_sample.data, b.out_sample.data) > 0, 'the bypass changes what the model computes');
  } finally {
    tmp.done();
  }
});

test('replace: a ResNet by its conv_shortcut, an attention block by identity; refused where the IR has no such replacement', async () => {
  const doc = await EditableModel.open(COND);
  const s = await doc.apply({ kind: 'replace', module: 'down_blocks.1.resnets.0', with: 'shortcut' });
  assert.ok(s.addedNodes.length === 0 || s.addedNodes.every((id) => !id.includes('conv1')));
  assert.ok(doc.model.graph.nodes.some((n) => n.name === '/down_blocks.1/resnets.0/conv_shortcut/Conv'), 'the shortcut conv stays');
  assert.ok(!doc.model.graph.nodes.some((n) => n.name === '/down_blocks.1/resnets.0/conv1/Conv'), 'the block\'s own convs are gone');
  await doc.apply({ kind: 'replace', module: 'mid_block.attentions.0', with: 'identity' });
  assert.ok(!doc.model.graph.nodes.some((n) => n.name.startsWith('/mid_block/attentions.0/')));

  await refused(doc.apply({ kind: 'replace', module: 'down_blocks.0.resnets.0', with: 'shortcut' }), "'down_blocks.0.resnets.0'", 'cheaper identity');
  await refused(doc.apply({ kind: 'replace', module: 'down_blocks.0.attentions.0', with: 'shortcut' }), 'only a ResNet block');
  await refused(doc.apply({ kind: 'replace', module: 'down_blocks.0.downsamplers.0', with: 'identity' }), "'down_blocks.0.downsamplers.0'", 'differ in shape', '[1,32,8,8]');
  await refused(doc.apply({ kind: 'bypass', module: 'down_blocks.9' }), "no module 'down_blocks.9'");
  assert.equal(doc.version, 2, 'refused edits leave no trace in the edit stack');

  const tmp = tempDir('edit-replace-');
  try {
    const out = join(tmp.dir, 'replaced.onnx');
    await doc.save(out, { durable: false });
    const r = await run(out, feeds);
    assert.ok(r.out_sample.data.every(Number.isFinite));
  } finally {
    tmp.done();
  }
});

test('remove a node: only one whose output nothing reads; its own weights go with it', async () => {
  const tmp = tempDir('edit-remove-');
  try {
    // the example with one dead node added: a Conv reading sample and its own weight, output unused
    const src = await editModel(COND, join(tmp.dir, 'model.onnx'), (m) => {
      m.graph.initializers.push({ ...m.graph.initializers.find((t) => t.name === 'conv_in.weight')!, name: 'dead.weight' });
      m.graph.nodes.push({ name: '/dead/Conv', opType: 'Conv', domain: '', inputs: ['sample', 'dead.weight'], outputs: ['dead_out'], attributes: [{ name: 'pads', type: AttrType.INTS, ints: [1, 1, 1, 1] }] });
    });
    const doc = await EditableModel.open(src);
    await refused(doc.apply({ kind: 'remove-node', node: '/down_blocks.0/resnets.0/conv1/Conv' }), "node '/down_blocks.0/resnets.0/conv1/Conv' (in down_blocks.0.resnets.0.conv1)", 'is read by', "'/down_blocks.0/resnets.0/Add'");
    await refused(doc.apply({ kind: 'remove-node', node: '/conv_out/Conv' }), 'its output out_sample is a graph output');
    await refused(doc.apply({ kind: 'remove-node', node: '/nowhere' }), "no node '/nowhere'");
    const s = await doc.apply({ kind: 'remove-node', node: '/dead/Conv' });
    assert.deepEqual(s.removedNodes, ['/dead/Conv']);
    assert.ok(!doc.model.graph.initializers.some((t) => t.name === 'dead.weight'));
    assert.ok(doc.model.graph.initializers.some((t) => t.name === 'conv_in.weight'), 'weights other nodes read stay');
    const out = join(tmp.dir, 'clean.onnx');
    await doc.save(out, { durable: false });
    const [a, b] = [await run(COND, feeds), await run(out, feeds)];
    assert.ok(sameBits(a.out_sample.data, b.out_sample.data), 'removing a dead node changes nothing computed');
  } finally {
    tmp.done();
  }
});

test('rename a node and values (a weight, an intermediate, the output): every reference follows, collisions refused', async () => {
  const tmp = tempDir('edit-rename-');
  try {
    const doc = await EditableModel.open(COND);
    await refused(doc.apply({ kind: 'rename-node', node: '/conv_in/Conv', to: '/conv_out/Conv' }), "'/conv_in/Conv'", 'another Conv node has that name');
    await refused(doc.apply({ kind: 'rename-node', node: '/conv_in/Conv', to: ' ' }), 'empty');
    await refused(doc.apply({ kind: 'rename-value', value: '/conv_in/Conv_output_0', to: 'conv_in.weight' }), "a value named 'conv_in.weight' already exists");
    await refused(doc.apply({ kind: 'rename-value', value: 'no_such_value', to: 'x' }), "no value 'no_such_value'");

    const readers = doc.model.graph.nodes.filter((x) => x.inputs.includes('/conv_in/Conv_output_0')).length;
    const n = await doc.apply({ kind: 'rename-node', node: '/conv_in/Conv', to: 'stem' });
    assert.deepEqual(n.addedNodes, ['stem']);
    assert.deepEqual(n.removedNodes, ['/conv_in/Conv']);
    await doc.apply({ kind: 'rename-value', value: 'conv_in.weight', to: 'stem.weight' });
    await doc.apply({ kind: 'rename-value', value: '/conv_in/Conv_output_0', to: 'stem_out' });
    await doc.apply({ kind: 'rename-value', value: 'out_sample', to: 'noise_pred' });
    const g = doc.model.graph;
    const stem = g.nodes.find((x) => x.name === 'stem')!;
    assert.deepEqual(stem.inputs.slice(0, 2), ['sample', 'stem.weight']);
    assert.deepEqual(stem.outputs, ['stem_out']);
    assert.equal(g.nodes.filter((x) => x.inputs.includes('stem_out')).length, readers, 'every reader of the value reads the new name');
    assert.ok(!g.nodes.some((x) => x.inputs.includes('/conv_in/Conv_output_0')));
    assert.deepEqual(g.outputs.map((o) => o.name), ['noise_pred']);

    const out = join(tmp.dir, 'renamed.onnx');
    await doc.save(out, { durable: false });
    const [a, b] = [await run(COND, feeds), await run(out, feeds)];
    assert.ok(sameBits(a.out_sample.data, b.noise_pred.data), 'renames change no value');
    // the original document's snapshot shares the weight: renaming made a new tensor entry
    for (let i = 0; i < 4; i++) doc.undo();
    assert.ok(doc.model.graph.initializers.some((t) => t.name === 'conv_in.weight'));
    assert.ok(doc.model.graph.nodes.some((x) => x.name === '/conv_in/Conv'));
  } finally {
    tmp.done();
  }
});

test('edit an attribute: typed input parsed and validated; a value that breaks shapes is refused naming the node', async () => {
  const tmp = tempDir('edit-attr-');
  try {
    const doc = await EditableModel.open(COND);
    const norm = '/down_blocks.0/resnets.0/norm1/InstanceNormalization';
    await refused(doc.apply({ kind: 'set-attribute', node: norm, name: 'epsilon', input: { type: 'text', value: 'tiny' } }), "'epsilon' takes a number, got 'tiny'", norm);
    await refused(doc.apply({ kind: 'set-attribute', node: '/conv_in/Conv', name: 'group', input: { type: 'text', value: '1.5' } }), "'group' takes an integer");
    await refused(doc.apply({ kind: 'set-attribute', node: '/conv_in/Conv', name: 'strides', input: { type: 'text', value: '[2, x]' } }), "'x' is not an integer");
    await refused(doc.apply({ kind: 'set-attribute', node: '/conv_in/Conv', name: 'strides', input: { type: 'float', value: 2 } }), "'strides' takes a list of integers, got a float value");
    await refused(doc.apply({ kind: 'set-attribute', node: '/conv_in/Conv', name: 'no_such', input: { type: 'text', value: '1' } }), 'has no attribute');
    // stride 2 in a ResNet's first conv: its residual Add no longer fits
    await refused(
      doc.apply({ kind: 'set-attribute', node: '/down_blocks.0/resnets.0/conv1/Conv', name: 'strides', input: { type: 'text', value: '[2, 2]' } }),
      "node '/down_blocks.0/resnets.0/Add_1' (Add in down_blocks.0.resnets.0)", 'no longer has a consistent output shape', '[1,32,4,4]',
    );
    assert.equal(doc.version, 0);

    const s = await doc.apply({ kind: 'set-attribute', node: norm, name: 'epsilon', input: { type: 'text', value: '0.5' } });
    assert.ok(s.addedNodes.includes(norm) && s.removedNodes.includes(norm), 'the node shows as changed');
    assert.deepEqual(s.now, s.before, 'an epsilon changes no totals');
    const node = doc.model.graph.nodes.find((x) => x.name === norm)!;
    assert.equal(node.attributes.find((x) => x.name === 'epsilon')!.f, 0.5);
    const out = join(tmp.dir, 'eps.onnx');
    await doc.save(out, { durable: false });
    const [a, b] = [await run(COND, feeds), await run(out, feeds)];
    assert.ok(maxAbsDiff(a.out_sample.data, b.out_sample.data) > 1e-6, 'the new epsilon is what runs');
    doc.undo();
    assert.notEqual(doc.model.graph.nodes.find((x) => x.name === norm)!.attributes.find((x) => x.name === 'epsilon')!.f, 0.5, 'undo restores the old value');
  } finally {
    tmp.done();
  }
});

test('set and clear a graph output: the saved model outputs the intermediate value; the last output cannot be cleared', async () => {
  const tmp = tempDir('edit-output-');
  try {
    const doc = await EditableModel.open(COND);
    const mid = '/mid_block/resnets.1/Add_1_output_0';
    await refused(doc.apply({ kind: 'clear-output', value: 'out_sample' }), "it is the model's only output");
    await refused(doc.apply({ kind: 'set-output', value: 'out_sample' }), 'already a graph output');
    await doc.apply({ kind: 'set-output', value: mid });
    const declared = doc.model.graph.outputs[1];
    assert.equal(declared.name, mid);
    assert.equal(declared.type?.kind === 'tensor' && declared.type.elemType, ElemType.FLOAT);
    const out = join(tmp.dir, 'two-outputs.onnx');
    await doc.save(out, { durable: false });
    const r = await run(out, feeds);
    assert.deepEqual(r[mid].dims, [1, 64, 2, 2]);

    // clearing the main output leaves the intermediate one, and drops what only the old output needed
    const s = await doc.apply({ kind: 'clear-output', value: 'out_sample' });
    assert.ok(s.removedNodes.includes('/conv_out/Conv'));
    assert.ok(s.now.flops < s.before.flops);
    const out2 = join(tmp.dir, 'mid-only.onnx');
    await doc.save(out2, { durable: false });
    const r2 = await run(out2, feeds);
    assert.ok(sameBits(r[mid].data, r2[mid].data));
  } finally {
    tmp.done();
  }
});

test('accept and reject suggested prunes: accepted ones are applied together (nested ones once), rejected ones only remembered', async () => {
  const doc = await EditableModel.open(UNCOND);
  const original = structure(doc);
  const r = await doc.apply({ kind: 'reject-prunes', modules: ['down_blocks.0.resnets.1'] });
  assert.deepEqual(r.rejected, ['down_blocks.0.resnets.1']);
  assert.equal(structure(doc), original, 'rejecting changes no model');
  await refused(doc.apply({ kind: 'accept-prunes', modules: ['up_blocks.0.resnets.0.nope'] }), 'up_blocks.0.resnets.0.nope');
  const a = await doc.apply({ kind: 'accept-prunes', modules: ['down_blocks.0.resnets.1', 'down_blocks.0.resnets.1.conv1', 'mid_block.attentions.0'] });
  assert.equal(a.label, 'Accept 2 suggested prunes');
  assert.deepEqual(a.rejected, [], 'an accepted suggestion is no longer rejected');
  assert.ok(!doc.model.graph.nodes.some((n) => n.name.startsWith('/down_blocks.0/resnets.1/') || n.name.startsWith('/mid_block/attentions.0/')));
  doc.undo();
  assert.deepEqual(doc.rejected, ['down_blocks.0.resnets.1']);
  doc.undo();
  assert.deepEqual(doc.rejected, []);
});

test('the element-type check: a bypass that would hand a float to a bool reader is refused', async () => {
  const tmp = tempDir('edit-elem-');
  try {
    // x (float) → IsNaN → mask (bool) → Not → keep (bool) → Where(keep, x, zero) → y
    const b = new GraphBuilder('mask');
    b.input('x', [2, 3]);
    const zero = b.weight('zero', [1], [0]);
    const mask = b.node('IsNaN', ['x'], { name: '/to_bool/IsNaN' });
    const keep = b.node('Not', [mask], { name: '/invert/Not' });
    b.node('Where', [keep, 'x', zero], { name: '/select/Where', outputs: ['y'] });
    b.output('y', [2, 3]);
    const src = join(tmp.dir, 'mask.onnx');
    await writeModel(b.model(), src, { durable: false });
    const doc = await EditableModel.open(src);
    await refused(doc.apply({ kind: 'bypass', module: 'to_bool' }), "'to_bool'", 'bool', 'float');
    await refused(doc.apply({ kind: 'replace', module: 'to_bool', with: 'identity' }), 'is bool but its input x is float');
    // the Not keeps bool → bool: bypassing it is fine
    await doc.apply({ kind: 'bypass', module: 'invert' });
    assert.ok(!doc.model.graph.nodes.some((n) => n.name === '/invert/Not'));
    const out = join(tmp.dir, 'no-not.onnx');
    await doc.save(out, { durable: false });
    const r = await run(out, { x: new ort.Tensor('float32', Float32Array.from([1, NaN, 3, NaN, 5, 6]), [2, 3]) });
    assert.deepEqual(Array.from(r.y.data as Float32Array), [0, NaN, 0, NaN, 0, 0], 'Where now takes x where it is NaN');
  } finally {
    tmp.done();
  }
});

test('save: never over the original unless asked; then a backup keeps its bytes, and undo + save still read the old weights', async () => {
  const tmp = tempDir('edit-save-');
  try {
    const src = copyOf(UNCOND, tmp.dir);
    const before = sha(src);
    const doc = await EditableModel.open(src);
    await doc.apply({ kind: 'bypass', module: 'up_blocks.0.resnets.0' });
    await assert.rejects(doc.save(src), /is the original model; save the edited model beside it/);
    assert.equal(sha(src), before);
    const r = await doc.save(src, { overwriteOriginal: true, durable: false });
    assert.equal(r.backup, join(tmp.dir, 'model.backup.onnx'));
    assert.equal(sha(r.backup!), before, 'the backup holds the original bytes');
    assert.notEqual(sha(src), before);
    assert.ok(!(await readModel(src)).graph.nodes.some((n) => n.name === '/up_blocks.0/resnets.0/conv1/Conv'), 'the edit is in the saved file');
    // the document still reads weights (now from the backup): undo and save the original elsewhere
    doc.undo();
    const back = join(tmp.dir, 'restored.onnx');
    await doc.save(back, { durable: false });
    const f = unetFeeds(1, false);
    const [a, b] = [await run(r.backup!, f), await run(back, f)];
    assert.ok(sameBits(a.out_sample.data, b.out_sample.data), 'undo after saving over the original is exact');
    // a second save over the original keeps a second backup, not over the first
    const r2 = await doc.save(src, { overwriteOriginal: true, durable: false });
    assert.equal(r2.backup, join(tmp.dir, 'model.backup-1.onnx'));
    assert.ok(existsSync(r.backup!));
  } finally {
    tmp.done();
  }
});

test('hot exit: replaying the recorded edits on the original gives the same model', async () => {
  const doc = await EditableModel.open(COND);
  const edits: ModelEdit[] = [
    { kind: 'bypass', module: 'down_blocks.1.attentions.1.transformer_blocks.0.attn1' },
    { kind: 'rename-node', node: '/conv_out/Conv', to: 'head' },
    { kind: 'set-attribute', node: '/down_blocks.0/resnets.0/norm2/InstanceNormalization', name: 'epsilon', input: { type: 'float', value: 1e-3 } },
  ];
  for (const e of edits) await doc.apply(e);
  doc.undo();
  assert.deepEqual(doc.edits, edits.slice(0, 2));
  const again = await EditableModel.open(COND, {}, doc.edits);
  assert.equal(structure(again), structure(doc));
  assert.equal(again.version, 2);
});
