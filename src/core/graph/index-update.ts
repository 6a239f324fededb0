// The graph index of an edited snapshot built from the index of the snapshot it was edited from, and the
// patch between them as a by-product of that construction (no diff of two whole indexes afterwards).
//
// The new index's order (topological nodes, values numbered on first use) is taken from the edited graph
// itself, so the result is exactly what buildGraphIndex would give (test/index-patch.test.ts checks it).
// What is reused: every entry the edit did not reach. A value row whose inferred facts are the previous
// snapshot's own objects (the incremental shape pass keeps them) keeps its formatted shape; a node whose
// op, attribute objects, wiring, module, noise and cost are unchanged keeps its entry (remapped where
// positions moved), so attributes are not re-read and shapes not re-formatted outside what changed.
// Each positional array is one splice around what changed; where the edit put as many elements in as it
// took out (a rename), they stay in place and go whole into `set`, so references to them (edges to a
// renamed node, nodes to a renamed value) stay valid and are not sent again.
import type { Node } from '../onnx/types';
import type { ModelAnalysis } from './analyze';
import { indexAttribute, indexEdges, indexModules, indexOrder, nodeEntry, valueNames, valueRow, GRAPH_INDEX_SCHEMA, type GraphIndex, type IndexModule, type IndexNode } from './graph-index';
import { indexMap, lengths, remapNode, type GraphIndexPatch, type IndexMaps, type Splice, type ValueRow } from './index-patch';
import { findStacks } from './stacks';

/** A snapshot's analysis and the index built from it (by buildGraphIndex or by this function). */
export interface IndexedAnalysis {
  analysis: ModelAnalysis;
  index: GraphIndex;
}

/** The index of `a` (an edit of `prev.analysis`) and the patch that turns `prev.index` into it. */
export function updateGraphIndex(prev: IndexedAnalysis, a: ModelAnalysis): { index: GraphIndex; patch: GraphIndexPatch } {
  const { view, tree } = a;
  const pa = prev.analysis;
  const pi = prev.index;

  // modules: a few hundred, built whole (their totals change up the tree) and compared
  const { modules, moduleIndex } = indexModules(a);
  const mb = bounds(pi.modules.length, modules.length, (i, j) => pi.modules[i].id === modules[j].id);
  const mmap = indexMap(pi.modules.length, modules.length, mb);
  const moduleSplice = splice(mb, pi.modules.length, modules.length, (i, j) => sameModule(pi.modules[i], modules[j], mmap), (j) => modules[j]);

  // values: numbered as a fresh build numbers them; rows formatted only where facts changed
  const order = indexOrder(a);
  const prevOrder = indexOrder(pa);
  const names = valueNames(a, order);
  const oldNames = pi.values.name;
  const vb = bounds(oldNames.length, names.list.length, (i, j) => oldNames[i] === names.list[j]);
  const vmap = indexMap(oldNames.length, names.list.length, vb);
  const shape: string[] = new Array(names.list.length);
  const elemType: number[] = new Array(names.list.length);
  const fill = (j: number) => ([shape[j], elemType[j]] = valueRow(a, names.list[j]));
  const valueSplice = splice<ValueRow>(vb, oldNames.length, names.list.length, (i, j) => {
    const name = names.list[j];
    if (oldNames[i] === name && pa.shapes.get(name) === a.shapes.get(name) && pa.view.initializer(name) === view.initializer(name)) {
      shape[j] = pi.values.shape[i];
      elemType[j] = pi.values.elemType[i];
      return true;
    }
    fill(j);
    return oldNames[i] === name && shape[j] === pi.values.shape[i] && elemType[j] === pi.values.elemType[i];
  }, (j) => {
    if (shape[j] === undefined) fill(j);
    return [names.list[j], shape[j], elemType[j]];
  });

  // nodes: kept entries reused (remapped), new or changed ones built
  const ids = order.map((n) => view.nodeId(n));
  const nb = bounds(pi.nodes.length, order.length, (i, j) => pi.nodes[i].id === ids[j]);
  const nmap = indexMap(pi.nodes.length, order.length, nb);
  const maps: IndexMaps = { modules: mmap, values: vmap, nodes: nmap };
  const moduleOf = (n: Node) => moduleIndex.get(tree.moduleOf.get(n)!)!;
  const nodes: IndexNode[] = new Array(order.length);
  const build = (j: number) => (nodes[j] = nodeEntry(a, order[j], moduleOf(order[j]), names.index));
  const nodeSplice = splice(nb, pi.nodes.length, order.length, (i, j) => {
    const e = pi.nodes[i];
    const n = order[j];
    if (e.id === ids[j] && sameNode(e, n, prevOrder[i], a, moduleOf(n), maps, names.index)) {
      nodes[j] = remapNode(e, maps);
      return true;
    }
    build(j);
    return false;
  }, (j) => nodes[j] ?? build(j));

  // edges: cheap to list again (numbers); matched against the old ones remapped
  const edges = indexEdges(a, order, names.index);
  const eb = bounds(pi.edges.length, edges.length, (i, j) => {
    const o = pi.edges[i];
    const e = edges[j];
    return nmap(o[0]) === e[0] && nmap(o[1]) === e[1] && vmap(o[2]) === e[2];
  });
  const edgeSplice = splice(eb, pi.edges.length, edges.length, (i, j) => {
    const o = pi.edges[i];
    const e = edges[j];
    return nmap(o[0]) === e[0] && nmap(o[1]) === e[1] && vmap(o[2]) === e[2];
  }, (j) => edges[j]);

  const outputs = view.graph.outputs.map((v) => names.index.get(v.name)!);
  const index: GraphIndex = {
    schema: GRAPH_INDEX_SCHEMA, modules, nodes, values: { name: names.list, shape, elemType }, edges,
    inputs: names.inputs, outputs, initializers: names.initializers,
  };
  const stacks = findStacks(view, tree, a.noise);
  if (stacks.length) index.stacks = stacks;

  const patch: GraphIndexPatch = {
    base: lengths(pi), modules: moduleSplice, values: valueSplice, nodes: nodeSplice, edges: edgeSplice,
    inputs: names.inputs, outputs,
  };
  const init = pi.initializers.map(vmap);
  if (init.length !== names.initializers.length || init.some((x, k) => x !== names.initializers[k])) patch.initializers = names.initializers;
  if (JSON.stringify(pi.stacks ?? null) !== JSON.stringify(index.stacks ?? null)) patch.stacks = index.stacks ?? null;
  return { index, patch };
}

