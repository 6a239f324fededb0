// Choosing what to prune, on the conditional example U-Net's real candidates: explicit ids, the k
// lowest scored, params/FLOPs/latency targets; nested candidates counted once; unmodifiable ones
// never chosen; bad selections rejected with a message that says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { UserError } from '../src/core/errors';
import { analyzeModel, type ModelAnalysis } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { parseTargetFraction, savingsOf, selectForPrune } from '../src/core/prune';
import { analysisShapes } from '../src/core/scoring/prepare';
import { toScored, type ScoreFile } from '../src/core/scoring/score-file';
import { DEFAULT_SETTINGS } from '../src/core/scoring/settings';
import { resolveTarget } from '../src/core/scoring/target';
import { findCandidates, type Candidate } from '../src/core/surgery';
import { DIGITS_COND } from './pipeline-fixtures';

const BLOCK = 'down_blocks.0.attentions.0';
const LAYER = 'down_blocks.0.attentions.0.transformer_blocks.0.attn1';

let cache: { a: ModelAnalysis; candidates: Candidate[] } | undefined;
async function unet() {
  if (!cache) {
    const target = resolveTarget(DIGITS_COND);
    const model = await readModel(target.modelPath);
    const a = await analyzeModel(model, { inputShapes: analysisShapes(model, target) });
    cache = { a, candidates: findCandidates(a, { granularity: 'both' }) };
  }
  return cache;
}

/** A score file over the candidates: `scores` by id, the rest ranked after them by graph order. */
function scoreFile(candidates: Candidate[], scores: Record<string, number>, extra: Partial<Record<string, { latencyShare?: number; status?: 'scored' }>> = {}): ScoreFile {
  const entries = candidates.map((c, i) => {
    const e = toScored(c, c.modification ? 'scored' : 'unmodifiable');
    if (c.modification) e.score = scores[c.id] ?? 10 + i;
    if (extra[c.id]?.status) {
      e.status = extra[c.id]!.status!;
      e.score = scores[c.id];
    }
    if (extra[c.id]?.latencyShare !== undefined) e.latencyShare = extra[c.id]!.latencyShare;
    return e;
  });
  return {
    format: 'ld-surgeon.scores/1', createdBy: 'test', updatedAt: '', complete: true,
    model: { path: join(DIGITS_COND, 'unet', 'model.onnx'), sha256: '', bytes: 0, externalData: [] },
    target: { kind: 'pipeline' }, settings: DEFAULT_SETTINGS, compatibilityKey: '',
    executionProvider: { requested: 'cpu', used: 'cpu', attempts: [] },
    latents: { shape: [], sha256: '', orig: {}, source: {} },
    timing: { evaluations: 0, seconds: 0, evalsPerSec: 0, sessionsCreated: 0 },
    candidates: entries,
  };
}

test('target fractions: -35%, 35%, -0.35 and 0.35 all mean a 35% reduction; nonsense is refused', () => {
  for (const t of ['-35%', '35%', '-0.35', '0.35', ' -35 % ']) assert.equal(parseTargetFraction('--target-latency', t), 0.35, t);
  for (const t of ['0', '0%', '-100%', '120%', 'fast', '', '-35%%']) assert.throws(() => parseTargetFraction('--target-latency', t), /--target-latency '.*': expected a reduction between 0% and 100%/, t);
});

test('explicit ids: a layer inside a chosen block is subsumed, not removed twice', async () => {
  const { a, candidates } = await unet();
  const s = selectForPrune({ selection: { mode: 'ops', ids: [LAYER, BLOCK, 'mid_block.resnets.1'] }, analysis: a, candidates, modelPath: 'unet.onnx' });
  assert.deepEqual(s.chosen.map((c) => c.id), [BLOCK, 'mid_block.resnets.1']);
  assert.deepEqual(s.subsumed, [{ id: LAYER, by: BLOCK }]);
});

test('explicit ids: unknown and unmodifiable candidates are user errors naming them', async () => {
  const { a, candidates } = await unet();
  const sel = (ids: string[]) => () => selectForPrune({ selection: { mode: 'ops', ids }, analysis: a, candidates, modelPath: 'unet.onnx' });
  assert.throws(sel(['down_blocks.0.resnets.7']), (e: Error) => e instanceof UserError && /no candidate 'down_blocks\.0\.resnets\.7'/.test(e.message) && /did you mean down_blocks\.0/.test(e.message));
  assert.throws(sel(['conv_out']), (e: Error) => e instanceof UserError && /'conv_out' cannot be modified: its output out_sample is a graph output/.test(e.message));
});

test('lowest k: lowest score first; a block chosen after its own layer takes the layer\'s place', async () => {
  const { a, candidates } = await unet();
  const f = scoreFile(candidates, { [LAYER]: 0.001, [BLOCK]: 0.002, 'mid_block.resnets.1': 0.003, 'up_blocks.2.attentions.2': 0.004 });
  const s = selectForPrune({ selection: { mode: 'lowest', count: 2 }, analysis: a, candidates, scoreFile: f, scorePath: 'scores.json', modelPath: 'unet.onnx' });
  // the layer is picked, then its block replaces it (one removal), then the next candidate
  assert.deepEqual(s.chosen.map((c) => c.id), [BLOCK, 'mid_block.resnets.1']);
  assert.deepEqual(s.subsumed, [{ id: LAYER, by: BLOCK }]);
  const three = selectForPrune({ selection: { mode: 'lowest', count: 3 }, analysis: a, candidates, scoreFile: f, scorePath: 'scores.json', modelPath: 'unet.onnx' });
  assert.deepEqual(three.chosen.map((c) => c.id), [BLOCK, 'mid_block.resnets.1', 'up_blocks.2.attentions.2']);
  assert.throws(
    () => selectForPrune({ selection: { mode: 'lowest', count: 10_000 }, analysis: a, candidates, scoreFile: f, scorePath: 'scores.json', modelPath: 'unet.onnx' }),
    /--lowest 10000 asks for more candidates than can be removed together/);
});

