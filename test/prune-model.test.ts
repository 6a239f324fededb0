// Pruning a bare .onnx (the conditional example's U-Net copied out of its pipeline): the removed
// block's readers get exactly the skip path, the rest of the model computes what the original
// computes from there, kept weights are byte-identical (read by an independent decoder), pruning
// nothing changes no output bit, bad selections write nothing, a failed check or a cancel leaves
// nothing, and pruning a pruned model chains the records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledError, UserError } from '../src/core/errors';
import { analyzeModel } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { writeModel } from '../src/core/onnx/writer';
import { PruneCheckError, pruneModel, type PruneOptions, type PruneRecord } from '../src/core/prune';
import { runScoreJob } from '../src/core/scoring/job';
import { findCandidates, type Candidate } from '../src/core/surgery';
import { GraphBuilder, valueInfo } from './helpers/graph-builder';
import { ElemType } from '../src/core/onnx/types';
import { DIGITS_COND, tempDir } from './pipeline-fixtures';
import { initializerBytes, listing, maxAbsDiff, run, sameBits, tailFrom, unetFeeds, withOutputs } from './prune-helpers';

const QUICK = { samples: 3, latencySeconds: 0.2, minRuns: 2, ep: 'cpu' as const };

function bareUnet(dir: string): string {
  const p = join(dir, 'unet.onnx');
  copyFileSync(join(DIGITS_COND, 'unet', 'model.onnx'), p);
  return p;
}

async function candidatesOf(path: string): Promise<Candidate[]> {
  const m = await readModel(path);
  const a = await analyzeModel(m, { inputShapes: { sample: [1, 4, 8, 8], timestep: [1], encoder_hidden_states: [1, 8, 64] } });
  return findCandidates(a, { granularity: 'both' });
}

const prune = (o: Partial<PruneOptions> & Pick<PruneOptions, 'input' | 'selection'>) => pruneModel({ ...QUICK, ...o });

test('pruning nothing: outputs bit-for-bit equal, every weight byte-identical, the record says so', async () => {
  const t = tempDir('prune-none-');
  try {
    const src = bareUnet(t.dir);
    const r = await prune({ input: src, selection: { mode: 'ops', ids: [] } });
    const out = join(t.dir, 'unet.pruned.onnx');
    assert.equal(r.output.model, out);
    assert.ok(existsSync(join(t.dir, 'unet.pruned.prune.json')));
    const feeds = unetFeeds(2, true);
    const [a, b] = [await run(src, feeds), await run(out, feeds)];
    assert.ok(sameBits(a.out_sample.data, b.out_sample.data), 'identical output bits');
    assert.deepEqual(initializerBytes(out), initializerBytes(src));
    assert.equal(r.removed.length, 0);
    assert.equal(r.after.params, r.before.params);
    assert.equal(r.latents!.identical, true);
    assert.equal(r.latents!.score, 0);
    assert.ok(r.checks.every((c) => c.status !== 'failed'), JSON.stringify(r.checks));
    assert.equal(r.checks.find((c) => c.name === 'metric')?.status, 'skipped', 'a bare model has no metric: skipped, not passed');
  } finally {
    t.done();
  }
});

/**
 * Prunes `id` alone and checks, against test copies of the original: the pruned model's readers of
 * the block's output get exactly the original's skip-path value, and the pruned output is what the
 * original's remainder computes from that value (the original cut at the block's output).
 */
