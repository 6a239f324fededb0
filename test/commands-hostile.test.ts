// The CI slice of hostile files through the commands (bench/fuzz-commands.ts runs more): seeded
// mutations of corpus models and the example U-Nets (some inside a copy of their pipeline folder) go
// through the built CLI's inspect, candidates, score, prune and sample and the graph editor's open.
// Each ends in success or exit code 2 with one line naming the file — no stack trace, no exit code 1,
// no hang, no native crash — the case's files stay byte-identical, and a failure leaves no output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCommandFuzz } from '../bench/fuzz/commands';

const built = existsSync(join(__dirname, '..', 'dist', 'cli-run.js'));

test('hostile files through inspect, candidates, score, prune, sample and the editor: success or one clear refusal', { skip: !built && 'npm run build first' }, async () => {
  // --ep cpu: with auto, a model every provider refuses makes onnxruntime try WebGPU, whose Dawn backend
  // prints a native Vulkan warning on machines without Vulkan (bench/fuzz-commands.ts, which keeps
  // auto, still reports it; open)
  const s = await runCommandFuzz({ cases: 8, seed: 15_02, unetShare: 0.6, ep: 'cpu' });
  const show = s.problems.map((p) => `#${p.caseId} ${p.command} on ${p.target}: ${p.problem}\n${p.stderr.slice(-400)}`);
  assert.deepEqual(show, [], 'runs that broke the contract');
  assert.ok(s.pipelineCases > 0, 'a damaged U-Net went through a pipeline folder');
  const total = (k: 'ok' | 'refused') => Object.values(s.outcomes).reduce((n, o) => n + o[k], 0);
  assert.ok(total('ok') > 0 && total('refused') > 0, `both outcomes were exercised: ${JSON.stringify(s.outcomes)}`);
  assert.ok(s.outcomes['editor-open'] && s.outcomes.score && s.outcomes.inspect, JSON.stringify(s.outcomes));
});

test('sample on a pipeline whose U-Net onnxruntime refuses: one line naming the file, no native warning around it', { skip: !built && 'npm run build first' }, async () => {
  // case 16 of seed 7: a bit flip in the audio-digits U-Net inside its pipeline folder turns the opset
  // stamp to 1; onnxruntime used to print its "opset 7 or above" warning to stderr before the refusal
  const s = await runCommandFuzz({ cases: 17, seed: 7, only: [16] });
  assert.equal(s.pipelineCases, 1);
  assert.deepEqual(s.outcomes.sample, { ok: 0, refused: 1, bad: 0 }, JSON.stringify(s.problems.map((p) => p.stderr)));
});

test("prune of a U-Net with a duplicated initializer: one line naming the file, no onnxruntime warning around it", { skip: !built && 'npm run build first' }, async () => {
  // case 62 of seed 20261206: a duplicated field gives the bare digits-cond U-Net two initializers of one
  // name; prune's before/after comparison printed onnxruntime's "Duplicate initializer" warning
  const s = await runCommandFuzz({ cases: 63, seed: 20261206, only: [62], ep: 'cpu' });
  assert.equal(s.outcomes.score?.ok, 1, 'the score runs, so prune --lowest 1 is tried');
  assert.deepEqual(s.outcomes.prune, { ok: 0, refused: 1, bad: 0 }, JSON.stringify(s.problems.map((p) => p.stderr)));
});
