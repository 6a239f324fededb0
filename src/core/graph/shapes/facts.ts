// The vocabulary of the shape pass: what is known about a value (shape, element type, small
// folded contents), the context a per-operator rule sees, and the axis helpers rules share.
import { ElemType, type Node, type TensorData } from '../../onnx/types';
import { attrInts } from '../attrs';

/** A dimension: a size, a symbol (dim_param, e.g. 'batch'), or null when unknown. */
export type DimValue = number | string | null;

export interface ValueFacts {
  /** undefined: rank unknown */
  shape?: DimValue[];
  elemType?: number;
  /** the elements of a small folded tensor, row-major (symbols appear in shape tensors) */
  value?: DimValue[];
}

export interface ShapeOptions {
  /** concrete shapes for graph inputs; they replace the declared ones (validated by the caller) */
  inputShapes?: Readonly<Record<string, readonly DimValue[]>>;
  /** decoded values of small constant tensors (initializers and Constant node tensors) */
  tensorValues?: ReadonlyMap<TensorData, number[]>;
  /** merge shapes declared in value_info/graph outputs into inferred ones (default true) */
  useDeclared?: boolean;
  /** version of the default ONNX domain (decides e.g. Resize's input layout); default 17 */
  opset?: number;
  /**
   * the result of this pass on the model before an edit: a node whose op, attributes and input
   * facts are the same as then keeps its outputs without being inferred again, so after an edit
   * only the nodes downstream of it whose inputs really changed are re-inferred
   */
  previous?: ShapeMap;
}

export type ShapeMap = Map<string, ValueFacts>;

/** The element count when every dim is known. */
export function knownSize(shape: readonly DimValue[] | undefined): number | undefined {
  if (!shape) return undefined;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

export interface OpContext {
  node: Node;
  in: (ValueFacts | undefined)[];
  opset: number;
  tensorValue(t: TensorData): number[] | undefined;
}

/** Output facts of one node, by output position. */
export type Rule = (c: OpContext) => (ValueFacts | undefined)[];

/** Rules of one op family, by op type. */
export type RuleTable = Map<string, Rule>;

/** Element types whose arithmetic truncates (integer division). */
export const INT_TYPES = new Set<number>([ElemType.INT64, ElemType.INT32, ElemType.INT16, ElemType.INT8, ElemType.UINT64, ElemType.UINT32, ElemType.UINT16, ElemType.UINT8, ElemType.BOOL]);

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** axes from the attribute (older opsets) or from input `index` (newer). */
export function axesOf(c: OpContext, index: number, name = 'axes'): number[] | undefined | 'unknown' {
  const fromAttr = attrInts(c.node, name);
  if (fromAttr) return fromAttr;
  if (!c.node.inputs[index]) return undefined;
  const v = c.in[index]?.value;
  if (!v || v.some((x) => typeof x !== 'number')) return 'unknown';
  return v as number[];
}

/** prod(dims) where at most one symbol survives; null otherwise. */
export function productDims(dims: readonly DimValue[]): DimValue {
  let num = 1;
  const syms: DimValue[] = [];
  for (const d of dims) {
    if (typeof d === 'number') num *= d;
    else syms.push(d);
  }
  if (!syms.length) return num;
  return syms.length === 1 && num === 1 ? syms[0] : num === 0 ? 0 : null;
}