/**
 * Where the old array (length m) and the new one (length n) differ: the run between their longest
 * common prefix and suffix by key. When that run has as many new elements as old ones, none is removed:
 * all stay in place (and `splice` sends the changed ones whole).
 */
function bounds(m: number, n: number, sameKey: (i: number, j: number) => boolean): Bounds {
  const k = Math.min(m, n);
  let pre = 0;
  while (pre < k && sameKey(pre, pre)) pre++;
  let suf = 0;
  while (suf < k - pre && sameKey(m - 1 - suf, n - 1 - suf)) suf++;
  const remove = m - pre - suf;
  const insert = n - pre - suf;
  return remove === insert ? { at: pre, remove: 0, insert: 0 } : { at: pre, remove, insert };
}

/** A splice's extent: `remove` old elements at `at` give way to `insert` new ones. */
interface Bounds {
  at: number;
  remove: number;
  insert: number;
}

/**
 * The splice for bounds `b`: the inserted run built with `make`, and every kept element (old position
 * i, new position j) for which `same` (content equal after remapping) is false sent whole.
 */
function splice<T>(b: Bounds, m: number, n: number, same: (i: number, j: number) => boolean, make: (j: number) => T): Splice<T> {
  const insert: T[] = [];
  for (let j = b.at; j < b.at + b.insert; j++) insert.push(make(j));
  const set: [number, T][] = [];
  for (let i = 0; i < b.at; i++) if (!same(i, i)) set.push([i, make(i)]);
  for (let i = b.at + b.remove; i < m; i++) {
    const j = i - m + n;
    if (!same(i, j)) set.push([j, make(j)]);
  }
  return { at: b.at, remove: b.remove, insert, set };
}

function sameModule(x: IndexModule, y: IndexModule, modules: (i: number) => number): boolean {
  if (x.id !== y.id || x.name !== y.name || x.className !== y.className || modules(x.parent) !== y.parent || x.depth !== y.depth) return false;
  if (x.nodes !== y.nodes || x.ops !== y.ops || x.params !== y.params || x.paramBytes !== y.paramBytes || x.macs !== y.macs || x.flops !== y.flops || x.uncounted !== y.uncounted) return false;
  const xk = Object.keys(x.opCounts);
  const yk = Object.keys(y.opCounts);
  return xk.length === yk.length && xk.every((k, i) => k === yk[i] && x.opCounts[k] === y.opCounts[k]);
}

/**
 * Whether old entry `e` (built from node `o` of the previous snapshot), remapped, is the entry node `n`
 * gets now: same op, module, wiring, noise and cost, and attributes that are the same objects (an edit
 * replaces an attribute, never changes it) or read the same.
 */
function sameNode(e: IndexNode, n: Node, o: Node | undefined, a: ModelAnalysis, module: number, maps: IndexMaps, values: ReadonlyMap<string, number>): boolean {
  if (e.op !== n.opType || (e.domain ?? '') !== (n.domain || '') || maps.modules(e.module) !== module) return false;
  if (e.in.length !== n.inputs.length || e.out.length !== n.outputs.length) return false;
  for (let k = 0; k < e.in.length; k++) if (maps.values(e.in[k]) !== (n.inputs[k] ? values.get(n.inputs[k])! : -1)) return false;
  for (let k = 0; k < e.out.length; k++) if (maps.values(e.out[k]) !== values.get(n.outputs[k])!) return false;
  const noise = a.noise.get(n);
  if (e.noise !== noise) return false;
  if (!noise) {
    const c = a.cost.get(n);
    if (e.flops !== (c ? c.flops : null) || e.macs !== (c?.macs ? c.macs : undefined)) return false;
  }
  if (!n.attributes.length) return e.attrs === undefined;
  if (!e.attrs || e.attrs.length !== n.attributes.length) return false;
  if (o && o.attributes.length === n.attributes.length && o.attributes.every((x, k) => x === n.attributes[k])) return true;
  return JSON.stringify(n.attributes.map(indexAttribute)) === JSON.stringify(e.attrs);
}
