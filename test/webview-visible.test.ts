// What the graph canvas draws for a set of expanded modules: collapsed blocks, groups, operators,
// and edges merged between collapsed blocks (webview-ui/src/model/visible.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ViewGraph } from '../webview-ui/src/model/graph';
import { computeVisible, effectiveExpanded, visibleKeyOf } from '../webview-ui/src/model/visible';
import { tinyUnet } from './webview-fixture';

const g = () => new ViewGraph(JSON.parse(JSON.stringify(tinyUnet())));

test('collapsed: one block per top-level module, graph inputs and outputs, nothing inside', () => {
  const vis = computeVisible(g(), new Set());
  assert.deepEqual(
    vis.items.map((i) => i.key),
    ['i:x', 'i:t', 'm:time_embedding', 'm:conv_in', 'm:down.0', 'm:mid', 'm:up.0', 'm:conv_out', 'o:y'],
  );
  assert.ok(vis.items.every((i) => i.parent === null));
});

test('edges between collapsed blocks are merged, edges inside a block vanish', () => {
  const vis = computeVisible(g(), new Set());
  const keys = vis.edges.map((e) => e.key).sort();
  assert.deepEqual(keys, [
    'i:t>m:time_embedding',
    'i:x>m:conv_in',
    'm:conv_in>m:down.0',
    'm:conv_out>o:y',
    'm:down.0>m:mid',
    'm:down.0>m:up.0',
    'm:mid>m:up.0',
    'm:time_embedding>m:down.0',
    'm:time_embedding>m:mid',
    'm:time_embedding>m:up.0',
    'm:up.0>m:conv_out',
  ]);
  // down.0's output d0 and its downsampled d1 both leave the block: d1 to mid, d0 (the skip) to up.0
  assert.deepEqual(vis.edges.find((e) => e.key === 'm:down.0>m:up.0')!.values, ['d0']);
  // conv_in → down.0 carries h0 once, though three nodes inside down.0 read it
  assert.deepEqual(vis.edges.find((e) => e.key === 'm:conv_in>m:down.0')!.values, ['h0']);
});

test('a tensor feeding several blocks is marked broadcast only when it fans out widely', () => {
  const vis = computeVisible(g(), new Set());
  const temb = vis.edges.filter((e) => e.src === 'm:time_embedding');
  assert.equal(temb.length, 3);
  assert.ok(temb.every((e) => !e.broadcast), 'three consumers is below the broadcast threshold');
  const deep = computeVisible(g(), new Set(['down.0', 'down.0.resnets.0', 'mid', 'mid.resnets.0', 'up.0', 'up.0.resnets.0']));
  const fromTemb = deep.edges.filter((e) => e.values.includes('temb'));
  assert.equal(fromTemb.length, 3);
  assert.ok(deep.edges.some((e) => !e.broadcast));
});

test('expanding a block shows its children inside a group and reroutes edges to them', () => {
  const vis = computeVisible(g(), new Set(['down.0']));
  const group = vis.byKey.get('m:down.0')!;
  assert.equal(group.kind, 'group');
  const inside = vis.items.filter((i) => i.parent === 'm:down.0').map((i) => i.key);
  assert.deepEqual(inside, ['m:down.0.resnets.0', 'm:down.0.downsample']);
  const keys = new Set(vis.edges.map((e) => e.key));
  assert.ok(keys.has('m:conv_in>m:down.0.resnets.0'));
  assert.ok(keys.has('m:down.0.resnets.0>m:down.0.downsample'));
  assert.ok(keys.has('m:down.0.downsample>m:mid'));
  assert.ok(keys.has('m:down.0.resnets.0>m:up.0'), 'the skip now leaves from the ResNet');
  assert.ok(!keys.has('m:down.0>m:mid'), 'no edge attaches to an expanded group itself');
});

