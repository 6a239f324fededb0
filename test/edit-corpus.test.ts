// Editing models nobody here wrote (ONNX's backend-test models: PyTorch exports and expanded function
// bodies): bypassing each modifiable module gives a model onnxruntime runs with the original output
// shapes, and undo gives back exactly the original; renaming a weight and an intermediate value
// changes no output bit; an intermediate made a graph output is what onnxruntime returns for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EditableModel } from '../src/core/edit';
import { ElemType } from '../src/core/onnx/types';
import { tempDir } from './pipeline-fixtures';
import { corpusFeeds, run, sameBits } from './prune-helpers';

const CORPUS = resolve(__dirname, '..', '..', 'shared', 'corpus', 'onnx-backend');
const MODELS = [
  'node/test_gelu_tanh_1_expanded',
  'node/test_layer_normalization_2d_axis0_expanded',
  'node/test_layer_normalization_3d_axis1_epsilon_expanded',
  'node/test_elu_default_expanded_ver18',
].filter((m) => existsSync(join(CORPUS, m, 'model.onnx')));

test('the corpus is there', { skip: existsSync(CORPUS) ? false : 'no ../shared/corpus/onnx-backend' }, () => {
  assert.ok(MODELS.length >= 4, `${MODELS.length} corpus models found`);
});

for (const name of MODELS) {
  test(`edit corpus ${name}`, async () => {
    const tmp = tempDir('edit-corpus-');
    try {
      const dir = join(tmp.dir, name.replace(/\//g, '_'));
      mkdirSync(dir);
      const src = join(dir, 'model.onnx');
      copyFileSync(join(CORPUS, name, 'model.onnx'), src);
      const doc = await EditableModel.open(src);
      const feeds = await corpusFeeds(join(CORPUS, name), doc.model);
      const original = await run(src, feeds);
      const structure = () => JSON.stringify(doc.graphIndex());
      const start = structure();

      const modifiable = doc.candidates().filter((c) => c.modification);
      assert.ok(modifiable.length > 0, 'the model has a module to bypass');
      for (const c of modifiable.slice(0, 3)) {
        const s = await doc.apply({ kind: 'bypass', module: c.id });
        assert.ok(s.removedNodes.length > 0, `${c.id}: nodes removed`);
        const out = join(dir, 'bypassed.onnx');
        await doc.save(out, { durable: false });
        const r = await run(out, feeds);
        for (const k of Object.keys(original)) assert.deepEqual(r[k].dims, original[k].dims, `${c.id}: output ${k} keeps its shape`);
        doc.undo();
        assert.equal(structure(), start, `${c.id}: undo gives back the original`);
      }

      const g = doc.model.graph;
      const weight = g.initializers[0]?.name;
      const shapes = doc.analysis().shapes;
      const isFloat = (v: string) => shapes.get(v)?.elemType === ElemType.FLOAT;
      const inner = g.nodes.find((n) => n.outputs[0] && isFloat(n.outputs[0]) && !g.outputs.some((o) => o.name === n.outputs[0]))?.outputs[0];
      if (weight) await doc.apply({ kind: 'rename-value', value: weight, to: `${weight}__renamed` });
      if (inner) {
        await doc.apply({ kind: 'rename-value', value: inner, to: 'inner__renamed' });
        await doc.apply({ kind: 'set-output', value: 'inner__renamed' });
      }
      const out = join(dir, 'renamed.onnx');
      await doc.save(out, { durable: false });
      const r = await run(out, feeds);
      for (const k of Object.keys(original)) assert.ok(sameBits(r[k].data, original[k].data), `output ${k} unchanged by the renames`);
      if (inner) {
        const tap = join(dir, 'tap.onnx');
        // the original with the same value exposed, for the reference
        const ref = await EditableModel.open(src);
        await ref.apply({ kind: 'set-output', value: inner });
        await ref.save(tap, { durable: false });
        const want = await run(tap, feeds, [inner]);
        assert.ok(sameBits(r['inner__renamed'].data, want[inner].data), 'the renamed intermediate output is that value');
      }
    } finally {
      tmp.done();
    }
  });
}