async function skipPathCase(id: string, method: string) {
  const t = tempDir('prune-skip-');
  try {
    const src = bareUnet(t.dir);
    const c = (await candidatesOf(src)).find((x) => x.id === id)!;
    assert.equal(c.modification?.method, method);
    const { source, target } = c.modification!;
    const r = await prune({ input: src, selection: { mode: 'ops', ids: [id] } });
    const out = r.output.model;
    assert.deepEqual(r.removed.map((x) => x.id), [id]);

    const feeds = unetFeeds(2, true);
    const orig = await run(await withOutputs(src, join(t.dir, 'orig-x.onnx'), [source, target]), feeds);
    const pruned = await run(await withOutputs(out, join(t.dir, 'pruned-x.onnx'), [source]), feeds);
    // the value the block's readers now read is the original's skip path, bit for bit
    assert.ok(sameBits(pruned[source].data, orig[source].data));
    assert.deepEqual(orig[source].dims, orig[target].dims);
    const m = await readModel(out);
    assert.ok(!m.graph.nodes.some((n) => n.outputs.includes(target)), 'the block output is gone');
    // every node that read the block's output in the original reads the skip path now
    const readersBefore = (await readModel(src)).graph.nodes.filter((n) => n.inputs.includes(target)).map((n) => n.name);
    assert.ok(readersBefore.length > 0);
    for (const name of readersBefore) assert.ok(m.graph.nodes.find((n) => n.name === name)?.inputs.includes(source), name);
    // the rest of the model: the original cut at the block's output, fed the skip path
    const tail = await run(await tailFrom(src, join(t.dir, 'tail.onnx'), target), { ...feeds, [target]: orig[source] }, ['out_sample']);
    const d = maxAbsDiff(tail.out_sample.data, pruned.out_sample.data);
    assert.ok(d < 1e-4, `pruned vs original-from-the-skip-path: max |Δ| ${d}`);
    assert.ok(maxAbsDiff(orig.out_sample.data, pruned.out_sample.data) > 1e-3, 'the block mattered');
    // kept initializers are the source's bytes (independent decoder); only removed ones are gone
    const before = initializerBytes(src);
    const after = initializerBytes(out);
    for (const [name, bytes] of after) assert.ok(bytes.equals(before.get(name)!), name);
    assert.ok(after.size < before.size);
    // its own parameters, plus any that only fed it (attn1's norm1 has no other reader)
    assert.ok(r.before.params - r.after.params >= c.params);
    assert.equal(r.removed[0].params, c.params);
  } finally {
    t.done();
  }
}

test('a ResNet block (identity): its readers get the block input, the rest computes the original from there', async () => {
  await skipPathCase('down_blocks.1.resnets.1', 'identity');
});

test('a residual branch (attn1, skip-residual): the Add it fed becomes its other operand', async () => {
  await skipPathCase('down_blocks.0.attentions.0.transformer_blocks.0.attn1', 'skip-residual');
});

