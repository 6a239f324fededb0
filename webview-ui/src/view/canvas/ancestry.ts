// Module nesting seen from a candidate id (a module's or an operator's).
import type { ViewGraph } from '../../model/graph';

/** The modules that strictly enclose a module or node id, innermost first; none for an unknown id. */
export function* enclosingModules(g: ViewGraph, id: string): Generator<string> {
  let p: string | null | undefined = g.modules.has(id) ? g.modules.get(id)!.parent : g.nodeIndex.has(id) ? g.nodes[g.nodeIndex.get(id)!].module : undefined;
  while (p) {
    yield p;
    p = g.modules.get(p)?.parent ?? null;
  }
}
