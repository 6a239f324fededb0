// planModification keeps element types: a region whose replacement would swap a bool for a float
// (a comparison) is refused with the reason, and choosing it is a clear error naming the module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../src/core/errors';
import { analyzeModel } from '../src/core/graph';
import { ElemType } from '../src/core/onnx/types';
import { applyModifications, findCandidates, selectCandidates } from '../src/core/surgery';
import { GraphBuilder } from './helpers/graph-builder';

/** y = Where(x < 0, 0, x) · 2 + x, with the comparison in its own module 'mask' */
async function masked() {
  const b = new GraphBuilder();
  b.input('x', [1, 8]);
  b.weight('zero', [1]);
  b.weight('two', [8], new Array(8).fill(2));
  const cond = b.node('Less', ['x', 'zero'], { name: '/mask/Less' });
  const relu = b.node('Where', [cond, 'zero', 'x'], { name: '/act/Where' });
  const g = b.node('Mul', [relu, 'two'], { name: '/gain/Mul' });
  b.node('Add', [g, 'x'], { name: '/Add', outputs: ['y'] });
  b.output('y', [1, 8]);
  const m = b.model();
  m.path = '/models/masked.onnx';
  return { model: m, a: await analyzeModel(m) };
}

test('identity on a comparison (bool output, float input) is refused with the element types named', async () => {
  const { a } = await masked();
  assert.equal(a.shapes.get('/mask/Less_output_0')?.elemType, ElemType.BOOL);
  const c = new Map(findCandidates(a).map((x) => [x.id, x]));
  const mask = c.get('mask')!;
  assert.equal(mask.modification, null);
  assert.equal(mask.reason, 'its output /mask/Less_output_0 is bool but its replacement x is float: the identity modification would change the element type');
  // float regions around it are still modifiable
  assert.equal(c.get('gain')!.modification?.method, 'identity');
  // the Where reads the bool condition and x: x, of the output's type, is the input that stands in for it
  assert.equal(c.get('act')!.entry, 'x');
  assert.equal(c.get('act')!.modification?.method, 'identity');
});

test('choosing the refused module is a user error naming the module and the file; the rest applies', async () => {
  const { model, a } = await masked();
  const all = findCandidates(a);
  assert.throws(() => selectCandidates(all, ['mask'], model.path), (e: Error) => e instanceof UserError && /^\/models\/masked\.onnx: candidate 'mask' cannot be modified: its output .* is bool but its replacement x is float/.test(e.message));
  const r = applyModifications(model, selectCandidates(all, ['gain'], model.path));
  assert.ok(!r.model.graph.nodes.some((n) => n.opType === 'Mul'));
  assert.ok(r.model.graph.nodes.some((n) => n.opType === 'Less'));
});
