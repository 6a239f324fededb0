// Parameters: the constant tensors the model computes with. An initializer (or a large Constant
// node tensor) is a parameter when some real (non-noise) node reads it as data, directly or
// through constant noise such as Identity or Cast. Tensors read only as shapes, axes, indices or
// scales (Reshape targets, Slice bounds, Resize scales...) are shape constants, not parameters.
import { elemBits, numElements, type Node, type TensorData } from '../onnx/types';
import type { GraphView } from './graph-view';
import type { NoiseKind } from './noise';
import { walkValues } from './traverse';

/** Constant node tensors count as parameters from this size up (smaller ones are exporter literals). */
export const LARGE_CONSTANT_ELEMENTS = 1024;

export interface ParamTensor {
  /** the value name (for a Constant node: its output) */
  name: string;
  source: 'initializer' | 'sparse-initializer' | 'constant-node';
  elemType: number;
  dims: number[];
  elements: number;
  bytes: number;
  /** the non-noise nodes computing with it */
  users: Node[];
}

/** Input positions that carry shapes, axes, indices or scales rather than data. */
const SHAPE_OPERANDS: Record<string, number[]> = {
  Reshape: [1], Expand: [1], Tile: [1], Slice: [1, 2, 3, 4], Pad: [1, 2, 3], Unsqueeze: [1], Squeeze: [1],
  Resize: [1, 2, 3], Upsample: [1], ConstantOfShape: [0], Range: [0, 1, 2], Split: [1], TopK: [1],
  OneHot: [1], CumSum: [1], Gather: [1], GatherElements: [1], GatherND: [1], ScatterND: [1],
  ScatterElements: [1], Scatter: [1], ReduceSum: [1], ReduceMean: [1], ReduceMax: [1], ReduceMin: [1],
  ReduceProd: [1], ReduceL1: [1], ReduceL2: [1], ReduceLogSum: [1], ReduceLogSumExp: [1],
  ReduceSumSquare: [1], Clip: [1, 2], Trilu: [1], Dropout: [1, 2],
};

function isShapeOperand(node: Node, index: number): boolean {
  return SHAPE_OPERANDS[node.opType]?.includes(index) ?? false;
}

export function findParams(view: GraphView, noise: ReadonlyMap<Node, NoiseKind>): ParamTensor[] {
  const users = (value: string): Node[] => {
    const out = new Set<Node>();
    walkValues([value], (v) => {
      const next: string[] = [];
      for (const c of view.consumers(v)) {
        const kind = noise.get(c);
        if (kind === 'constant') {
          for (const o of c.outputs) if (o) next.push(o);
        } else if (!kind) {
          const explicit = c.inputs.map((x, i) => (x === v ? i : -1)).filter((i) => i >= 0);
          // read as data at some position, or from a subgraph body
          if (!explicit.length || explicit.some((i) => !isShapeOperand(c, i))) out.add(c);
        }
      }
      return next;
    });
    return [...out];
  };
  const make = (name: string, source: ParamTensor['source'], t: { elemType: number; dims: number[] }, elements: number): ParamTensor | undefined => {
    const u = users(name);
    if (!u.length) return undefined;
    const bits = elemBits(t.elemType) ?? 0;
    return { name, source, elemType: t.elemType, dims: [...t.dims], elements, bytes: Math.ceil((elements * bits) / 8), users: u };
  };

  const params: ParamTensor[] = [];
  const g = view.graph;
  for (const t of g.initializers) {
    const p = make(t.name, 'initializer', t, numElements(t.dims));
    if (p) params.push(p);
  }
  for (const s of g.sparseInitializers) {
    const p = make(s.values.name, 'sparse-initializer', { elemType: s.values.elemType, dims: s.dims }, numElements(s.values.dims));
    if (p) params.push(p);
  }
  for (const n of g.nodes) {
    if (n.opType !== 'Constant' || !n.outputs[0]) continue;
    const t: TensorData | undefined = n.attributes.find((a) => a.name === 'value')?.t;
    if (!t || numElements(t.dims) < LARGE_CONSTANT_ELEMENTS) continue;
    const p = make(n.outputs[0], 'constant-node', t, numElements(t.dims));
    if (p) params.push(p);
  }
  return params;
}
