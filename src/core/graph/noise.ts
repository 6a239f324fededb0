// Flags exporter noise: nodes that do no work on the data flowing through the model.
// - 'constant': Constant nodes and anything computed from constants alone (an Identity or Cast
//   of a weight, a Transpose of an initializer): a runtime would fold them away.
// - 'shape': Shape/Size of a data tensor and everything computed from such shape values
//   (the Gather/Unsqueeze/Concat/Cast chains torch emits to build Reshape targets).
// Noise nodes stay in the graph (removing them breaks it) but are folded out of op counts and FLOPs.
import type { Node } from '../onnx/types';
import type { GraphView } from './graph-view';

export type NoiseKind = 'constant' | 'shape';

const SHAPE_SOURCES = new Set(['Shape', 'Size']);
/** ops without inputs that still produce fresh data at run time */
const DATA_SOURCES = new Set(['RandomNormal', 'RandomUniform']);

export function classifyNoise(view: GraphView): Map<Node, NoiseKind> {
  const noise = new Map<Node, NoiseKind>();
  // values whose contents depend on what is fed to the model
  const data = new Set<string>();
  const shapeDerived = new Set<string>();
  for (const v of view.dataInputs()) data.add(v.name);
  let order: readonly Node[];
  try {
    order = view.topoOrder();
  } catch {
    order = view.nodes;
  }
  const isData = (name: string) => {
    if (data.has(name)) return true;
    const kind = view.kind(name);
    return kind === 'input' || kind === 'outer' || kind === 'missing';
  };
  for (const node of order) {
    const inputs = view.allInputs(node);
    let kind: NoiseKind | undefined;
    if (node.opType === 'Constant' && node.domain === '') kind = 'constant';
    else if (SHAPE_SOURCES.has(node.opType) && node.domain === '') kind = 'shape';
    else if (!inputs.length) kind = DATA_SOURCES.has(node.opType) ? undefined : 'constant';
    else if (!inputs.some(isData)) kind = inputs.some((x) => shapeDerived.has(x)) ? 'shape' : 'constant';
    if (kind) {
      noise.set(node, kind);
      if (kind === 'shape') for (const o of node.outputs) if (o) shapeDerived.add(o);
    } else {
      for (const o of node.outputs) if (o) data.add(o);
    }
  }
  return noise;
}
