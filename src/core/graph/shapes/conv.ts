// Convolutions: Conv and ConvTranspose.
import { attrInt, attrInts } from '../attrs';
import type { DimValue, OpContext, RuleTable, ValueFacts } from './facts';
import { windowAttrs, windowDims, type WindowAttrs } from './window';

export const CONV: RuleTable = new Map();

interface ConvInputs {
  x: readonly DimValue[] | undefined;
  w: readonly DimValue[] | undefined;
  /** spatial rank */
  n: number;
  /** from kernel_shape or the weight's trailing dims (NaN where unknown) */
  kernel: number[] | undefined;
  a: WindowAttrs;
}

/** What Conv and ConvTranspose read alike; undefined when neither X nor W has a known rank. */
function convInputs(c: OpContext): ConvInputs | undefined {
  const x = c.in[0]?.shape;
  const w = c.in[1]?.shape;
  const rank = x?.length ?? w?.length;
  if (!rank) return undefined;
  const n = rank - 2;
  const kernel = attrInts(c.node, 'kernel_shape') ?? w?.slice(2).map((d) => (typeof d === 'number' ? d : NaN));
  return { x, w, n, kernel, a: windowAttrs(c, n) };
}

CONV.set('Conv', (c): ValueFacts[] => {
  const elemType = c.in[0]?.elemType;
  const conv = convInputs(c);
  if (!conv) return [{ elemType }];
  const { x, w, n, kernel, a } = conv;
  return [{ shape: [x?.[0] ?? null, w?.[0] ?? null, ...windowDims(x, n, kernel, a, false)], elemType }];
});

CONV.set('ConvTranspose', (c): ValueFacts[] => {
  const elemType = c.in[0]?.elemType;
  const conv = convInputs(c);
  if (!conv) return [{ elemType }];
  const { x, w, n, kernel, a } = conv;
  const group = attrInt(c.node, 'group', 1);
  const outPad = attrInts(c.node, 'output_padding') ?? new Array(n).fill(0);
  const outShape = attrInts(c.node, 'output_shape');
  const ch = typeof w?.[1] === 'number' ? (w[1] as number) * group : null;
  const out: DimValue[] = [x?.[0] ?? null, ch];
  for (let i = 0; i < n; i++) {
    const d = x?.[i + 2];
    if (outShape) out.push(outShape[outShape.length - n + i]);
    else if (typeof d !== 'number' || kernel === undefined || Number.isNaN(kernel[i])) out.push(null);
    else if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') out.push(d * a.strides[i]);
    else out.push(a.strides[i] * (d - 1) + outPad[i] + (kernel[i] - 1) * a.dilations[i] + 1 - a.pads[i] - a.pads[i + n]);
  }
  return [{ shape: out, elemType }];
});
