// The Model view shows the module hierarchy of the shipped U-Net with parameter totals that match the
// graph layer's own count and the model file's floating-point initializers.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { suite, suiteSetup, test } from './tdd';
import { api, unetPath } from './helpers';
import { readModel } from '../../../src/core/onnx/reader';
import { analyzeModel } from '../../../src/core/graph';
import { ElemType, numElements } from '../../../src/core/onnx/types';
import type { ModuleItem } from '../../../src/extension/model/modelTree';
import type { LdSurgeonApi } from '../../../src/extension/api';

suite('model tree', () => {
  let a: LdSurgeonApi;
  let root: ModuleItem;

  suiteSetup(async () => {
    a = await api();
    await a.modelTree.show(unetPath());
    const top = a.modelTree.getChildren();
    assert.equal(top.length, 1, 'one root item: the model');
    root = top[0];
  });

  test('the root item is the model with its totals', () => {
    assert.equal(root.label, path.basename(unetPath()));
    assert.equal(root.modelPath, unetPath());
    assert.match(String(root.description), /^\d+ ops · [\d.]+[KMG]? params · [\d.]+[KMGT]?\+? FLOPs$/);
  });

  test('top-level modules are the U-Net blocks', () => {
    const names = a.modelTree.getChildren(root).map((i) => String(i.label));
    for (const expected of ['conv_in', 'time_embedding', 'down_blocks.0', 'mid_block', 'up_blocks.0', 'conv_out']) {
      assert.ok(names.includes(expected), `${expected} is among ${names.join(', ')}`);
    }
  });

  test('parameter totals match the graph layer and the file', async () => {
    const model = await readModel(unetPath());
    const analysis = await analyzeModel(model);
    const graphTotal = analysis.total.get(analysis.tree.root)!.params;
    assert.equal(root.stats.params, graphTotal, 'tree root = graph layer total');
    // independent count: every floating-point initializer of a torch export is a weight or a bias
    const floats = model.graph.initializers
      .filter((t) => t.elemType === ElemType.FLOAT || t.elemType === ElemType.FLOAT16)
      .reduce((s, t) => s + numElements(t.dims), 0);
    assert.ok(graphTotal > 100_000, `a real U-Net has many parameters (got ${graphTotal})`);
    assert.ok(Math.abs(graphTotal - floats) <= floats * 0.001, `graph total ${graphTotal} ≈ float initializers ${floats}`);
  });

  test('children add up to their parent', async () => {
    // the tree's totals come from the model worker; each module's own params from an analysis made here
    const analysis = await analyzeModel(await readModel(unetPath()));
    const check = (item: ModuleItem) => {
      const kids = a.modelTree.getChildren(item);
      if (!kids.length) return;
      const own = analysis.own.get(analysis.tree.byId.get(item.module.id)!)!;
      const sum = kids.reduce((s, k) => s + k.stats.params, own.params);
      assert.equal(sum, item.stats.params, `params of ${item.module.id || 'root'}`);
      kids.forEach(check);
    };
    check(root);
  });

  test('a nested module is found by id and knows its parent (for reveal)', () => {
    const down = a.modelTree.getChildren(root).find((i) => i.label === 'down_blocks.0')!;
    const resnet = a.modelTree.getChildren(down).find((i) => i.label === 'resnets.0');
    assert.ok(resnet, 'down_blocks.0 has resnets.0');
    assert.equal(resnet.module.id, 'down_blocks.0.resnets.0');
    assert.equal(a.modelTree.itemFor('down_blocks.0.resnets.0')?.id, resnet.id);
    assert.equal(a.modelTree.getParent(resnet)?.id, down.id);
  });

  test('FLOPs are counted per sample (batch 1), with no op of unknown cost in a U-Net', () => {
    assert.ok(root.stats.flops > 0, 'FLOPs known');
    assert.equal(root.stats.uncounted, 0);
    assert.doesNotMatch(String(root.description), /\+ FLOPs/);
  });
});
