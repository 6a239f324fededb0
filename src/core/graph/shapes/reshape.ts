// Ops that rearrange a tensor without changing its elements: Reshape, Flatten, Transpose,
// Unsqueeze, Squeeze, DepthToSpace, SpaceToDepth.
import { attrInt, attrInts } from '../attrs';
import { axesOf, normAxis, productDims, type DimValue, type RuleTable } from './facts';

export const RESHAPE: RuleTable = new Map();

RESHAPE.set('Reshape', (c) => {
  const x = c.in[0];
  const target = c.in[1]?.value;
  if (!target) {
    const n = c.in[1]?.shape?.[0];
    return [{ shape: typeof n === 'number' ? new Array(n).fill(null) : undefined, elemType: x?.elemType }];
  }
  const allowZero = attrInt(c.node, 'allowzero', 0) === 1;
  const shape: DimValue[] = target.map((d, i) => (d === 0 && !allowZero ? x?.shape?.[i] ?? null : d));
  const minus = shape.indexOf(-1);
  if (minus >= 0) {
    const others = shape.filter((_, i) => i !== minus);
    shape[minus] = x?.shape ? divideSymbolic(x.shape, others) : null;
  }
  return [{ shape, elemType: x?.elemType, value: x?.value }];
});

/** prod(total) / prod(part) with symbols cancelled; null when that is not a whole dim. */
function divideSymbolic(total: readonly DimValue[], part: readonly DimValue[]): DimValue {
  let num = 1;
  const syms: string[] = [];
  for (const d of total) {
    if (d === null) return null;
    if (typeof d === 'number') num *= d;
    else syms.push(d);
  }
  let den = 1;
  for (const d of part) {
    if (d === null) return null;
    if (typeof d === 'number') den *= d;
    else {
      const k = syms.indexOf(d);
      if (k < 0) return null;
      syms.splice(k, 1);
    }
  }
  if (den === 0 || num % den !== 0) return null;
  const q = num / den;
  if (!syms.length) return q;
  return syms.length === 1 && q === 1 ? syms[0] : null;
}

RESHAPE.set('Flatten', (c) => {
  const s = c.in[0]?.shape;
  if (!s) return [{ shape: [null, null], elemType: c.in[0]?.elemType }];
  const axis = normAxis(attrInt(c.node, 'axis', 1), s.length);
  return [{ shape: [productDims(s.slice(0, axis)), productDims(s.slice(axis))], elemType: c.in[0]?.elemType, value: c.in[0]?.value }];
});

RESHAPE.set('Transpose', (c) => {
  const x = c.in[0];
  const s = x?.shape;
  if (!s) return [{ elemType: x?.elemType }];
  const perm = attrInts(c.node, 'perm') ?? s.map((_, i) => s.length - 1 - i);
  let value: DimValue[] | undefined;
  if (x.value && s.length <= 1) value = x.value;
  return [{ shape: perm.map((p) => s[p] ?? null), elemType: x.elemType, value }];
});

RESHAPE.set('Unsqueeze', (c) => {
  const x = c.in[0];
  const axes = axesOf(c, 1);
  if (!x?.shape || !axes || axes === 'unknown') return [{ elemType: x?.elemType }];
  const rank = x.shape.length + axes.length;
  const norm = new Set(axes.map((a) => normAxis(a, rank)));
  const out: DimValue[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : x.shape[k++] ?? null);
  return [{ shape: out, elemType: x.elemType, value: x.value }];
});

RESHAPE.set('Squeeze', (c) => {
  const x = c.in[0];
  const axes = axesOf(c, 1);
  if (!x?.shape || axes === 'unknown') return [{ elemType: x?.elemType }];
  const s = x.shape;
  let out: DimValue[];
  if (!axes) {
    if (s.some((d) => typeof d !== 'number')) return [{ elemType: x.elemType }];
    out = s.filter((d) => d !== 1);
  } else {
    const norm = new Set(axes.map((a) => normAxis(a, s.length)));
    out = s.filter((_, i) => !norm.has(i));
  }
  return [{ shape: out, elemType: x.elemType, value: x.value }];
});

RESHAPE.set('DepthToSpace', (c) => {
  const s = c.in[0]?.shape;
  const b = attrInt(c.node, 'blocksize', 1);
  if (!s || s.length !== 4) return [{ elemType: c.in[0]?.elemType }];
  const [n, ch, h, w] = s;
  const m = (d: DimValue, k: number) => (typeof d === 'number' ? d * k : null);
  return [{ shape: [n, typeof ch === 'number' ? ch / (b * b) : null, m(h, b), m(w, b)], elemType: c.in[0]?.elemType }];
});

RESHAPE.set('SpaceToDepth', (c) => {
  const s = c.in[0]?.shape;
  const b = attrInt(c.node, 'blocksize', 1);
  if (!s || s.length !== 4) return [{ elemType: c.in[0]?.elemType }];
  const [n, ch, h, w] = s;
  const d = (v: DimValue) => (typeof v === 'number' ? Math.floor(v / b) : null);
  return [{ shape: [n, typeof ch === 'number' ? ch * b * b : null, d(h), d(w)], elemType: c.in[0]?.elemType }];
});
