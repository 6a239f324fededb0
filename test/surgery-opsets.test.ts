// Surgery on models of every opset from 7 to 21: the replacement (slice, pad, average-pool,
// up-sample) and the scoring gate are written with the operators the model's own opset has, so the
// gated and the pruned model load and run in onnxruntime at that opset and compute what the same
// network computes at opset 21.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { analyzeModel } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { writeModel } from '../src/core/onnx/writer';
import { pruneModel } from '../src/core/prune';
import { runScoreJob } from '../src/core/scoring/job';
import { readScoreFile } from '../src/core/scoring/score-file';
import { applyModifications, buildGatedModel, findCandidates, type Candidate } from '../src/core/surgery';
import { GraphBuilder } from './helpers/graph-builder';
import { maxAbsDiff, randn, run, sameBits } from './prune-helpers';

const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-opsets-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const OPSETS = Array.from({ length: 15 }, (_, i) => 7 + i);

function weights(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * 0.3);
}

/**
 * An unscoped CNN using only operators whose form is the same in opsets 7–21: a residual block
 * (identity / skip-residual), a strided block with a 1×1 projection on odd sizes (7×7 → 4×4: the
 * replacement average-pools in ceil mode and zero-pads channels), and a transposed-conv block
 * (4×4 → 8×8: the replacement slices channels and up-samples).
 */
function cnn(opset: number) {
  const b = new GraphBuilder('cnn');
  b.input('x', [1, 4, 7, 7]);
  let k = 0;
  const conv = (x: string, cin: number, cout: number, kernel: number, stride = 1) => {
    const w = b.weight(`w${k}`, [cout, cin, kernel, kernel], weights(cout * cin * kernel * kernel, ++k));
    const pad = (kernel - 1) >> 1;
    return b.node('Conv', [x, w], { name: `Conv_${k}`, attrs: { kernel_shape: [kernel, kernel], strides: [stride, stride], pads: [pad, pad, pad, pad] } });
  };
  const relu = (x: string) => b.node('Relu', [x], { name: `Relu_${++k}` });
  const add = (x: string, y: string) => b.node('Add', [x, y], { name: `Add_${++k}` });
  const stem = relu(conv('x', 4, 4, 3));
  const r1 = relu(add(conv(relu(conv(stem, 4, 4, 3)), 4, 4, 3), stem));
  const r2 = relu(add(conv(relu(conv(r1, 4, 8, 3, 2)), 8, 8, 3), conv(r1, 4, 8, 1, 2)));
  const wt = b.weight('wt', [8, 4, 2, 2], weights(128, 99));
  const up = relu(b.node('ConvTranspose', [r2, wt], { name: 'ConvTranspose_0', attrs: { kernel_shape: [2, 2], strides: [2, 2] } }));
  const r3 = relu(add(conv(relu(conv(up, 4, 4, 3)), 4, 4, 3), up));
  b.node('Conv', [r3, b.weight('wh', [2, 4, 1, 1], weights(8, 50))], { name: 'Conv_head', outputs: ['y'] });
  b.output('y', [1, 2, 8, 8]);
  return b.model(opset);
}

/** The candidates the test modifies: one of each replacement kind. */
function pick(all: readonly Candidate[]): Candidate[] {
  const by = (pred: (c: Candidate) => boolean, what: string) => {
    const c = all.find((x) => x.modification && pred(x));
    assert.ok(c, `no candidate ${what}: ${all.map((x) => `${x.id}=${x.modification?.method ?? x.reason}`).join(', ')}`);
    return c;
  };
  const steps = (c: Candidate) => c.modification!.steps.map((s) => s.op).join(',');
  return [
    by((c) => c.modification!.method === 'skip-residual', 'skip-residual'),
    by((c) => c.modification!.method === 'identity', 'identity'),
    by((c) => steps(c) === 'avgpool,pad', 'that pools and pads'),
    by((c) => steps(c) === 'slice,upsample', 'that slices and up-samples'),
  ];
}

const feeds = { x: randn([1, 4, 7, 7], 3) };
const reference = new Map<string, Float32Array>();

async function save(m: ReturnType<typeof cnn>, name: string): Promise<string> {
  const p = join(dir, name);
  await writeModel(m, p, { durable: false });
  return p;
}

