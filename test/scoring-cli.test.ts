// The candidates, score and merge-scores commands end to end (score runs in the forked worker).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeModel } from '../src/core/onnx/writer';
import { readScoreFile } from '../src/core/scoring/score-file';
import { GraphBuilder } from './helpers/graph-builder';

const ROOT = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-scoring-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('candidates --json lists block candidates of a pipeline with params, FLOPs and modifications', () => {
  const r = cli('candidates', 'examples/digits-cond', '--granularity', 'block', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.schema, 'ld-surgeon/candidates@1');
  assert.ok(j.model.endsWith(join('digits-cond', 'unet', 'model.onnx')));
  const mid = j.candidates.find((c: { id: string }) => c.id === 'mid_block.attentions.0');
  assert.equal(mid.modification, 'remove');
  assert.equal(mid.method, 'identity');
  assert.ok(mid.params > 0 && mid.flops > 0);
  assert.ok(j.candidates.every((c: { level: string }) => c.level === 'block'));
  const text = cli('candidates', 'examples/digits-cond', '--granularity', 'layer');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /conv_out +layer +conv .* none — its output out_sample is a graph output/);
});

test('score prints the ranking and writes the score file; bad ids and files are one-line errors', async () => {
  const b = new GraphBuilder();
  b.input('x', ['batch', 6]);
  const zeros = b.weight('zeros', [6]);
  const halves = b.weight('halves', [6], new Array(6).fill(0.5));
  const n = b.node('Mul', ['x', zeros], { name: '/quiet/Mul' });
  const y = b.node('Add', ['x', n], { name: '/Add' });
  const g = b.node('Mul', [y, halves], { name: '/loud/Mul' });
  b.node('Sin', [g], { name: '/out/Sin', outputs: ['out'] });
  b.output('out', ['batch', 6]);
  const model = join(dir, 'toy.onnx');
  await writeModel(b.model(), model, { durable: false });

  const r = cli('score', model, '--samples', '6', '--ep', 'cpu', '--quiet');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^1 +quiet +0\.0000 /m);
  assert.match(r.stdout, /^2 +loud +\d/m);
  assert.match(r.stdout, /not modifiable \(1\):\n +out: its output out is a graph output/);
  const f = readScoreFile(join(dir, 'toy.ldscores.json'));
  assert.equal(f.settings.samples, 6);

  const bad = cli('score', model, '--only', 'lodu', '--ep', 'cpu', '--quiet');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^ld-surgeon: .*toy\.onnx: no candidate 'lodu'/);
  const badVariant = cli('score', model, '--variant', 'max');
  assert.equal(badVariant.code, 2);
  assert.match(badVariant.stderr, /--variant 'max': expected one of avg, std, avg\+std, avg\*std/);

  const junk = join(dir, 'junk.json');
  writeFileSync(junk, '{"format": "something-else"}');
  const m = cli('merge-scores', junk, '--out', join(dir, 'merged.json'));
  assert.equal(m.code, 2);
  assert.match(m.stderr, /junk\.json: score format 'something-else' is not supported/);
});

test('score --estimate: the evaluation count and the time before starting; quick by default, --preset thorough, flags override', () => {
  const quick = cli('score', 'examples/digits-cond', '--estimate', '--json', '--ep', 'cpu');
  assert.equal(quick.code, 0, quick.stderr);
  const q = JSON.parse(quick.stdout);
  assert.equal(q.preset, 'quick');
  assert.deepEqual(q.settings, { samples: 8, steps: 10, granularity: 'block' });
  assert.equal(q.evaluations, 33, 'the reference run and 32 blocks');
  assert.equal(q.callsPerEvaluation, 10, '10 steps, all 8 samples in one U-Net call');
  assert.ok(q.seconds > 0 && q.callMs > 0);
  const thorough = JSON.parse(cli('score', 'examples/digits-cond', '--estimate', '--json', '--ep', 'cpu', '--preset', 'thorough').stdout);
  assert.deepEqual(thorough.settings, { samples: 16, steps: 25, granularity: 'both' });
  assert.equal(thorough.evaluations, 232);
  assert.ok(thorough.seconds > 5 * q.seconds, `thorough ${thorough.seconds} s vs quick ${q.seconds} s`);
  const override = JSON.parse(cli('score', 'examples/digits-cond', '--estimate', '--json', '--ep', 'cpu', '--preset', 'thorough', '--granularity', 'block', '--steps', '4').stdout);
  assert.deepEqual(override.settings, { samples: 16, steps: 4, granularity: 'block' });
  const text = cli('score', 'examples/digits-cond', '--estimate', '--ep', 'cpu');
  assert.match(text.stdout, /^quick: 33 evaluations \(32 block candidates, 8 samples × 10 steps\), about \d+ s on cpu$/m);
  const bad = cli('score', 'examples/digits-cond', '--preset', 'fast');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--preset 'fast': expected quick or thorough/);
});
