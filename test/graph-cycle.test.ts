// A graph with a cycle is not a valid ONNX model: analysis (and so inspect, candidates, score,
// prune and the graph editor, which all analyse first) refuses it, naming the file and the cycle.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../src/core/errors';
import { analyzeModel, describeNode, describeValue, GraphView } from '../src/core/graph';
import { writeModel } from '../src/core/onnx/writer';
import { runScoreJob } from '../src/core/scoring/job';
import { GraphBuilder } from './helpers/graph-builder';

const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-cycle-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** x → Add(x, loop) → Relu → Mul → back into the Add; the Add is unnamed, as converters leave nodes. */
async function cyclic(): Promise<string> {
  const b = new GraphBuilder();
  b.input('x', [1, 4]);
  b.weight('two', [4], [2, 2, 2, 2]);
  b.node('Add', ['x', 'loop'], { name: '', outputs: ['sum'] });
  b.node('Relu', ['sum'], { name: 'act', outputs: ['h'] });
  b.node('Mul', ['h', 'two'], { name: 'gain', outputs: ['loop'] });
  b.node('Tanh', ['h'], { name: 'head', outputs: ['y'] });
  b.output('y', [1, 4]);
  const p = join(dir, 'cyclic.onnx');
  await writeModel(b.model(), p, { durable: false });
  return p;
}

const CYCLE = /cyclic\.onnx: the graph has a cycle, so it is not a valid ONNX model .*: the unnamed Add \(node 1 of 4\) → 'act' \(Relu\) → 'gain' \(Mul\) → the unnamed Add/;

test('analysis refuses a graph with a cycle, naming the file and the nodes of the cycle', async () => {
  const { readModel } = await import('../src/core/onnx/reader');
  const m = await readModel(await cyclic());
  await assert.rejects(analyzeModel(m), (e: Error) => e instanceof UserError && CYCLE.test(e.message));
});

test('inspect and candidates exit with the error; scoring fails with it', async () => {
  const p = await cyclic();
  for (const cmd of ['inspect', 'candidates']) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', cmd, p], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, CYCLE);
  }
  await assert.rejects(runScoreJob({ target: p, settings: { samples: 2, ep: 'cpu' } }), (e: Error) => CYCLE.test(e.message));
});

test('errors name nodes and values as the user finds them: by name, or by op type and position when unnamed', async () => {
  const b = new GraphBuilder();
  b.input('x', [1, 4]);
  b.node('Relu', ['x'], { name: '', outputs: ['onnx::Relu_1'] });
  b.node('Add', ['onnx::Relu_1', 'x'], { name: '/blk/Add', outputs: ['/blk/Add_output_0'] });
  b.output('/blk/Add_output_0', [1, 4]);
  const view = new GraphView(b.graph);
  assert.equal(describeNode(view, b.graph.nodes[0]), 'the unnamed Relu (node 1 of 2)');
  assert.equal(describeNode(view, b.graph.nodes[1]), "'/blk/Add' (Add)");
  assert.equal(describeValue(view, 'onnx::Relu_1'), 'onnx::Relu_1 (output of the unnamed Relu (node 1 of 2))');
  assert.equal(describeValue(view, '/blk/Add_output_0'), '/blk/Add_output_0', 'the value name already names its node');
  assert.equal(describeValue(view, 'x'), 'x');
});
