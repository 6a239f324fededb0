// The graph index carries what the inspector shows of a node: its attributes (kernel_shape, strides,
// pads, group, epsilon, axis…) and the shapes and element types of the weights it reads, never
// tensor values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { analyzeModel, buildGraphIndex } from '../src/core/graph';
import { perSampleInputShapes } from '../src/core/graph/input-shapes';
import { readModel } from '../src/core/onnx/reader';
import { ElemType } from '../src/core/onnx/types';
import { EXAMPLES } from './pipeline-fixtures';

test('node attributes and initializer shapes/types in the index of an example U-Net', async () => {
  const m = await readModel(join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx'));
  const idx = buildGraphIndex(await analyzeModel(m, { inputShapes: perSampleInputShapes(m) }));
  const node = (id: string) => idx.nodes.find((n) => n.id === id)!;
  const attrs = (id: string) => Object.fromEntries((node(id).attrs ?? []).map((a) => [a.name, a]));

  const conv = attrs('/down_blocks.1/resnets.0/conv1/Conv');
  assert.deepEqual(conv.kernel_shape, { name: 'kernel_shape', type: 'ints', value: [3, 3] });
  assert.deepEqual(conv.strides, { name: 'strides', type: 'ints', value: [1, 1] });
  assert.deepEqual(conv.pads, { name: 'pads', type: 'ints', value: [1, 1, 1, 1] });
  assert.deepEqual(conv.group, { name: 'group', type: 'int', value: 1 });
  const down = attrs('/down_blocks.0/downsamplers.0/conv/Conv');
  assert.deepEqual(down.strides.type === 'ints' && down.strides.value, [2, 2]);
  const eps = attrs('/down_blocks.0/resnets.0/norm1/InstanceNormalization').epsilon;
  assert.equal(eps.type, 'float');
  assert.ok(eps.type === 'float' && Math.abs(eps.value - 1e-5) < 1e-9);
  const ln = idx.nodes.find((n) => n.op === 'LayerNormalization')!;
  assert.ok(ln.attrs?.some((a) => a.name === 'axis' && a.type === 'int' && a.value === -1), JSON.stringify(ln.attrs));

  // a Constant's tensor: element type and dims only
  const constant = idx.nodes.find((n) => n.op === 'Constant' && n.attrs?.[0]?.type === 'tensor')!;
  const t = constant.attrs![0];
  assert.deepEqual(Object.keys(t).sort(), ['dims', 'elemType', 'name', 'type']);

  // weights: shape and element type from the file
  const w = idx.values.name.indexOf('down_blocks.1.resnets.0.conv1.weight');
  assert.ok(idx.initializers.includes(w));
  assert.equal(idx.values.shape[w], '[48,32,3,3]');
  assert.equal(idx.values.elemType[w], ElemType.FLOAT);
  // nodes without attributes carry none
  assert.equal(node('/down_blocks.0/resnets.0/Add_1').attrs, undefined);
});
