// Matrix products: MatMul, MatMulInteger, Gemm, Einsum, the opset-23 Attention op, Det.
import { ElemType } from '../../onnx/types';
import { attrInt, attrString } from '../attrs';
import { broadcastShapes } from './elementwise';
import { type DimValue, type RuleTable } from './facts';

export const LINEAR: RuleTable = new Map();

LINEAR.set('MatMul', (c) => [{ shape: matmulShape(c.in[0]?.shape, c.in[1]?.shape), elemType: c.in[0]?.elemType }]);
LINEAR.set('MatMulInteger', (c) => [{ shape: matmulShape(c.in[0]?.shape, c.in[1]?.shape), elemType: ElemType.INT32 }]);

export function matmulShape(a: readonly DimValue[] | undefined, b: readonly DimValue[] | undefined): DimValue[] | undefined {
  if (!a || !b || !a.length || !b.length) return undefined;
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]);
  if (!batch) return undefined;
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]);
  if (b.length > 1) out.push(b2[b2.length - 1]);
  return out;
}

LINEAR.set('Gemm', (c) => {
  const a = c.in[0]?.shape;
  const b = c.in[1]?.shape;
  const ta = attrInt(c.node, 'transA', 0) === 1;
  const tb = attrInt(c.node, 'transB', 0) === 1;
  const m = a ? a[ta ? 1 : 0] ?? null : null;
  const n = b ? b[tb ? 0 : 1] ?? null : null;
  return [{ shape: [m, n], elemType: c.in[0]?.elemType }];
});

/** The opset-23 Attention op: Y has Q's layout with V's head size. */
LINEAR.set('Attention', (c) => {
  const q = c.in[0]?.shape;
  const v = c.in[2]?.shape;
  const elemType = c.in[0]?.elemType;
  if (!q) return [{ elemType }];
  if (q.length === 4) return [{ shape: [q[0], q[1], q[2], v?.[3] ?? null], elemType }];
  const hq = attrInt(c.node, 'q_num_heads');
  const hkv = attrInt(c.node, 'kv_num_heads');
  const vHidden = v?.[2];
  const hidden = typeof vHidden === 'number' && hq && hkv ? (vHidden / hkv) * hq : null;
  return [{ shape: [q[0], q[1], hidden], elemType }];
});
LINEAR.set('Det', (c) => [{ shape: c.in[0]?.shape?.slice(0, -2), elemType: c.in[0]?.elemType }]);

LINEAR.set('Einsum', (c) => {
  const eq = attrString(c.node, 'equation')?.replace(/\s+/g, '');
  const shape = eq ? einsumShape(eq, c.in.map((x) => x?.shape)) : undefined;
  return [{ shape, elemType: c.in[0]?.elemType }];
});

/** Output shape of an einsum without ellipsis; undefined otherwise. */
export function einsumShape(equation: string, shapes: (readonly DimValue[] | undefined)[]): DimValue[] | undefined {
  const letters = einsumLetters(equation, shapes);
  if (!letters) return undefined;
  return letters.output.map((l) => letters.sizes.get(l) ?? null);
}

export function einsumLetters(equation: string, shapes: (readonly DimValue[] | undefined)[]) {
  if (equation.includes('.')) return undefined;
  const [lhs, rhs] = equation.split('->');
  const terms = lhs.split(',');
  const sizes = new Map<string, DimValue>();
  const counts = new Map<string, number>();
  for (let t = 0; t < terms.length; t++) {
    const s = shapes[t];
    if (!s || s.length !== terms[t].length) return undefined;
    [...terms[t]].forEach((l, i) => {
      counts.set(l, (counts.get(l) ?? 0) + 1);
      const prev = sizes.get(l);
      if (typeof prev !== 'number') sizes.set(l, typeof s[i] === 'number' || prev === undefined ? s[i] : prev);
    });
  }
  const output = rhs !== undefined ? [...rhs] : [...counts.keys()].filter((l) => counts.get(l) === 1).sort();
  return { sizes, output };
}
