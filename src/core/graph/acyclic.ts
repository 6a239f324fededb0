// ONNX requires a graph's nodes to form a DAG (the spec: "the graph MUST be topologically sortable").
// A file with a cycle would load and then confuse every pass downstream, so analysis refuses it with
// the nodes of one cycle, named as the user can find them in the file.
import { UserError } from '../errors';
import type { Model, Node } from '../onnx/types';
import type { GraphView } from './graph-view';

/** How an error names a node: its name, or its op type and position in the file when it has none. */
export function describeNode(view: GraphView, node: Node): string {
  if (node.name) return `'${node.name}' (${node.opType})`;
  return `the unnamed ${node.opType} (node ${view.nodes.indexOf(node) + 1} of ${view.nodes.length})`;
}

/**
 * How an error names a value: its name, plus the node computing it when the name does not say
 * (converters name values '123' or 'onnx::Add_45' and leave nodes unnamed).
 */
export function describeValue(view: GraphView, value: string): string {
  const p = view.producer(value);
  if (!p || (p.name && value.includes(p.name))) return value;
  return `${value} (output of ${describeNode(view, p)})`;
}

/** One cycle of the data flow, as nodes in flow order; empty when there is none. */
export function findCycle(view: GraphView): Node[] {
  const state = new Map<Node, 1 | 2>(); // 1: on the current path, 2: finished
  const succs = (n: Node) => {
    const out: Node[] = [];
    for (const o of n.outputs) if (o) for (const c of view.consumers(o)) out.push(c);
    return out;
  };
  for (const start of view.nodes) {
    if (state.has(start)) continue;
    const path: Node[] = [start];
    const next: Node[][] = [succs(start)];
    state.set(start, 1);
    while (path.length) {
      const todo = next[next.length - 1];
      const c = todo.pop();
      if (!c) {
        state.set(path.pop()!, 2);
        next.pop();
        continue;
      }
      const s = state.get(c);
      if (s === 1) return path.slice(path.indexOf(c));
      if (s === 2) continue;
      state.set(c, 1);
      path.push(c);
      next.push(succs(c));
    }
  }
  return [];
}

/** Throws a UserError naming the file and one cycle when the graph is not a DAG. */
export function assertAcyclic(model: Model, view: GraphView): void {
  try {
    view.topoOrder();
    return;
  } catch {
    // the view's message names one node; find the whole cycle for the user
  }
  const cycle = findCycle(view);
  const shown = cycle.slice(0, 6).map((n) => describeNode(view, n));
  const loop = cycle.length > 6 ? `${shown.join(' → ')} → … (${cycle.length} nodes)` : [...shown, shown[0]].join(' → ');
  const file = model.path || 'the model';
  throw new UserError(`${file}: the graph has a cycle, so it is not a valid ONNX model (nodes must form a DAG): ${loop}`, model.path);
}
