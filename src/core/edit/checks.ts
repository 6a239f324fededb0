// The check every edit passes before it is applied: the edited model is analysed and compared with
// the model before it. An edit is refused when a node would read another element type than before
// (a bool swapped for a float), when a value whose shape was fully known no longer has a consistent
// one (the inputs of some node stopped fitting together), or when a graph output would change its
// shape or element type (the model's signature). The first node in graph order that breaks is named.
import type { DimValue, ModelAnalysis } from '../graph';
import { shapeDelta } from '../graph/shapes';
import { elemTypeName, type Node } from '../onnx/types';
import { fmt } from '../surgery/regions';
import { EditRefused } from './types';

const known = (s: readonly DimValue[] | undefined): s is DimValue[] => !!s && s.every((d) => d !== null);
const same = (p: readonly DimValue[], q: readonly DimValue[] | undefined) => !!q && p.length === q.length && p.every((d, i) => d === q[i]);

function label(a: ModelAnalysis, n: Node): string {
  const m = a.tree.moduleOf.get(n);
  return `node '${a.view.nodeId(n)}' (${n.opType}${m?.id ? ` in ${m.id}` : ''})`;
}

/**
 * The nodes that can break: when `after` was inferred incrementally from `before`, those whose rule ran
 * again and those writing a value whose facts changed. Every other node has the same op, inputs and
 * outputs as the node that made its first output before, and reads and writes the very same facts
 * (the same objects), so it passes. Undefined (check every node) otherwise.
 */
function mayBreak(before: ModelAnalysis, after: ModelAnalysis): ReadonlySet<Node> | undefined {
  const delta = shapeDelta(after.shapes);
  if (!delta || delta.previous !== before.shapes) return undefined;
  const nodes = new Set(delta.reinferred);
  for (const v of delta.changed) {
    const p = after.view.producer(v);
    if (p) nodes.add(p);
  }
  return nodes;
}

/** Throws EditRefused naming the first node the edit breaks; `what` names the edit in the message. */
export function checkEdited(before: ModelAnalysis, after: ModelAnalysis, what: string): void {
  const file = after.model.path || 'the model';
  const refuse = (msg: string, subject?: string): never => {
    throw new EditRefused(`${file}: ${what} refused: ${msg}`, after.model.path, subject);
  };
  // The same node before and after is found by the first value it makes (values are assigned once):
  // an unnamed node's id is its position ('#37:Cast'), which names another node once an edit
  // removes nodes before it (bypassing a block of an expanded ONNX function body showed it).
  // (the before view's producer map, rather than a new map of every node: values are assigned once)
  const made = (n: Node) => n.outputs.find(Boolean);
  const before1 = (o: string) => {
    const p = before.view.producer(o);
    return p && made(p) === o ? p : undefined;
  };

  let order: readonly Node[];
  try {
    order = after.view.topoOrder();
  } catch (e) {
    return refuse((e as Error).message);
  }
  const check = mayBreak(before, after);
  for (const n of order) {
    if (check && !check.has(n)) continue;
    const id = after.view.nodeId(n);
    const key = made(n);
    const old = key === undefined ? undefined : before1(key);
    if (old && old.opType === n.opType) {
      for (let i = 0; i < n.inputs.length && i < old.inputs.length; i++) {
        if (!n.inputs[i] || !old.inputs[i]) continue;
        const was = before.shapes.get(old.inputs[i])?.elemType;
        const now = after.shapes.get(n.inputs[i])?.elemType;
        if (was !== undefined && now !== undefined && was !== now) {
          refuse(`${label(after, n)} would read ${n.inputs[i]} (${elemTypeName(now)}) as input ${i}, where it reads ${elemTypeName(was)}`, id);
        }
      }
    }
    for (const o of n.outputs) {
      if (!o) continue;
      const was = before.shapes.get(o);
      const now = after.shapes.get(o);
      if (!was || !before.view.producer(o)) continue;
      if (known(was.shape) && !known(now?.shape)) {
        const ins = n.inputs.filter(Boolean).map((x) => `${x} ${fmt(after.shapes.get(x)?.shape)}`).join(', ');
        refuse(`${label(after, n)} no longer has a consistent output shape (${o} was ${fmt(was.shape)}, now ${fmt(now?.shape)}; its inputs: ${ins})`, id);
      }
      if (was.elemType !== undefined && now?.elemType !== undefined && was.elemType !== now.elemType) {
        refuse(`${label(after, n)} would make ${o} ${elemTypeName(now.elemType)} instead of ${elemTypeName(was.elemType)}`, id);
      }
    }
  }
  for (const out of after.model.graph.outputs) {
    if (!before.view.isGraphOutput(out.name)) continue;
    const was = before.shapes.get(out.name);
    const now = after.shapes.get(out.name);
    if (known(was?.shape) && !same(was.shape, now?.shape)) refuse(`the graph output ${out.name} would change shape from ${fmt(was.shape)} to ${fmt(now?.shape)}`, out.name);
    if (was?.elemType !== undefined && now?.elemType !== undefined && was.elemType !== now.elemType) {
      refuse(`the graph output ${out.name} would change from ${elemTypeName(was.elemType)} to ${elemTypeName(now.elemType)}`, out.name);
    }
  }
}
