// GraphView: producers/consumers (with subgraph scopes), toposort, cleanup, replaceUses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphView } from '../src/core/graph';
import type { Graph, Node } from '../src/core/onnx/types';
import { readModel } from '../src/core/onnx/reader';
import { GraphBuilder } from './helpers/graph-builder';

/** x → Relu → a → Sigmoid → b → Add(a, b) → y, plus a dead branch a → Tanh → dead. */
function diamond() {
  const b = new GraphBuilder();
  b.input('x', [1, 4]);
  b.node('Relu', ['x'], { name: 'relu', outputs: ['a'] });
  b.node('Sigmoid', ['a'], { name: 'sig', outputs: ['b'] });
  b.node('Tanh', ['a'], { name: 'dead', outputs: ['d'] });
  b.weight('unused_w', [4]);
  b.graph.valueInfo.push({ name: 'd' });
  b.node('Add', ['a', 'b'], { name: 'add', outputs: ['y'] });
  b.output('y', [1, 4]);
  return b;
}

function assertTopological(g: Graph) {
  const available = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.map((t) => t.name), '']);
  const view = new GraphView(g);
  for (const n of g.nodes) {
    for (const x of view.allInputs(n)) assert.ok(available.has(x), `${n.name} reads ${x} before it is produced`);
    for (const o of n.outputs) available.add(o);
  }
}

function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

test('producer and consumers of each value', () => {
  const v = new GraphView(diamond().graph);
  assert.equal(v.producer('a')?.name, 'relu');
  assert.deepEqual(v.consumers('a').map((n) => n.name), ['sig', 'dead', 'add']);
  assert.equal(v.producer('x'), undefined);
  assert.equal(v.kind('x'), 'input');
  assert.equal(v.kind('unused_w'), 'initializer');
  assert.equal(v.kind('b'), 'node-output');
  assert.equal(v.kind('nope'), 'missing');
  assert.equal(v.nodeId(v.producer('b')!), 'sig');
});

test('node ids fall back to index and op when names are missing or duplicated', () => {
  const b = new GraphBuilder();
  b.input('x');
  b.node('Relu', ['x'], { name: '', outputs: ['a'] });
  b.node('Relu', ['a'], { name: 'dup', outputs: ['b'] });
  b.node('Relu', ['b'], { name: 'dup', outputs: ['c'] });
  const v = new GraphView(b.graph);
  assert.deepEqual(b.graph.nodes.map((n) => v.nodeId(n)), ['#0:Relu', '#1:Relu', '#2:Relu']);
  assert.equal(v.nodeById('#2:Relu')?.outputs[0], 'c');
});

test('toposort restores a valid order from a shuffled graph and keeps a sorted one unchanged', async () => {
  const g = diamond().graph;
  const original = g.nodes.map((n) => n.name);
  new GraphView(g).toposort();
  assert.deepEqual(g.nodes.map((n) => n.name), original);

  const model = await readModel('test/fixtures/graph/tiny_unet_dynamic.onnx');
  const nodes = model.graph.nodes;
  const count = nodes.length;
  for (const seed of [1, 2, 3]) {
    model.graph.nodes = shuffled(nodes, seed);
    assert.throws(() => assertTopological(model.graph)); // the shuffle really broke the order
    new GraphView(model.graph).toposort();
    assert.equal(model.graph.nodes.length, count);
    assertTopological(model.graph);
  }
});

test('toposort reports a cycle', () => {
  const b = new GraphBuilder('cyclic');
  b.input('x');
  b.node('Add', ['x', 'q'], { name: 'p', outputs: ['p'] });
  b.node('Relu', ['p'], { name: 'q', outputs: ['q'] });
  b.output('q');
  assert.throws(() => new GraphView(b.graph).toposort(), /cyclic.*cycle/);
});

