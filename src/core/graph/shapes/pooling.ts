// Pooling: windowed (MaxPool, AveragePool, LpPool; MaxPool's second output holds indices) and
// global (every spatial dim becomes 1).
import { ElemType } from '../../onnx/types';
import { attrInts } from '../attrs';
import type { OpContext, RuleTable, ValueFacts } from './facts';
import { windowAttrs, windowDims } from './window';

export const POOLING: RuleTable = new Map();

function windowPool(c: OpContext): ValueFacts[] {
  const x = c.in[0]?.shape;
  const elemType = c.in[0]?.elemType;
  if (!x) return [{ elemType }];
  const n = x.length - 2;
  const a = windowAttrs(c, n);
  const out = [x[0], x[1], ...windowDims(x, n, attrInts(c.node, 'kernel_shape'), a, a.ceil)];
  return [{ shape: out, elemType }, { shape: out, elemType: ElemType.INT64 }];
}

function globalPool(c: OpContext): ValueFacts[] {
  const x = c.in[0]?.shape;
  return [{ shape: x?.map((d, i) => (i < 2 ? d : 1)), elemType: c.in[0]?.elemType }];
}

for (const op of ['MaxPool', 'AveragePool', 'LpPool']) POOLING.set(op, windowPool);
for (const op of ['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']) POOLING.set(op, globalPool);
