// The full-scale architectures of issue 19 at CI size: bench/gen_flux.py (FLUX node and name structure:
// double-stream transformer_blocks.N, single-stream single_transformer_blocks.N) and bench/gen_sdxl_unet.py
// (the SDXL U-Net with its added conditions and depth-10 transformer stacks), generated small into a
// temporary folder, then inspected, their candidates listed and two blocks of each pruned with every check
// of `ld-surgeon prune` passing (bench/xl.ts measures the full-size ones).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { analyzeModel, buildInspectReport } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { pruneModel } from '../src/core/prune';
import { findCandidates, type Candidate } from '../src/core/surgery';

const PYTHON = process.env.LD_SURGEON_PYTHON ?? '/usr/bin/python3';
const BENCH = resolve(__dirname, '..', 'bench');
const probe = spawnSync(PYTHON, ['-c', 'import onnx, numpy'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : `${PYTHON} cannot import onnx and numpy (scripts/setup.sh installs them): ${(probe.stderr || String(probe.error)).trim().split('\n').pop()}`;

const tmp = mkdtempSync(join(tmpdir(), 'ld-surgeon-xl-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function generate(script: string, dir: string, args: string[]): string {
  const r = spawnSync(PYTHON, [join(BENCH, script), dir, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${script} failed: ${r.stderr}`);
  return join(dir, 'model.onnx');
}

const FLUX_INPUTS = { hidden_states: [1, 16, 64], encoder_hidden_states: [1, 8, 4096], pooled_projections: [1, 768], timestep: [1], guidance: [1] };
const SDXL_INPUTS = { sample: [1, 4, 16, 16], timestep: [1], encoder_hidden_states: [1, 8, 2048], text_embeds: [1, 1280], time_ids: [1, 6] };

function byId(list: Candidate[], id: string): Candidate {
  const c = list.find((x) => x.id === id);
  assert.ok(c, `no candidate ${id}`);
  return c;
}

async function prunedWithChecks(model: string, ids: string[], inputs: Record<string, number[]>) {
  const out = join(tmp, `${ids[0]}.pruned.onnx`);
  const writes: { done: number; total: number }[] = [];
  const record = await pruneModel({ input: model, selection: { mode: 'ops', ids }, out, inputs, ep: 'cpu', samples: 2, latencySeconds: 0.5, minRuns: 2 }, {
    onProgress: (p) => { if (p.phase === 'write' && p.total !== undefined) writes.push({ done: p.done!, total: p.total }); },
  });
  // the progress bar of the write phase: MiB copied, rising to the whole
  assert.ok(writes.length >= 2, `write progress events: ${JSON.stringify(writes)}`);
  assert.ok(writes.every((w, i) => w.total === writes[0].total && (i === 0 || w.done >= writes[i - 1].done)));
  assert.equal(writes.at(-1)!.done, writes[0].total);
  const failed = record.checks.filter((c) => c.status === 'failed');
  assert.deepEqual(failed, [], `failed checks: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}`);
  for (const name of ['reread', 'structure', 'weights', 'onnxruntime', 'latents']) {
    assert.equal(record.checks.find((c) => c.name === name)?.status, 'passed', `check ${name}`);
  }
  assert.ok(record.after.params < record.before.params);
  const pruned = await readModel(out);
  for (const id of ids) assert.ok(!pruned.graph.nodes.some((n) => n.name.startsWith(`/${id}/`)), `${id} is gone from the output`);
  return { record, pruned };
}

test('FLUX-structured transformer: double- and single-stream blocks are candidates and prune with every check passing', { skip, timeout: 120_000 }, async () => {
  const model = generate('gen_flux.py', join(tmp, 'flux'), ['--dim', '128', '--double', '2', '--single', '2']);
  const m = await readModel(model);
  const report = buildInspectReport(await analyzeModel(m, {}), 1);
  const top = report.modules.map((x) => x.id);
  for (const id of ['transformer_blocks.0', 'transformer_blocks.1', 'single_transformer_blocks.0', 'single_transformer_blocks.1']) assert.ok(top.includes(id), `${id} in ${top.join(', ')}`);

  const a = await analyzeModel(m, { inputShapes: FLUX_INPUTS });
  const list = findCandidates(a, { granularity: 'block' });
  for (const id of ['single_transformer_blocks.0', 'single_transformer_blocks.1']) {
    const c = byId(list, id);
    assert.equal(c.modification?.method, 'identity', `${id}: ${c.reason}`);
    assert.equal(c.modification?.streams, undefined);
  }
  for (const id of ['transformer_blocks.0', 'transformer_blocks.1']) {
    const c = byId(list, id);
    const plan = c.modification;
    assert.ok(plan, `${id} cannot be modified: ${c.reason}`);
    assert.equal(plan.method, 'identity');
    // two streams: the image tokens and the text tokens, each exit replaced by its own input
    assert.equal(plan.streams?.length, 1);
    const pairs = [{ target: plan.target, source: plan.source }, ...plan.streams!];
    assert.notEqual(pairs[0].source, pairs[1].source);
    for (const p of pairs) assert.deepEqual(a.shapes.get(p.target)?.shape, a.shapes.get(p.source)?.shape, `${id}: ${p.target} ← ${p.source}`);
    assert.deepEqual(pairs.map((p) => Number(a.shapes.get(p.target)?.shape?.[1])).sort((x, y) => x - y), [8, 16], 'one stream of image tokens, one of text tokens');
  }
  // an attention's to_out and to_add_out, an adaLN's Split: several exits, none a residual stream
  const streamed = findCandidates(a, { granularity: 'both' }).filter((c) => c.modification?.streams).map((c) => c.id);
  assert.deepEqual(streamed, ['transformer_blocks.0', 'transformer_blocks.1']);

  const { record } = await prunedWithChecks(model, ['transformer_blocks.1', 'single_transformer_blocks.0'], FLUX_INPUTS);
  assert.deepEqual(record.removed.map((r) => r.id).sort(), ['single_transformer_blocks.0', 'transformer_blocks.1']);
});

test('SDXL U-Net (width ×0.1): the depth-10 stacks\' transformer blocks are candidates and prune with every check passing', { skip, timeout: 120_000 }, async () => {
  const model = generate('gen_sdxl_unet.py', join(tmp, 'sdxl'), ['--width-mult', '0.1']);
  const m = await readModel(model);
  const a = await analyzeModel(m, { inputShapes: SDXL_INPUTS });
  const top = buildInspectReport(a, 1).modules.map((x) => x.id);
  for (const id of ['add_embedding', 'down_blocks.2', 'mid_block', 'up_blocks.0']) assert.ok(top.includes(id), `${id} in ${top.join(', ')}`);
  const list = findCandidates(a, { granularity: 'block' });
  const stack = list.filter((c) => /^down_blocks\.2\.attentions\.0\.transformer_blocks\.\d+$/.test(c.id));
  assert.equal(stack.length, 10);
  for (const c of stack) assert.equal(c.modification?.method, 'identity', `${c.id}: ${c.reason}`);
  await prunedWithChecks(model, ['down_blocks.2.attentions.0.transformer_blocks.9', 'down_blocks.2.attentions.1.transformer_blocks.9'], SDXL_INPUTS);
});
