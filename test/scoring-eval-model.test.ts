// The gated evaluation model of a model with external data is loaded from memory, its weights read in
// place from the original's data file: a scoring job writes no copy of them, and scores exactly what
// it scores for the same model with its weights embedded.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '../src/core/onnx/reader';
import { writeModel } from '../src/core/onnx/writer';
import { evalModel } from '../src/core/scoring/eval-model';
import { runScoreJob } from '../src/core/scoring/job';
import { GraphBuilder } from './helpers/graph-builder';

const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-eval-model-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const WIDTH = 1024;

/** x → gain (·w, 4 KB of weights) → residual branch (x·v added back) → tanh; written embedded or with external data. */
async function model(name: string, external: boolean): Promise<string> {
  const b = new GraphBuilder();
  b.input('x', ['batch', WIDTH]);
  const w = b.weight('w', [WIDTH], Array.from({ length: WIDTH }, (_, i) => 0.5 + (i % 7) / 10));
  const v = b.weight('v', [WIDTH], Array.from({ length: WIDTH }, (_, i) => ((i % 5) - 2) / 10));
  const g = b.node('Mul', ['x', w], { name: '/gain/Mul' });
  const branch = b.node('Mul', [g, v], { name: '/branch/Mul' });
  const y = b.node('Add', [g, branch], { name: '/Add' });
  b.node('Tanh', [y], { name: '/head/Tanh', outputs: ['out'] });
  b.output('out', ['batch', WIDTH]);
  const folder = join(dir, name);
  mkdirSync(folder);
  const p = join(folder, 'model.onnx');
  await writeModel(b.model(), p, { durable: false, externalData: external ? 'always' : 'never' });
  return p;
}

function bytesUnder(folder: string): number {
  let n = 0;
  for (const e of readdirSync(folder, { withFileTypes: true, recursive: true })) if (e.isFile()) n += statSync(join(e.parentPath ?? e.path, e.name)).size;
  return n;
}

test('a model with external data is evaluated from memory, its weights read where they are', async () => {
  const path = await model('external', true);
  const m = await readModel(path);
  const e = await evalModel(m, path, join(dir, 'never-written.onnx'));
  assert.ok(e.bytes, 'encoded in memory');
  assert.ok(e.bytes!.length < WIDTH * 4, `the encoded model (${e.bytes!.length} bytes) holds no weights`);
  assert.equal(e.externalDataFolder, join(dir, 'external'));
  assert.throws(() => statSync(join(dir, 'never-written.onnx')));
});

test('scores of a model with external data equal those of the same model embedded, and no weight copy is written', async () => {
  const embedded = await model('embedded', false);
  const external = await model('external-job', true);
  const dataBytes = statSync(`${external}.data`).size;
  assert.ok(dataBytes >= 2 * WIDTH * 4);
  const work = join(dir, 'work');
  let workBytesAtStart = -1;
  const score = (target: string) => runScoreJob({
    target, settings: { samples: 4, ep: 'cpu' }, out: join(dir, `${target.includes('external') ? 'ext' : 'emb'}.json`), workDir: work,
    onEvent: (ev) => { if (ev.type === 'started' && target === external) workBytesAtStart = bytesUnder(work); },
  });
  const a = (await score(embedded)).file;
  const b = (await score(external)).file;
  assert.ok(workBytesAtStart >= 0 && workBytesAtStart < dataBytes, `work folder held ${workBytesAtStart} bytes, the weights are ${dataBytes}`);
  assert.equal(b.latents.sha256, a.latents.sha256);
  const scores = (f: typeof a) => f.candidates.map((c) => [c.id, c.status, c.score]);
  assert.deepEqual(scores(b), scores(a));
  assert.ok(a.candidates.some((c) => c.status === 'scored' && c.score! > 0), 'some candidate matters');
});