test('a one-operator layer is a block carrying its node, and is not expandable', () => {
  const graph = g();
  const vis = computeVisible(graph, new Set(['down.0', 'down.0.resnets.0']));
  const conv1 = vis.byKey.get('m:down.0.resnets.0.conv1')!;
  assert.equal(conv1.kind, 'block');
  assert.equal(graph.nodes[conv1.node!].op, 'Conv');
  assert.equal(graph.expandable('down.0.resnets.0.conv1'), false);
  // norm1 has five drawn operators (the Constant and the Shape are exporter noise, hidden)
  assert.equal(graph.module('down.0.resnets.0.norm1')!.shownCount, 5);
  assert.equal(graph.expandable('down.0.resnets.0.norm1'), true);
  // the ResNet's own Add nodes sit directly in its group
  assert.deepEqual(
    vis.items.filter((i) => i.parent === 'm:down.0.resnets.0' && i.kind === 'node').map((i) => graph.nodes[i.node!].id),
    ['/down.0/resnets.0/Add', '/down.0/resnets.0/Add_1'],
  );
});

test('exporter noise is hidden: no item and no edge for it', () => {
  const graph = g();
  const vis = computeVisible(graph, new Set(['down.0', 'down.0.resnets.0', 'down.0.resnets.0.norm1']));
  const ops = vis.items.filter((i) => i.kind === 'node').map((i) => graph.nodes[i.node!].op);
  assert.ok(!ops.includes('Constant') && !ops.includes('Shape'));
  const reshape1 = `n:${graph.nodeIndex.get('/down.0/resnets.0/norm1/Reshape_1')}`;
  const into = vis.edges.filter((e) => e.dst === reshape1);
  assert.equal(into.length, 1, 'only the data input, not the shape tensor');
  const shown = new ViewGraph(JSON.parse(JSON.stringify(tinyUnet())), { showNoise: true });
  assert.equal(shown.module('down.0.resnets.0.norm1')!.shownCount, 7);
});

test('an expanded module inside a collapsed one stays hidden until its parent opens', () => {
  const graph = g();
  assert.deepEqual([...effectiveExpanded(graph, new Set(['down.0.resnets.0']))], []);
  const vis = computeVisible(graph, new Set(['down.0.resnets.0']));
  assert.equal(vis.byKey.get('m:down.0')!.kind, 'block');
  assert.equal(vis.byKey.has('m:down.0.resnets.0'), false);
});

test('the visible item for a module or node is the innermost one drawn', () => {
  const graph = g();
  const vis = computeVisible(graph, new Set(['down.0']));
  const conv1 = graph.nodeIndex.get('/down.0/resnets.0/conv1/Conv')!;
  assert.equal(visibleKeyOf(graph, vis, { node: conv1 }), 'm:down.0.resnets.0');
  assert.equal(visibleKeyOf(graph, vis, { module: 'up.0.resnets.0.conv1' }), 'm:up.0');
  assert.equal(visibleKeyOf(graph, vis, { module: 'down.0' }), 'm:down.0');
});

test('the view graph reads the index: shapes parsed, inputs/outputs named, totals kept', () => {
  const graph = g();
  assert.deepEqual(graph.inputs, ['x', 't']);
  assert.deepEqual(graph.outputs, ['y']);
  assert.deepEqual(graph.values.get('h0')!.shape, [1, 4, 8, 8]);
  assert.equal(graph.root.params, 1500);
  assert.equal(graph.module('up.0')!.params, 540);
  assert.deepEqual(graph.moduleChain('down.0.resnets.0.conv1'), ['down.0', 'down.0.resnets.0', 'down.0.resnets.0.conv1']);
  assert.ok(graph.contains('down.0', 'down.0.resnets.0.conv1'));
  assert.ok(!graph.contains('down.0.resnets.0.conv1', 'down.0'));
  assert.deepEqual(graph.weightsOf(graph.nodeIndex.get('/conv_in/Conv')!).map((v) => v.name), ['conv_in.weight']);
  assert.throws(() => new ViewGraph({} as never), /malformed/);
});
