// Scoring a bare .onnx (no pipeline): one forward pass on seeded random inputs. A candidate whose
// removal changes nothing scores exactly 0; unknown or unmodifiable ids are clear errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../src/core/errors';
import { writeModel } from '../src/core/onnx/writer';
import { runScoreJob } from '../src/core/scoring/job';
import { readScoreFile } from '../src/core/scoring/score-file';
import { GraphBuilder } from './helpers/graph-builder';

const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-bare-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * x → noop (x·0, a residual branch: y = x + noop) → gain (·3) → double (·2, fed to the output Add
 * twice, so its region has two exits through one value: fine) → out = tanh(...)
 */
async function model(): Promise<string> {
  const b = new GraphBuilder();
  b.input('x', ['batch', 8]);
  const zeros = b.weight('zeros', [8]);
  const three = b.weight('three', [8], new Array(8).fill(3));
  const noop = b.node('Mul', ['x', zeros], { name: '/noop/Mul' });
  const y = b.node('Add', ['x', noop], { name: '/Add' });
  const g = b.node('Mul', [y, three], { name: '/gain/Mul' });
  const h = b.node('Relu', [g], { name: '/act/Relu' });
  b.node('Tanh', [h], { name: '/head/Tanh', outputs: ['out'] });
  b.output('out', ['batch', 8]);
  const p = join(dir, 'toy.onnx');
  await writeModel(b.model(), p, { durable: false });
  return p;
}

test('a candidate whose removal is a no-op scores exactly 0; one that matters scores above 0', async () => {
  const path = await model();
  const events: string[] = [];
  const r = await runScoreJob({ target: path, settings: { samples: 8, ep: 'cpu' }, onEvent: (e) => events.push(e.type) });
  assert.equal(r.state, 'done');
  assert.equal(r.scoreFile, join(dir, 'toy.ldscores.json'));
  const f = readScoreFile(r.scoreFile);
  assert.equal(f.format, 'ld-surgeon.scores/1');
  assert.equal(f.target.kind, 'model');
  assert.deepEqual(f.latents.shape, [8, 8]);
  const c = new Map(f.candidates.map((x) => [x.id, x]));
  const noop = c.get('noop')!;
  assert.equal(noop.method, 'skip-residual');
  assert.equal(noop.score, 0);
  assert.deepEqual(noop.variants, { avg: 0, std: 0, 'avg+std': 0, 'avg*std': 0 });
  const gain = c.get('gain')!;
  assert.equal(gain.method, 'identity');
  assert.ok(gain.score! > 0.05, `gain score ${gain.score}`);
  assert.ok(c.get('act')!.score! > 0, 'removing the Relu lets negative values through');
  assert.equal(c.get('head')!.status, 'unmodifiable');
  assert.match(c.get('head')!.reason!, /graph output/);
  assert.ok(f.complete);
  assert.equal(f.model.sha256.length, 64);
  assert.ok(events.includes('started') && events.includes('done') && events.filter((e) => e === 'result').length >= 4);
  // the file on disk is what the job returned
  assert.deepEqual(JSON.parse(readFileSync(r.scoreFile, 'utf8')).candidates.map((x: { id: string }) => x.id), f.candidates.map((x) => x.id));
});

test('unknown and unmodifiable candidate ids are clear errors', async () => {
  const path = await model();
  await assert.rejects(
    runScoreJob({ target: path, settings: { samples: 4, ep: 'cpu', only: ['gian'] }, out: join(dir, 'x.json') }),
    (e: Error) => e instanceof UserError && /no candidate 'gian'/.test(e.message) && e.message.includes('toy.onnx'),
  );
  await assert.rejects(
    runScoreJob({ target: path, settings: { samples: 4, ep: 'cpu', only: ['head'] }, out: join(dir, 'x.json') }),
    (e: Error) => e instanceof UserError && /'head' cannot be modified: its output out is a graph output/.test(e.message),
  );
  await assert.rejects(runScoreJob({ target: join(dir, 'missing.onnx'), settings: {} }), (e: Error) => e instanceof UserError && /missing\.onnx: does not exist/.test(e.message));
  await assert.rejects(runScoreJob({ target: path, settings: { samples: 4, ep: 'cpu', inputs: { y: [2, 8] } }, out: join(dir, 'x.json') }), /has no input 'y'/);
});

test('iterative scoring picks greedily, re-scores with the picks switched on, and reports how the ranking moved', async () => {
  const path = await model();
  const out = join(dir, 'iterative.json');
  const steps: number[] = [];
  const r = await runScoreJob({ target: path, settings: { samples: 8, ep: 'cpu', iterative: { count: 2 } }, out, onEvent: (e) => e.type === 'iteration' && steps.push(e.step.step) });
  const f = r.file;
  const it = f.iterative!;
  assert.deepEqual(steps, [1, 2]);
  assert.equal(it.budget, 2);
  assert.equal(it.complete, true);
  assert.equal(it.steps[0].picked, 'noop');
  assert.equal(it.steps[0].score, 0);
  // with the no-op switched on the latents do not change, so the joint re-scores equal the one-shot ones
  const oneShot = new Map(f.candidates.map((c) => [c.id, c.score]));
  assert.equal(it.steps[1].score, oneShot.get(it.steps[1].picked));
  assert.equal(it.steps[1].rankCorrelation, 1);
  assert.equal(it.orderCorrelation, 1);
  assert.deepEqual(it.moved, []);
  assert.ok(f.complete);
  // the one-shot part of an iterative file is reused by a plain run with the same settings
  let resumed = -1;
  await runScoreJob({ target: path, settings: { samples: 8, ep: 'cpu' }, out, onEvent: (e) => e.type === 'started' && (resumed = e.resumed) });
  assert.equal(resumed, f.candidates.filter((c) => c.status === 'scored').length);
});
