// "Open node" from the graph: a node's full definition as plain JSON (op, module, every input and
// output with shape and type, decoded attributes). Tensors show their header, never bytes. Made in
// the model worker from the document's analysis; the host only shows the text.
import { AttrType, elemTypeName, type Attribute, type TensorData } from '../onnx/types';
import type { ModelAnalysis } from './analyze';
import { formatShape } from './shapes';

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const tensorHeader = (t: TensorData) => ({ tensor: t.name, type: elemTypeName(t.elemType), dims: t.dims });

function attrValue(a: Attribute): unknown {
  switch (a.type) {
    case AttrType.FLOAT: return a.f;
    case AttrType.INT: return typeof a.i === 'bigint' ? a.i.toString() : a.i;
    case AttrType.STRING: return a.s ? text(a.s) : '';
    case AttrType.TENSOR: return a.t ? tensorHeader(a.t) : null;
    case AttrType.GRAPH: return a.g ? { graph: a.g.name, nodes: a.g.nodes.length } : null;
    case AttrType.FLOATS: return a.floats ?? [];
    case AttrType.INTS: return (a.ints ?? []).map((v) => (typeof v === 'bigint' ? v.toString() : v));
    case AttrType.STRINGS: return (a.strings ?? []).map(text);
    case AttrType.TENSORS: return (a.tensors ?? []).map(tensorHeader);
    case AttrType.GRAPHS: return (a.graphs ?? []).map((g) => ({ graph: g.name, nodes: g.nodes.length }));
    default: return a.refAttrName ? { ref: a.refAttrName } : `(${AttrType[a.type] ?? a.type})`;
  }
}

/** The definition of the node with graph-index id `nodeId`, or undefined when the model has none. */
export function nodeDefinition(a: ModelAnalysis, nodeId: string): Record<string, unknown> | undefined {
  const node = a.view.nodeById(nodeId);
  if (!node) return undefined;
  const value = (name: string) => {
    if (!name) return { name: '', omitted: true };
    const f = a.shapes.get(name);
    return { name, kind: a.view.kind(name), type: f?.elemType ? elemTypeName(f.elemType) : undefined, shape: formatShape(f?.shape) };
  };
  const cost = a.cost.get(node);
  return {
    id: nodeId,
    name: node.name,
    op: node.opType,
    ...(node.domain ? { domain: node.domain } : {}),
    module: a.tree.moduleOf.get(node)?.id ?? '',
    ...(a.noise.has(node) ? { exporterNoise: a.noise.get(node) } : { flops: cost?.flops ?? null, macs: cost?.macs ?? null }),
    inputs: node.inputs.map(value),
    outputs: node.outputs.map(value),
    attributes: Object.fromEntries(node.attributes.map((x) => [x.name, attrValue(x)])),
    ...(node.docString ? { docString: node.docString } : {}),
  };
}
