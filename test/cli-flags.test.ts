// Flag values every command checks through src/cli/flags.ts: what is accepted and the one-line
// error a user sees otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choiceFlag, inputShapesFlag, intFlag, intListFlag, numFlag } from '../src/cli/flags';

test('integer flags: bounds are named in the error; no bound accepts negatives', () => {
  assert.equal(intFlag('--steps', '25', 1), 25);
  assert.equal(intFlag('--steps', undefined, 1), undefined);
  assert.throws(() => intFlag('--steps', '0', 1), /^UserError: --steps '0': expected an integer ≥ 1$/);
  assert.throws(() => intFlag('--steps', '2.5', 1), /--steps '2\.5': expected an integer ≥ 1/);
  assert.equal(intFlag('--seed', '-3'), -3);
  assert.throws(() => intFlag('--seed', 'x'), /--seed 'x': expected an integer$/);
});

test('number flags: finite, with an inclusive or a strict lower bound', () => {
  assert.equal(numFlag('--eta', '0', { min: 0 }), 0);
  assert.throws(() => numFlag('--eta', '-0.1', { min: 0 }), /--eta '-0\.1': expected a number ≥ 0/);
  assert.throws(() => numFlag('--latency-seconds', '0', { above: 0 }), /--latency-seconds '0': expected a number > 0/);
  assert.throws(() => numFlag('--lr', 'Infinity'), /--lr 'Infinity': expected a number$/);
});

test('integer lists and word choices', () => {
  assert.deepEqual(intListFlag('--k', '2, 4,8', 1), [2, 4, 8]);
  assert.throws(() => intListFlag('--k', '2,0', 1), /--k '2,0': expected integers ≥ 1, comma-separated/);
  assert.equal(choiceFlag('--scheduler', 'ddpm', ['ddim', 'ddpm']), 'ddpm');
  assert.equal(choiceFlag('--scheduler', undefined, ['ddim', 'ddpm']), undefined);
  assert.throws(() => choiceFlag('--scheduler', 'euler', ['ddim', 'ddpm']), /--scheduler 'euler': expected ddim or ddpm$/);
  assert.throws(() => choiceFlag('--granularity', 'op', ['block', 'layer', 'both']), /expected block, layer or both$/);
  assert.throws(() => choiceFlag('--variant', 'max', ['avg', 'std', 'avg+std', 'avg*std']), /expected one of avg, std, avg\+std, avg\*std$/);
});

test('--input values become shapes by name; a name given twice is refused', () => {
  assert.deepEqual(inputShapesFlag(['sample=1,4,64,64', 'encoder_hidden_states=2x77x768']), { sample: [1, 4, 64, 64], encoder_hidden_states: [2, 77, 768] });
  assert.throws(() => inputShapesFlag(['x=1,2', 'x=1,3']), /--input 'x' is given twice/);
  assert.throws(() => inputShapesFlag(['x=1,-2']), /NAME=D1,D2/);
});
