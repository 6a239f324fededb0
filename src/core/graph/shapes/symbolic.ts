// Sums of symbolic dims, e.g. 'text_tokens+image_tokens': what a joint-attention transformer (SD3's MMDiT,
// FLUX) needs to keep its token counts through "concatenate text and image tokens, attend, slice them apart".
// A sum is its terms joined by '+', numbers folded into one trailing constant; nothing else is modelled
// (a product of two symbols stays unknown), so every result is exact or null.
import type { DimValue } from './facts';

function terms(d: string | number): { syms: string[]; num: number } {
  if (typeof d === 'number') return { syms: [], num: d };
  const syms: string[] = [];
  let num = 0;
  for (const t of d.split('+')) {
    if (/^\d+$/.test(t)) num += Number(t);
    else syms.push(t);
  }
  return { syms, num };
}

function join(syms: string[], num: number): DimValue {
  if (!syms.length) return num;
  return num ? `${syms.join('+')}+${num}` : syms.join('+');
}

/** d1 + d2 + …; null when any is unknown. */
export function sumDims(dims: readonly DimValue[]): DimValue {
  const syms: string[] = [];
  let num = 0;
  for (const d of dims) {
    if (d === null) return null;
    const t = terms(d);
    syms.push(...t.syms);
    num += t.num;
  }
  return join(syms, num);
}

/** total − part when every symbol of part is a term of total (and the constant does not go negative); else null. */
export function subtractDim(total: DimValue, part: DimValue): DimValue {
  if (total === null || part === null) return null;
  const t = terms(total);
  const p = terms(part);
  const left = [...t.syms];
  for (const s of p.syms) {
    const i = left.indexOf(s);
    if (i < 0) return null;
    left.splice(i, 1);
  }
  if (t.num < p.num) return null;
  return join(left, t.num - p.num);
}
