// Reductions over axes: the Reduce* family (folded on small shape tensors), ArgMax/ArgMin, TopK.
import { ElemType } from '../../onnx/types';
import { attrInt } from '../attrs';
import { axesOf, normAxis, productDims, type DimValue, type OpContext, type RuleTable, type ValueFacts } from './facts';

const REDUCE = ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

export const REDUCTIONS: RuleTable = new Map();
for (const op of REDUCE) REDUCTIONS.set(op, reduceOp);

function reduceOp(c: OpContext): ValueFacts[] {
  const x = c.in[0];
  if (!x?.shape) return [{ elemType: x?.elemType }];
  const keep = attrInt(c.node, 'keepdims', 1) === 1;
  const axes = axesOf(c, 1);
  if (axes === 'unknown') return [{ shape: keep ? x.shape.map(() => null) : undefined, elemType: x.elemType }];
  let set: Set<number>;
  if (!axes || !axes.length) {
    if (attrInt(c.node, 'noop_with_empty_axes', 0) === 1) return [{ shape: x.shape, elemType: x.elemType, value: x.value }];
    set = new Set(x.shape.map((_, i) => i));
  } else set = new Set(axes.map((a) => normAxis(a, x.shape!.length)));
  const shape = keep ? x.shape.map((d, i) => (set.has(i) ? 1 : d)) : x.shape.filter((_, i) => !set.has(i));
  let value: DimValue[] | undefined;
  if (x.value && x.shape.length <= 1 && set.size === x.shape.length) {
    const op = c.node.opType;
    const nums = x.value;
    if (nums.every((v) => typeof v === 'number')) {
      const v = nums as number[];
      if (op === 'ReduceProd') value = [v.reduce((p, q) => p * q, 1)];
      else if (op === 'ReduceSum') value = [v.reduce((p, q) => p + q, 0)];
      else if (op === 'ReduceMax' && v.length) value = [Math.max(...v)];
      else if (op === 'ReduceMin' && v.length) value = [Math.min(...v)];
    } else if (op === 'ReduceProd') value = [productDims(nums)];
  }
  return [{ shape, elemType: x.elemType, value }];
}

for (const op of ['ArgMax', 'ArgMin']) {
  REDUCTIONS.set(op, (c) => {
    const s = c.in[0]?.shape;
    if (!s) return [{ elemType: ElemType.INT64 }];
    const axis = normAxis(attrInt(c.node, 'axis', 0), s.length);
    const keep = attrInt(c.node, 'keepdims', 1) === 1;
    return [{ shape: keep ? s.map((d, i) => (i === axis ? 1 : d)) : s.filter((_, i) => i !== axis), elemType: ElemType.INT64 }];
  });
}

REDUCTIONS.set('TopK', (c) => {
  const s = c.in[0]?.shape;
  const k = attrInt(c.node, 'k') ?? c.in[1]?.value?.[0];
  if (!s) return [{ elemType: c.in[0]?.elemType }, { elemType: ElemType.INT64 }];
  const axis = normAxis(attrInt(c.node, 'axis', -1), s.length);
  const shape = s.map((d, i) => (i === axis ? (typeof k === 'number' ? k : null) : d));
  return [{ shape, elemType: c.in[0]?.elemType }, { shape, elemType: ElemType.INT64 }];
});