for (const opset of [21, ...OPSETS.filter((o) => o !== 21)]) {
  test(`opset ${opset}: pruned and gated models run and compute what opset 21 computes`, async () => {
    const model = cnn(opset);
    model.path = await save(model, `cnn${opset}.onnx`);
    const original = (await run(model.path, feeds)).y.data;
    const a = await analyzeModel(model);
    const chosen = pick(findCandidates(a));
    const gated = buildGatedModel(model, chosen);
    assert.equal(gated.model.opsetImports[0].version, opset, 'the opset is kept');
    const ops = new Set(gated.model.graph.nodes.map((n) => n.opType));
    assert.equal(ops.has('Where'), opset >= 9);
    assert.equal(ops.has('Resize'), opset >= 10);
    assert.equal(ops.has('Upsample'), opset < 10);
    const gatedPath = await save(gated.model, `cnn${opset}.gated.onnx`);
    const gate = (on: number) => new ort.Tensor('bool', Uint8Array.from(chosen.map((_, i) => (i === on ? 1 : 0))), [chosen.length]);
    const off = (await run(gatedPath, { ...feeds, ld_surgeon_gates: gate(-1) })).y.data;
    assert.ok(sameBits(off, original), 'all gates off: exactly the original');
    for (const [i, c] of chosen.entries()) {
      const pruned = applyModifications(model, [c]).model;
      const out = (await run(await save(pruned, `cnn${opset}.${i}.onnx`), feeds)).y.data;
      const on = (await run(gatedPath, { ...feeds, ld_surgeon_gates: gate(i) })).y.data;
      assert.ok(maxAbsDiff(on, out) < 1e-5, `${c.id}: gate on = pruned (${maxAbsDiff(on, out)})`);
      assert.ok(maxAbsDiff(out, original) > 1e-4, `${c.id}: the modification changes the output`);
      const key = `${c.modification!.method}:${c.modification!.steps.map((s) => s.op)}`;
      if (opset === 21) reference.set(key, out);
      else assert.ok(maxAbsDiff(out, reference.get(key)!) < 1e-5, `${c.id} (${key}): opset ${opset} computes what opset 21 computes (${maxAbsDiff(out, reference.get(key)!)})`);
    }
  });
}

test('the unscoped opset-9 ResNet-18 is scored and pruned end to end (scoring failed with "needs opset 11")', async () => {
  const src = join(dir, 'resnet18_opset9.onnx');
  await writeModel(await readModel('test/fixtures/structural/resnet18_opset9.onnx'), src, { durable: false });
  const r = await runScoreJob({ target: src, settings: { samples: 2, ep: 'cpu', granularity: 'block' } });
  assert.equal(r.state, 'done');
  const f = readScoreFile(r.scoreFile!);
  const down = f.candidates.find((c) => c.id === 'stage.2.block.0')!;
  assert.equal(down.method, 'resample');
  assert.ok(down.score! > 0, `score ${down.score}`);
  assert.ok(f.candidates.filter((c) => typeof c.score === 'number').length >= 8);
  // pruning a downsampling block and a plain one: every check passes (or pruneModel throws), the opset stays 9
  const out = join(dir, 'resnet18_opset9.pruned.onnx');
  const p = await pruneModel({ input: src, selection: { mode: 'ops', ids: ['stage.2.block.0', 'stage.1.block.1'] }, out, latencySeconds: 0.05, minRuns: 1, samples: 2, ep: 'cpu' });
  const pruned = await readModel(p.output.model);
  assert.equal(pruned.opsetImports.find((o) => o.domain === '')?.version, 9);
  assert.ok(pruned.graph.nodes.some((n) => n.opType === 'Pad') && pruned.graph.nodes.some((n) => n.opType === 'AveragePool'));
  assert.deepEqual((await run(p.output.model, { image: randn([1, 3, 64, 64], 5) })).logits.dims, [1, 10]);
});

test('an opset-7 model (no Where) is scored: the gate is a blend that leaves the original exact when off', async () => {
  const model = cnn(7);
  const src = await save(model, 'score7.onnx');
  const r = await runScoreJob({ target: src, settings: { samples: 2, ep: 'cpu', granularity: 'both' } });
  assert.equal(r.state, 'done');
  const f = readScoreFile(r.scoreFile!);
  const scored = f.candidates.filter((c) => typeof c.score === 'number');
  assert.ok(scored.length >= 6, `${scored.length} scored`);
  assert.ok(scored.every((c) => c.score! > 0), 'every modification of this network changes its output');
});
