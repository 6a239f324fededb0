// Ops that produce shape tensors and constants: Shape, Size, Constant, ConstantOfShape, Range.
// Their values are folded so that shape arithmetic downstream (Gather → Concat → Reshape) resolves.
import { ElemType } from '../../onnx/types';
import { attr, attrInt } from '../attrs';
import { MAX_FOLD_ELEMENTS } from '../tensor-values';
import { knownSize, type DimValue, type RuleTable } from './facts';

export const SHAPE_TENSORS: RuleTable = new Map();

SHAPE_TENSORS.set('Shape', (c) => {
  const s = c.in[0]?.shape;
  if (!s) return [{ shape: [null], elemType: ElemType.INT64 }];
  const r = s.length;
  const norm = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const start = norm(attrInt(c.node, 'start', 0));
  const end = norm(attrInt(c.node, 'end', r));
  const value = s.slice(start, Math.max(start, end));
  return [{ shape: [value.length], elemType: ElemType.INT64, value }];
});

SHAPE_TENSORS.set('Size', (c) => {
  const s = c.in[0]?.shape;
  const n = knownSize(s);
  return [{ shape: [], elemType: ElemType.INT64, value: n !== undefined ? [n] : s && s.length === 1 ? [s[0]] : undefined }];
});

SHAPE_TENSORS.set('Constant', (c) => {
  const n = c.node;
  for (const a of n.attributes) {
    switch (a.name) {
      case 'value':
        if (a.t) {
          const v = c.tensorValue(a.t);
          return [{ shape: [...a.t.dims], elemType: a.t.elemType, value: v && [...v] }];
        }
        break;
      case 'sparse_value':
        if (a.sparseTensor) return [{ shape: [...a.sparseTensor.dims], elemType: a.sparseTensor.values.elemType }];
        break;
      case 'value_float': return [{ shape: [], elemType: ElemType.FLOAT, value: [a.f ?? 0] }];
      case 'value_floats': return [{ shape: [a.floats?.length ?? 0], elemType: ElemType.FLOAT, value: [...(a.floats ?? [])] }];
      case 'value_int': return [{ shape: [], elemType: ElemType.INT64, value: [Number(a.i ?? 0)] }];
      case 'value_ints': return [{ shape: [a.ints?.length ?? 0], elemType: ElemType.INT64, value: (a.ints ?? []).map(Number) }];
      case 'value_string': return [{ shape: [], elemType: ElemType.STRING }];
      case 'value_strings': return [{ shape: [a.strings?.length ?? 0], elemType: ElemType.STRING }];
    }
  }
  return [];
});

SHAPE_TENSORS.set('ConstantOfShape', (c) => {
  const dims = c.in[0]?.value;
  const t = attr(c.node, 'value')?.t;
  const elemType = t?.elemType ?? ElemType.FLOAT;
  if (!dims) return [{ shape: c.in[0]?.shape && typeof c.in[0].shape[0] === 'number' ? new Array(c.in[0].shape[0]).fill(null) : undefined, elemType }];
  const shape = dims.map((d) => (typeof d === 'number' || typeof d === 'string' ? d : null));
  const size = knownSize(shape);
  let value: DimValue[] | undefined;
  if (size !== undefined && size <= MAX_FOLD_ELEMENTS) {
    const fill = t ? c.tensorValue(t)?.[0] : 0;
    if (fill !== undefined) value = new Array(size).fill(fill);
  }
  return [{ shape, elemType, value }];
});

SHAPE_TENSORS.set('Range', (c) => {
  const [s, l, d] = c.in.map((x) => x?.value?.[0]);
  const elemType = c.in[0]?.elemType;
  if (typeof s !== 'number' || typeof l !== 'number' || typeof d !== 'number' || d === 0) return [{ shape: [null], elemType }];
  const n = Math.max(Math.ceil((l - s) / d), 0);
  const value = n <= MAX_FOLD_ELEMENTS ? Array.from({ length: n }, (_, i) => s + i * d) : undefined;
  return [{ shape: [n], elemType, value }];
});