test('cleanup removes the dead branch, unused initializers and value_info, and keeps outputs', () => {
  const b = diamond();
  const v = new GraphView(b.graph);
  const r = v.cleanup();
  assert.deepEqual(b.graph.nodes.map((n) => n.name), ['relu', 'sig', 'add']);
  assert.deepEqual(r, { removedNodes: 1, removedInitializers: 1, removedValueInfo: 1, removedInputs: 0 });
  assert.deepEqual(b.graph.outputs.map((o) => o.name), ['y']);
  assert.equal(v.consumers('a').length, 2, 'reindexed after cleanup');
});

test('cleanup keeps graph inputs unless asked, and a graph output that is an input', () => {
  const b = new GraphBuilder();
  b.input('x');
  b.input('unused');
  b.node('Relu', ['x'], { outputs: ['y'] });
  b.output('y');
  new GraphView(b.graph).cleanup();
  assert.equal(b.graph.inputs.length, 2);
  new GraphView(b.graph).cleanup({ removeUnusedInputs: true });
  assert.deepEqual(b.graph.inputs.map((v) => v.name), ['x']);
});

/** An If whose branches read `w` and `h` from the outer graph without declaring them. */
function withIf() {
  const then = new GraphBuilder('then');
  then.node('Add', ['h', 'w'], { name: 'then_add', outputs: ['t_out'] });
  then.node('Neg', ['h'], { name: 'then_dead', outputs: ['t_dead'] });
  then.output('t_out');
  const els = new GraphBuilder('else');
  els.node('Identity', ['h'], { name: 'else_id', outputs: ['e_out'] });
  els.output('e_out');

  const b = new GraphBuilder();
  b.input('x', [4]);
  b.input('cond', [], 9);
  b.weight('w', [4]);
  b.node('Relu', ['x'], { name: 'relu', outputs: ['h'] });
  b.node('If', ['cond'], { name: 'if', outputs: ['y'], attrs: { then_branch: { g: then.graph }, else_branch: { g: els.graph } } });
  b.output('y');
  return { b, then: then.graph };
}

test('subgraph bodies reading outer values make the If node their consumer', () => {
  const { b } = withIf();
  const v = new GraphView(b.graph);
  assert.deepEqual(v.implicitInputs(v.producer('y')!), ['h', 'w']);
  assert.deepEqual(v.consumers('h').map((n) => n.name), ['if']);
  assert.deepEqual(v.consumers('w').map((n) => n.name), ['if']);
});

test('toposort orders an If after the producers its body reads', () => {
  const { b } = withIf();
  b.graph.nodes.reverse(); // If first, then Relu
  new GraphView(b.graph).toposort();
  assert.deepEqual(b.graph.nodes.map((n) => n.name), ['relu', 'if']);
});

test('cleanup keeps what only a subgraph reads and cleans inside bodies', () => {
  const { b, then } = withIf();
  const r = new GraphView(b.graph).cleanup();
  assert.deepEqual(b.graph.nodes.map((n) => n.name), ['relu', 'if']);
  assert.deepEqual(b.graph.initializers.map((t) => t.name), ['w']);
  assert.deepEqual(then.nodes.map((n: Node) => n.name), ['then_add']);
  assert.equal(r.removedNodes, 1);
});

test('replaceUses rewires readers (also inside subgraphs) but never renames graph outputs', () => {
  const { b, then } = withIf();
  b.node('Sigmoid', ['x'], { name: 'alt', outputs: ['h2'] });
  b.output('h');
  const v = new GraphView(b.graph);
  v.replaceUses('h', 'h2');
  assert.deepEqual(v.consumers('h2').map((n) => n.name).sort(), ['if']);
  assert.deepEqual(then.nodes[0].inputs, ['h2', 'w']);
  assert.ok(b.graph.outputs.some((o) => o.name === 'h'), 'graph output name kept');
  v.cleanup();
  assert.ok(b.graph.nodes.some((n) => n.name === 'relu'), 'relu still feeds the graph output h');
});
