// Normalisations whose outputs are more than their input's shape: BatchNormalization (running
// statistics) and LayerNormalization (mean and inverse std). The others keep their input's shape
// and are listed with the element-wise ops.
import { ElemType } from '../../onnx/types';
import { attrInt } from '../attrs';
import { normAxis, type RuleTable } from './facts';

export const NORMALIZATION: RuleTable = new Map();

NORMALIZATION.set('BatchNormalization', (c) => {
  const x = c.in[0];
  const ch = x?.shape?.[1] ?? null;
  return [{ shape: x?.shape, elemType: x?.elemType }, ...[1, 2, 3, 4].map(() => ({ shape: [ch], elemType: x?.elemType }))];
});

NORMALIZATION.set('LayerNormalization', (c) => {
  const x = c.in[0];
  if (!x?.shape) return [{ elemType: x?.elemType }];
  const axis = normAxis(attrInt(c.node, 'axis', -1), x.shape.length);
  const stat = x.shape.map((d, i) => (i < axis ? d : 1));
  return [{ shape: x.shape, elemType: x.elemType }, { shape: stat, elemType: ElemType.FLOAT }, { shape: stat, elemType: ElemType.FLOAT }];
});
