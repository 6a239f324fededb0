// Names are encoded as UTF-8 whatever they hold: ASCII (written byte by byte) and non-ASCII (through
// TextEncoder) both come back unchanged from a write → read round trip, and onnxruntime runs the model.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readModel } from '../src/core/onnx/reader';
import { writeModel } from '../src/core/onnx/writer';
import { GraphBuilder } from './helpers/graph-builder';

const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-encoder-strings-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('ASCII and non-ASCII names survive a write/read round trip and run', async () => {
  const names = ['/down_blocks.0/attn1/to_q/MatMul', '/größe/Mul', '/画像/Add', '/emoji/🙂/Relu', ''];
  const b = new GraphBuilder();
  b.input('x', [2]);
  const w = b.weight('gewicht_ä', [2], [2, 3]);
  const m = b.node('Mul', ['x', w], { name: names[0] });
  const g = b.node('Mul', [m, w], { name: names[1] });
  const a = b.node('Add', [g, m], { name: names[2] });
  const r = b.node('Relu', [a], { name: names[3] });
  b.node('Identity', [r], { name: names[4], outputs: ['ausgabe_ü'] });
  b.output('ausgabe_ü', [2]);
  const p = join(dir, 'names.onnx');
  await writeModel(b.model(), p, { durable: false });
  const back = await readModel(p);
  assert.deepEqual(back.graph.nodes.map((n) => n.name), names);
  assert.equal(back.graph.initializers[0].name, 'gewicht_ä');
  assert.equal(back.graph.outputs[0].name, 'ausgabe_ü');
  const s = await ort.InferenceSession.create(p);
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, -1]), [2]) });
  assert.deepEqual([...(out['ausgabe_ü'].data as Float32Array)], [2 * 2 + 2, 0]);
  await s.release();
});
