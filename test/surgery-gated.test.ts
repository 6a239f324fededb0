// The gated evaluation model against onnxruntime: gates off is the original model bit for bit; a gate
// on is exactly the model with that modification applied; removing a residual branch is exactly the
// skip path (checked against a hand-edited model).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { analyzeModel } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { writeModel } from '../src/core/onnx/writer';
import type { Model } from '../src/core/onnx/types';
import { GaussianStream } from '../src/core/pipeline/noise';
import { applyModifications, buildGatedModel, cloneModel, findCandidates, GATE_INPUT, type Candidate } from '../src/core/surgery';

const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-gated-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
async function session(m: Model): Promise<ort.InferenceSession> {
  const p = join(dir, `m${count++}.onnx`);
  await writeModel(m, p, { durable: false });
  // 'extended', as scoring runs: at 'all' the CPU's NCHWc layout pass fuses Conv+Add only where no
  // gate sits between them, so gates-off results may differ from the original in the last bits
  return ort.InferenceSession.create(p, { executionProviders: ['cpu'], graphOptimizationLevel: 'extended', intraOpNumThreads: 1 });
}

function feeds(): Record<string, ort.Tensor> {
  const g = new GaussianStream(7);
  return {
    sample: new ort.Tensor('float32', g.fill(new Float32Array(2 * 4 * 16 * 16)), [2, 4, 16, 16]),
    timestep: new ort.Tensor('int64', BigInt64Array.from([10n, 500n]), [2]),
    encoder_hidden_states: new ort.Tensor('float32', g.fill(new Float32Array(2 * 3 * 4)), [2, 3, 4]),
  };
}

async function run(s: ort.InferenceSession, gates?: Uint8Array): Promise<Float32Array> {
  const f = feeds();
  if (gates) f[GATE_INPUT] = new ort.Tensor('bool', gates, [gates.length]);
  return (await s.run(f)).out_sample.data as Float32Array;
}

const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

let setup: Promise<{ model: Model; cands: Candidate[]; gated: ort.InferenceSession; original: Float32Array }> | undefined;
function load() {
  setup ??= (async () => {
    const model = await readModel('test/fixtures/graph/tiny_unet_static.onnx');
    const cands = findCandidates(await analyzeModel(model), { granularity: 'both' }).filter((c) => c.modification);
    const gated = await session(buildGatedModel(model, cands).model);
    const original = await run(await session(model));
    return { model, cands, gated, original };
  })();
  return setup;
}

test('with every gate off, the gated model computes exactly what the original computes', async () => {
  const { cands, gated, original } = await load();
  assert.ok(cands.length > 50);
  const out = await run(gated, new Uint8Array(cands.length));
  assert.ok(bytes(out).equals(bytes(original)), 'bit-identical outputs');
});

test('one gate on equals the model with that modification applied, for every kind of modification', async () => {
  const { model, cands, gated, original } = await load();
  const pick = new Map<string, Candidate>();
  for (const c of cands) {
    const key = `${c.modification!.method}:${c.modification!.steps.map((s) => s.op).join('+')}`;
    if (!pick.has(key)) pick.set(key, c);
  }
  assert.ok(pick.size >= 6, `methods covered: ${[...pick.keys()].join(', ')}`);
  for (const c of pick.values()) {
    const gates = new Uint8Array(cands.length);
    gates[cands.indexOf(c)] = 1;
    const viaGate = await run(gated, gates);
    const applied = await run(await session(applyModifications(model, [c]).model));
    assert.ok(bytes(viaGate).equals(bytes(applied)), `${c.id} (${c.modification!.method})`);
    assert.ok(!bytes(viaGate).equals(bytes(original)), `${c.id} changes the output`);
  }
});

test('several gates on equal applying the same selection (nested block and layer included)', async () => {
  const { model, cands, gated } = await load();
  const ids = ['down_blocks.1.resnets.0', 'down_blocks.1.resnets.0.conv_shortcut', 'mid_block.attentions.0.transformer_blocks.0.attn2', 'up_blocks.0.upsamplers.0'];
  const sel = ids.map((id) => cands.find((c) => c.id === id)!);
  const gates = new Uint8Array(cands.length);
  for (const c of sel) gates[cands.indexOf(c)] = 1;
  const viaGate = await run(gated, gates);
  const applied = await run(await session(applyModifications(model, sel).model));
  assert.ok(bytes(viaGate).equals(bytes(applied)));
});

test('removing a residual branch (attn1) gives exactly the skip path of a hand-edited model', async () => {
  const { model, cands, gated, original } = await load();
  const c = cands.find((x) => x.id === 'down_blocks.0.attentions.0.transformer_blocks.0.attn1')!;
  // by hand: readers of the residual Add read its other operand (the transformer block's input)
  const edited = cloneModel(model);
  const add = edited.graph.nodes.find((n) => n.name === '/down_blocks.0/attentions.0/transformer_blocks.0/Add')!;
  const branch = edited.graph.nodes.find((n) => n.name === '/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_out.0/Add')!.outputs[0];
  const skip = add.inputs.find((x) => x !== branch)!;
  for (const n of edited.graph.nodes) n.inputs = n.inputs.map((x) => (x === add.outputs[0] ? skip : x));
  const byHand = await run(await session(edited));
  const gates = new Uint8Array(cands.length);
  gates[cands.indexOf(c)] = 1;
  const viaGate = await run(gated, gates);
  assert.ok(bytes(viaGate).equals(bytes(byHand)));
  assert.ok(!bytes(byHand).equals(bytes(original)), 'the branch did contribute');
});
