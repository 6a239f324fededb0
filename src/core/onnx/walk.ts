// Walking every tensor of a model: the writer places them, tests and tools compare or count them.
import type { Attribute, Graph, Model, SparseTensorData, TensorData } from './types';

/**
 * Calls fn for every tensor of the model: initializers, attribute tensors (Constant values...), sparse
 * tensor parts, in subgraphs and function bodies too. `dense` is false for the parts of a sparse
 * tensor, which stay inside the .onnx when weights go to external data (as with onnx's own helper).
 */
export function forEachTensor(m: Model, fn: (t: TensorData, dense: boolean) => void): void {
  const sparse = (s: SparseTensorData) => { fn(s.values, false); fn(s.indices, false); };
  const graph = (g: Graph) => {
    for (const t of g.initializers) fn(t, true);
    g.sparseInitializers.forEach(sparse);
    for (const n of g.nodes) nodeAttrs(n.attributes);
  };
  const nodeAttrs = (attrs: readonly Attribute[]) => {
    for (const a of attrs) {
      if (a.t) fn(a.t, true);
      a.tensors?.forEach((t) => fn(t, true));
      if (a.sparseTensor) sparse(a.sparseTensor);
      a.sparseTensors?.forEach(sparse);
      if (a.g) graph(a.g);
      a.graphs?.forEach(graph);
    }
  };
  graph(m.graph);
  for (const f of m.functions) {
    nodeAttrs(f.attributeProtos);
    for (const n of f.nodes) nodeAttrs(n.attributes);
  }
}
