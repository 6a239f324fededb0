// The CI slice of the hostile-input fuzzer (bench/fuzz.ts runs the full ≥ 10,000 cases): 1,000
// seeded mutations of the backend corpus and the small example models (the 7 MB U-Nets only in the
// full run), each through reader → analysis → writer → reader in a worker with a time limit. Every
// case must end in success or one clear error naming the file; none may crash, hang, run out of
// memory, open a path outside its folder or decode the sentinel file that sits just outside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { defaultSeeds, runFuzz } from '../bench/fuzz/engine';

test('1,000 hostile ONNX files: no crash, no hang, nothing read outside the model folder', async () => {
  const seeds = defaultSeeds().filter((p) => statSync(p).size < 2_000_000);
  assert.ok(seeds.length > 100, `the corpus is there (${seeds.length} seed models)`);
  // cases 7 and 500 are positive controls: model.onnx is a symlink to the sentinel outside the folder
  const s = await runFuzz({ cases: 1000, seed: 20261206, workers: 2, seeds, exampleShare: 0.1, controlCases: [7, 500] });
  assert.deepEqual(s.failures.filter((f) => f.mutation.startsWith('control:')).map((f) => f.id), [7, 500], 'the controls were caught');
  assert.equal(s.outsideReads, 2);
  const show = s.failures.filter((f) => !f.mutation.startsWith('control:')).slice(0, 10).map((f) => `#${f.id} ${f.outcome} at ${f.stage} (${f.mutation} of ${f.seedModel}): ${f.error}`);
  assert.deepEqual(show, [], 'cases that crashed, hung, ran out of memory, gave an unclear error or read outside');
  assert.equal((s.outcomes.ok ?? 0) + (s.outcomes.rejected ?? 0), 1000, JSON.stringify(s.outcomes));
  // The hostile structures were really exercised: some files survive, and escapes were refused.
  assert.ok((s.outcomes.ok ?? 0) > 20, `some mutated files are still valid models: ${JSON.stringify(s.outcomes)}`);
  const refused = (re: RegExp) => s.topRejections.filter(([m]) => re.test(m)).reduce((n, [, k]) => n + k, 0);
  assert.ok(refused(/outside the model's folder|absolute path|uses '\.\.'/) > 0, 'external data escaping the folder was tried and refused');
  assert.ok(refused(/not a regular file/) > 0, 'a directory or device as external data was tried and refused');
  assert.ok(refused(/nested more than/) > 0, 'deep nesting was tried and refused');
});