test('an unmodifiable candidate is never chosen, whatever its score', async () => {
  const { a, candidates } = await unet();
  const f = scoreFile(candidates, { conv_out: 0 }, { conv_out: { status: 'scored' } });
  assert.equal(f.candidates.find((c) => c.id === 'conv_out')!.score, 0);
  const s = selectForPrune({ selection: { mode: 'lowest', count: 5 }, analysis: a, candidates, scoreFile: f, scorePath: 'scores.json', modelPath: 'unet.onnx' });
  assert.equal(s.chosen.length, 5);
  assert.ok(!s.chosen.some((c) => c.id === 'conv_out'));
});

test('params target: met by the estimated savings, lowest first, stopping as soon as it is met', async () => {
  const { a, candidates } = await unet();
  const f = scoreFile(candidates, { 'mid_block.attentions.0': 0.001, 'down_blocks.2.resnets.1': 0.002, 'up_blocks.0.resnets.0': 0.003 });
  const total = a.total.get(a.tree.root)!.params;
  const s = selectForPrune({ selection: { mode: 'target', kind: 'params', fraction: 0.1 }, analysis: a, candidates, scoreFile: f, scorePath: 'scores.json', modelPath: 'unet.onnx' });
  const saved = s.chosen.reduce((sum, c) => sum + savingsOf(a, c, undefined).params, 0);
  assert.ok(saved / total >= 0.1, `${saved / total}`);
  assert.deepEqual(s.chosen.slice(0, 3).map((c) => c.id), ['mid_block.attentions.0', 'down_blocks.2.resnets.1', 'up_blocks.0.resnets.0']);
  assert.ok(Math.abs(s.estimatedFraction! - saved / total) < 1e-12);
  // dropping the last pick would miss the target: the greedy stops as soon as it is met
  const withoutLast = saved - savingsOf(a, s.chosen[s.chosen.length - 1], undefined).params;
  assert.ok(withoutLast / total < 0.1);
});

test('a ResNet replaced by its conv_shortcut does not count the shortcut\'s weights as saved', async () => {
  const { a, candidates } = await unet();
  const c = candidates.find((x) => x.id === 'up_blocks.0.resnets.0')!;
  assert.equal(c.modification!.method, 'shortcut');
  const shortcut = candidates.find((x) => x.id === 'up_blocks.0.resnets.0.conv_shortcut')!;
  assert.equal(savingsOf(a, c, undefined).params, c.params - shortcut.params);
  assert.equal(savingsOf(a, c, undefined).flops, c.flops - c.replacementFlops);
});

test('targets that cannot be reached, or a latency target without latency shares, are refused', async () => {
  const { a, candidates } = await unet();
  const f = scoreFile(candidates, {});
  const go = (kind: 'params' | 'flops' | 'latency', fraction: number, file = f) => () =>
    selectForPrune({ selection: { mode: 'target', kind, fraction }, analysis: a, candidates, scoreFile: file, scorePath: 'scores.json', modelPath: 'unet.onnx' });
  assert.throws(go('params', 0.999), /the params target −99\.9% cannot be reached: removing every scored, modifiable candidate saves about \d+\.\d% of the params; nothing was written/);
  assert.throws(go('latency', 0.3), /has no latency shares/);
  // mid_block.resnets.1 ranks second but has no measured share: it gains nothing toward a latency target
  const shares = scoreFile(candidates, { [BLOCK]: 0.001, 'mid_block.resnets.1': 0.0015, 'mid_block.attentions.0': 0.002 }, { [BLOCK]: { latencyShare: 0.2 }, 'mid_block.attentions.0': { latencyShare: 0.15 } });
  assert.deepEqual(go('latency', 0.3, shares)().chosen.map((c) => c.id), [BLOCK, 'mid_block.attentions.0']);
  assert.deepEqual(go('params', 0.02, shares)().chosen.map((c) => c.id), [BLOCK, 'mid_block.resnets.1'], 'a params target takes it second');
  assert.throws(go('latency', 0.5, shares), /latency target −50\.0% cannot be reached: .* saves about 35\.0% of the latency \(by the score file's measured latency shares\)/);
});

test('a score file naming candidates the model does not have is stale', async () => {
  const { a, candidates } = await unet();
  const f = scoreFile(candidates, {});
  f.candidates.push({ ...f.candidates[0], id: 'down_blocks.5.resnets.0', score: 0 });
  assert.throws(
    () => selectForPrune({ selection: { mode: 'lowest', count: 1 }, analysis: a, candidates, scoreFile: f, scorePath: 'scores.json', modelPath: 'unet.onnx' }),
    /scores\.json: scores candidate 'down_blocks\.5\.resnets\.0', which unet\.onnx does not have/);
});