test('bad selections are clear errors and write nothing', async () => {
  const t = tempDir('prune-bad-');
  try {
    const src = bareUnet(t.dir);
    const before = listing(t.dir);
    const cases: [Partial<PruneOptions> & Pick<PruneOptions, 'selection'>, RegExp][] = [
      [{ selection: { mode: 'ops', ids: ['down_blocks.7.resnets.0'] } }, /no candidate 'down_blocks\.7\.resnets\.0'/],
      [{ selection: { mode: 'ops', ids: ['conv_out'] } }, /'conv_out' cannot be modified: its output out_sample is a graph output/],
      [{ selection: { mode: 'ops', ids: ['mid_block.resnets.0'] }, out: src }, /refusing to overwrite the source model/],
      [{ selection: { mode: 'lowest', count: 2 } }, /unet\.ldscores\.json: no score file \(--lowest ranks candidates by their LD-Pruner scores\); run `ld-surgeon score/],
      [{ selection: { mode: 'ops', ids: ['mid_block.resnets.0'] }, out: join(t.dir, 'nowhere', 'x.onnx') }, /the folder '.*nowhere' does not exist/],
    ];
    for (const [o, re] of cases) {
      await assert.rejects(prune({ input: src, ...o }), (e: Error) => e instanceof UserError && re.test(e.message), String(re));
      assert.deepEqual(listing(t.dir), before, `nothing written for ${re}`);
    }
  } finally {
    t.done();
  }
});

test('with a score file: lowest k and targets; an unreachable target writes nothing', async () => {
  const t = tempDir('prune-scored-');
  try {
    const src = bareUnet(t.dir);
    const ids = ['mid_block.attentions.0', 'mid_block.resnets.1', 'down_blocks.2.resnets.1', 'up_blocks.2.attentions.2', 'down_blocks.0.attentions.0.transformer_blocks.0.attn1', 'down_blocks.0.attentions.0'];
    const inputs = { sample: [1, 4, 8, 8], timestep: [1], encoder_hidden_states: [1, 8, 64] };
    const scored = await runScoreJob({ target: src, settings: { samples: 4, ep: 'cpu', only: ids, inputs } });
    assert.equal(scored.scoreFile, join(t.dir, 'unet.ldscores.json'));
    assert.equal(scored.state, 'done');
    const ranking = scored.file!.candidates.filter((c) => c.status === 'scored').sort((a, b) => a.score! - b.score!);
    assert.equal(ranking.length, ids.length);

    const before = listing(t.dir);
    await assert.rejects(prune({ input: src, selection: { mode: 'target', kind: 'params', fraction: 0.9 } }), /params target −90\.0% cannot be reached/);
    assert.deepEqual(listing(t.dir), before);

    const r = await prune({ input: src, selection: { mode: 'lowest', count: 2 }, samples: undefined });
    // the score file's own ranking, nested candidates collapsed into their block
    const expected: string[] = [];
    for (const c of ranking) {
      const block = 'down_blocks.0.attentions.0';
      if (expected.length === 2) break;
      if (c.id.startsWith(`${block}.`) && expected.includes(block)) continue;
      if (c.id === block && expected.some((x) => x.startsWith(`${block}.`))) expected.splice(expected.findIndex((x) => x.startsWith(`${block}.`)), 1);
      expected.push(c.id);
    }
    assert.deepEqual(r.removed.map((x) => x.id), expected);
    assert.deepEqual(r.removed.map((x) => x.score), expected.map((id) => ranking.find((c) => c.id === id)!.score));
    assert.equal(r.selection.scoreFile, scored.scoreFile);
    assert.equal(r.latents!.samples, 4, 'the score file\'s sample count');

    const p = await prune({ input: src, selection: { mode: 'target', kind: 'params', fraction: 0.08 }, out: join(t.dir, 'p.onnx') });
    assert.ok(1 - p.after.params / p.before.params >= 0.08);
    assert.ok(p.selection.target!.achievedFraction! >= 0.08);
    const l = await prune({ input: src, selection: { mode: 'target', kind: 'latency', fraction: 0.05 }, out: join(t.dir, 'l.onnx') });
    const shares = l.removed.reduce((s, x) => s + (x.latencyShare ?? 0), 0);
    assert.ok(shares >= 0.05, `${shares}`);
    assert.equal(l.selection.target!.estimatedFraction, shares);
    assert.equal(l.selection.target!.achievedFraction, -l.latency!.changePercent / 100);
  } finally {
    t.done();
  }
});

test('pruning a pruned model chains the records', async () => {
  const t = tempDir('prune-chain-');
  try {
    const src = bareUnet(t.dir);
    const first = await prune({ input: src, selection: { mode: 'ops', ids: ['mid_block.attentions.0'] } });
    const second = await prune({ input: first.output.model, selection: { mode: 'ops', ids: ['up_blocks.2.attentions.2'] } });
    assert.equal(second.output.model, join(t.dir, 'unet.pruned.pruned.onnx'));
    assert.deepEqual(second.parent?.removed.map((x) => x.id), ['mid_block.attentions.0']);
    assert.equal(second.parent?.output.sha256, second.source.sha256, 'the parent produced this prune\'s source');
    assert.equal(second.before.params, first.after.params);
    const onDisk = JSON.parse(readFileSync(join(t.dir, 'unet.pruned.pruned.prune.json'), 'utf8')) as PruneRecord;
    assert.deepEqual(onDisk.parent?.removed.map((x) => x.id), ['mid_block.attentions.0']);
    // the pruned-twice model lacks both blocks' nodes and still runs
    const m = await readModel(second.output.model);
    assert.ok(!m.graph.nodes.some((n) => n.name.startsWith('/mid_block/attentions.0/') || n.name.startsWith('/up_blocks.2/attentions.2/')));
    const out = await run(second.output.model, unetFeeds(1, true));
    assert.deepEqual(out.out_sample.dims, [1, 4, 8, 8]);
  } finally {
    t.done();
  }
});

test('a pruned model that fails a check is deleted, and the error says which check', async () => {
  const t = tempDir('prune-fail-');
  try {
    // y = sqrt(|x| + 1): removing the Abs makes sqrt see negative numbers, so the output has NaN
    const b = new GraphBuilder('g');
    const x = b.input('x', [1, 64]);
    const a = b.node('Abs', [x], { name: '/abs/Abs' });
    const s = b.node('Add', [a, b.weight('one', [1], [1])], { name: '/shift/Add' });
    b.node('Sqrt', [s], { name: '/sqrt/Sqrt', outputs: ['y'] });
    b.output('y', [1, 64]);
    const src = join(t.dir, 'm.onnx');
    await writeModel({ path: '', irVersion: 8, opsetImports: [{ domain: '', version: 17 }], metadataProps: [], graph: b.graph, functions: [] }, src, { durable: false });
    const before = listing(t.dir);
    await assert.rejects(prune({ input: src, selection: { mode: 'ops', ids: ['abs'] } }), (e: Error) => {
      assert.ok(e instanceof PruneCheckError, String(e));
      assert.match(e.message, /m\.pruned\.onnx: the pruned model failed a check, so nothing was written: latents: the pruned model produces NaN or ±Inf/);
      assert.equal((e as PruneCheckError).checks.find((c) => c.name === 'latents')?.status, 'failed');
      return true;
    });
    assert.deepEqual(listing(t.dir), before);
    // the same model with a harmless prune passes
    const ok = await prune({ input: src, selection: { mode: 'ops', ids: [] } });
    assert.ok(ok.checks.every((c) => c.status !== 'failed'));
  } finally {
    t.done();
  }
});

test('value_info: entries of removed values are dropped, contradicted shapes corrected; stale staging is cleaned', async () => {
  const t = tempDir('prune-vi-');
  try {
    const b = new GraphBuilder('g');
    const x = b.input('x', [1, 64]);
    const a = b.node('Abs', [x], { name: '/abs/Abs' });
    const s = b.node('Add', [a, b.weight('one', [1], [1])], { name: '/shift/Add' });
    b.node('Relu', [s], { name: '/relu/Relu', outputs: ['y'] });
    b.output('y', [1, 64]);
    b.graph.valueInfo.push(valueInfo(a, ElemType.FLOAT, [1, 64]), valueInfo(s, ElemType.FLOAT, ['n', 99]));
    const src = join(t.dir, 'm.onnx');
    await writeModel({ path: '', irVersion: 8, opsetImports: [{ domain: '', version: 17 }], metadataProps: [], graph: b.graph, functions: [] }, src, { durable: false });
    // what a killed prune (a process that no longer exists) left behind
    const stale = join(t.dir, '.m.pruned.onnx.staging-999999999-deadbeef');
    mkdirSync(stale);
    const r = await prune({ input: src, selection: { mode: 'ops', ids: ['abs'] } });
    assert.ok(!existsSync(stale));
    assert.deepEqual(r.graph.fixedValueInfo, [s]);
    const m = await readModel(r.output.model);
    assert.deepEqual(m.graph.valueInfo.map((v) => [v.name, v.type?.kind === 'tensor' ? v.type.shape?.map((d) => d.value ?? d.param) : undefined]), [[s, ['n', 64]]]);
    assert.deepEqual(m.graph.nodes.map((n) => n.name), ['/shift/Add', '/relu/Relu']);
    assert.equal(m.graph.nodes[0].inputs[0], 'x');
    assert.equal(r.checks.find((c) => c.name === 'shapes')?.status, 'passed');
  } finally {
    t.done();
  }
});

test('a cancelled prune leaves nothing behind', async () => {
  const t = tempDir('prune-cancel-');
  try {
    const src = bareUnet(t.dir);
    const before = listing(t.dir);
    for (const phase of ['build', 'check', 'latency']) {
      const abort = new AbortController();
      await assert.rejects(
        pruneModel({ ...QUICK, input: src, selection: { mode: 'ops', ids: ['mid_block.attentions.0'] } }, { signal: abort.signal, onProgress: (p) => { if (p.phase === phase) abort.abort(); } }),
        (e: Error) => e instanceof CancelledError, phase);
      assert.deepEqual(listing(t.dir), before, `nothing left after a cancel in ${phase}`);
    }
  } finally {
    t.done();
  }
});
