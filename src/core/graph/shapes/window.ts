// The sliding-window arithmetic shared by convolutions and pooling: strides, dilations, pads,
// auto_pad and ceil_mode turn an input extent and a kernel size into an output extent.
import { attrInt, attrInts, attrString } from '../attrs';
import type { DimValue, OpContext } from './facts';

export interface WindowAttrs {
  strides: number[];
  dilations: number[];
  /** begin pads of every spatial axis, then end pads */
  pads: number[];
  autoPad: string;
  ceil: boolean;
}

/** The window attributes of a node over `n` spatial axes, with ONNX's defaults. */
export function windowAttrs(c: OpContext, n: number): WindowAttrs {
  const pads = attrInts(c.node, 'pads') ?? new Array(2 * n).fill(0);
  return {
    strides: attrInts(c.node, 'strides') ?? new Array(n).fill(1),
    dilations: attrInts(c.node, 'dilations') ?? new Array(n).fill(1),
    pads,
    autoPad: attrString(c.node, 'auto_pad', 'NOTSET')!,
    ceil: attrInt(c.node, 'ceil_mode', 0) === 1,
  };
}

/**
 * Spatial output dims of a window op over `x` (N, C, spatial…); `kernel[i]` NaN or missing leaves
 * that dim unknown.
 */
export function windowDims(x: readonly DimValue[] | undefined, n: number, kernel: readonly number[] | undefined, a: WindowAttrs, ceil: boolean): DimValue[] {
  const out: DimValue[] = [];
  for (let i = 0; i < n; i++) out.push(windowOut(x?.[i + 2] ?? null, kernel?.[i], a.strides[i], a.dilations[i], a.pads[i], a.pads[i + n], a.autoPad, ceil));
  return out;
}

function windowOut(dim: DimValue, k: number | undefined, s: number, d: number, pb: number, pe: number, autoPad: string, ceil: boolean): DimValue {
  if (typeof dim !== 'number' || k === undefined || Number.isNaN(k)) return null;
  const ek = (k - 1) * d + 1;
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(dim / s);
  if (autoPad === 'VALID') return Math.floor((dim - ek) / s) + 1;
  const span = (dim + pb + pe - ek) / s;
  if (!ceil) return Math.floor(span) + 1;
  const out = Math.ceil(span) + 1;
  // the last window must start inside the input or its leading padding
  return (out - 1) * s >= dim + pb ? out - 1 : out;
}
