// Pruning models nobody here wrote: ONNX's own backend-test models (PyTorch exports, and expanded
// function bodies — real multi-node graphs with residual adds). On each model's own test input:
// pruning nothing reproduces the original outputs bit for bit; pruning any one removable candidate
// gives a model that re-reads, is clean, keeps its weights and runs in onnxruntime — or, where the
// removal makes it compute NaN (a variance taken away before a square root), a check failure that
// leaves nothing; its readers of the candidate's output get exactly the original's skip-path value,
// and its output is what the original computes from that value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { analyzeModel } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { UserError } from '../src/core/errors';
import { PruneCheckError, pruneModel } from '../src/core/prune';
import { findCandidates } from '../src/core/surgery';
import { tempDir } from './pipeline-fixtures';
import { corpusFeeds, initializerBytes, maxAbsDiff, run, sameBits, tailFrom, withOutputs } from './prune-helpers';

const CORPUS = resolve(__dirname, '..', '..', 'shared', 'corpus', 'onnx-backend');
const MODELS = [
  // PyTorch-converted / -operator models are opset 6, which onnxruntime 1.30 no longer runs; these two are newer
  'pytorch-converted/test_PixelShuffle',
  'pytorch-converted/test_MaxPool2d_stride_padding_dilation',
  'node/test_gelu_tanh_1_expanded',
  'node/test_group_normalization_example_expanded',
  'node/test_layer_normalization_2d_axis0_expanded',
  'node/test_layer_normalization_3d_axis1_epsilon_expanded',
  'node/test_elu_default_expanded_ver18',
].filter((m) => existsSync(join(CORPUS, m, 'model.onnx')));

const QUICK = { latencySeconds: 0.05, minRuns: 1, samples: 2, ep: 'cpu' as const };

/** The corpus model copied into `dir` (the corpus is read-only; prunes write beside their source). */
function copyOf(name: string, dir: string): string {
  const d = join(dir, name.replace(/\//g, '_'));
  mkdirSync(d, { recursive: true });
  copyFileSync(join(CORPUS, name, 'model.onnx'), join(d, 'model.onnx'));
  return join(d, 'model.onnx');
}

test('the corpus is there', { skip: existsSync(CORPUS) ? false : 'no ../shared/corpus/onnx-backend' }, () => {
  assert.ok(MODELS.length >= 6, `${MODELS.length} corpus models found`);
});

for (const name of MODELS) {
  test(`corpus ${name}`, async (t) => {
    const tmp = tempDir('prune-corpus-');
    try {
      const src = copyOf(name, tmp.dir);
      const model = await readModel(src);
      const feeds = await corpusFeeds(join(CORPUS, name), model);
      const original = await run(src, feeds);

      await t.test('pruning nothing reproduces the outputs bit for bit', async () => {
        const r = await pruneModel({ ...QUICK, input: src, selection: { mode: 'ops', ids: [] }, out: join(tmp.dir, 'none.onnx') });
        assert.ok(r.checks.every((c) => c.status !== 'failed'), JSON.stringify(r.checks));
        const out = await run(r.output.model, feeds);
        for (const k of Object.keys(original)) assert.ok(sameBits(out[k].data, original[k].data), k);
        assert.deepEqual(initializerBytes(r.output.model), initializerBytes(src));
      });

      const a = await analyzeModel(model);
      // residual branches first (the interesting case), then the rest, a few per model
      const rank = (m: string) => ['skip-residual', 'identity', 'shortcut', 'resample'].indexOf(m);
      const all = findCandidates(a, { granularity: 'both' });
      const removable = all.filter((c) => c.modification)
        .sort((p, q) => rank(p.modification!.method) - rank(q.modification!.method)).slice(0, 6);
      // a candidate whose replacement would change the element type (a comparison's bool output) is refused
      const typeChanging = all.filter((c) => !c.modification && /would change the element type/.test(c.reason ?? ''));
      for (const c of typeChanging) {
        await t.test(`pruning ${c.id} is refused: it would change an element type`, async () => {
          const out = join(tmp.dir, 'refused.onnx');
          await assert.rejects(pruneModel({ ...QUICK, input: src, selection: { mode: 'ops', ids: [c.id] }, out }), (e: Error) => e instanceof UserError && /cannot be modified: its output .* is bool but its replacement .* is float/.test(e.message));
          assert.ok(!existsSync(out));
        });
      }
      for (const c of removable) {
        await t.test(`pruning ${c.id} (${c.modification!.method})`, async () => {
          const out = join(tmp.dir, `${c.id.replace(/[^\w.-]/g, '_')}.onnx`);
          let r;
          try {
            r = await pruneModel({ ...QUICK, input: src, selection: { mode: 'ops', ids: [c.id] }, out });
          } catch (e) {
            // the only acceptable failure: the pruned model runs but computes NaN, and was deleted
            assert.ok(e instanceof PruneCheckError, String(e));
            for (const check of e.checks) assert.ok(check.status !== 'failed' || (check.name === 'latents' && /NaN/.test(check.detail)), `${check.name}: ${check.detail}`);
            assert.ok(e.checks.some((x) => x.name === 'onnxruntime' && x.status === 'passed'));
            assert.ok(!existsSync(out));
            return;
          }
          for (const check of r.checks) assert.ok(check.status !== 'failed', `${check.name}: ${check.detail}`);
          assert.ok(r.after.nodes < r.before.nodes || c.modification!.steps.length > 0);
          const pruned = await run(out, feeds);
          for (const k of Object.keys(original)) assert.deepEqual(pruned[k].dims, original[k].dims, k);
          // kept weights: the source's bytes, by an independent decoder
          const src8 = initializerBytes(src);
          for (const [n, bytes] of initializerBytes(out)) if (src8.has(n)) assert.ok(bytes.equals(src8.get(n)!), n);

          const { source, target, steps } = c.modification!;
          if (steps.length) return; // a computed replacement (slice, pool...) is not a skip path
          const outputs = model.graph.outputs.map((o) => o.name);
          const orig = await run(await withOutputs(src, join(tmp.dir, 'orig-x.onnx'), [source]), feeds, [...outputs, source]);
          const tailModel = await tailFrom(src, join(tmp.dir, 'tail.onnx'), target);
          const tail = await run(tailModel, { ...feeds, [target]: orig[source] }, outputs);
          for (const k of outputs) {
            const d = maxAbsDiff(tail[k].data, pruned[k].data);
            const scale = Array.from(tail[k].data).reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 1);
            assert.ok(d <= 1e-5 * scale, `${k}: pruned vs the original fed the skip path: max |Δ| ${d}`);
          }
          // every node that read the candidate's output (told by what it writes) reads the skip path now
          const m = await readModel(out);
          const region = new Set(c.nodeIndices.map((i) => model.graph.nodes[i]));
          for (const reader of model.graph.nodes.filter((n) => n.inputs.includes(target) && !region.has(n))) {
            const now = m.graph.nodes.find((n) => n.outputs[0] === reader.outputs[0]);
            assert.ok(now?.inputs.includes(source), `${reader.outputs[0]}'s node reads the skip path ${source}`);
          }
        });
      }
    } finally {
      tmp.done();
    }
  });
}
