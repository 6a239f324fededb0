// Ops that select, join or extend along axes: Concat, Split, Slice, Gather, GatherElements,
// Expand, Tile, Pad, OneHot.
import { numElements } from '../../onnx/types';
import { attrInt, attrInts } from '../attrs';
import { broadcastShapes, foldBroadcast } from './elementwise';
import { axesOf, normAxis, type DimValue, type RuleTable } from './facts';
import { subtractDim, sumDims } from './symbolic';

export const INDEXING: RuleTable = new Map();

INDEXING.set('Concat', (c) => {
  const ins = c.in.filter((_, i) => c.node.inputs[i] !== '');
  const first = ins.find((x) => x?.shape);
  if (!first?.shape) return [{ elemType: ins[0]?.elemType }];
  const rank = first.shape.length;
  const axis = normAxis(attrInt(c.node, 'axis', 0), rank);
  const shape: DimValue[] = [];
  for (let i = 0; i < rank; i++) {
    if (i === axis) {
      shape.push(sumDims(ins.map((x) => x?.shape?.[i] ?? null)));
    } else {
      let d: DimValue = null;
      for (const x of ins) {
        const e = x?.shape?.[i] ?? null;
        if (typeof e === 'number') {
          d = e;
          break;
        }
        if (d === null) d = e;
      }
      shape.push(d);
    }
  }
  let value: DimValue[] | undefined;
  if (ins.every((x) => x?.value && x.shape && x.shape.every((d) => typeof d === 'number'))) {
    const outer = numElements(first.shape.slice(0, axis) as number[]);
    value = [];
    for (let o = 0; o < outer; o++) {
      for (const x of ins) {
        const block = numElements(x!.shape!.slice(axis) as number[]);
        value.push(...x!.value!.slice(o * block, (o + 1) * block));
      }
    }
  }
  return [{ shape, elemType: first.elemType, value }];
});

INDEXING.set('Split', (c) => {
  const x = c.in[0];
  const n = c.node.outputs.length;
  if (!x?.shape) return new Array(n).fill({ elemType: x?.elemType });
  const axis = normAxis(attrInt(c.node, 'axis', 0), x.shape.length);
  const dim = x.shape[axis];
  let sizes: DimValue[];
  const given = axesOf(c, 1, 'split');
  if (given === 'unknown') sizes = new Array(n).fill(null);
  else if (given) sizes = given;
  else if (typeof dim === 'number') {
    const each = Math.ceil(dim / n);
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(each, dim - i * each)));
  } else sizes = new Array(n).fill(null);
  return sizes.map((d) => ({ shape: x.shape!.map((e, i) => (i === axis ? d : e)), elemType: x.elemType }));
});

const INT64_MAX = 2 ** 63;

INDEXING.set('Slice', (c) => {
  const x = c.in[0];
  if (!x?.shape) return [{ elemType: x?.elemType }];
  const s = x.shape;
  let starts: DimValue[] | undefined, ends: DimValue[] | undefined, axes: DimValue[] | undefined, steps: DimValue[] | undefined;
  if (attrInts(c.node, 'starts')) {
    starts = attrInts(c.node, 'starts');
    ends = attrInts(c.node, 'ends');
    axes = attrInts(c.node, 'axes');
  } else {
    starts = c.in[1]?.value;
    ends = c.in[2]?.value;
    axes = c.node.inputs[3] ? c.in[3]?.value : undefined;
    steps = c.node.inputs[4] ? c.in[4]?.value : undefined;
    if ((c.node.inputs[3] && !axes) || (c.node.inputs[4] && !steps)) return [{ shape: s.map(() => null), elemType: x.elemType }];
  }
  if (!starts || !ends) return [{ shape: s.map(() => null), elemType: x.elemType }];
  const out = [...s];
  const unknownAxes = new Set<number>();
  starts.forEach((st, k) => {
    const axisV = axes ? axes[k] : k;
    if (typeof axisV !== 'number') return;
    const axis = normAxis(axisV, s.length);
    const en = ends![k];
    const step = steps ? steps[k] : 1;
    const dim = s[axis];
    if (step === 1 && (typeof st === 'string' || typeof en === 'string' || typeof dim === 'string')) {
      // symbolic bounds: [part:] of a sum, or [:part] of it (text tokens sliced off a joint sequence)
      const toEnd = typeof en === 'number' && en >= INT64_MAX / 2;
      if (toEnd && (typeof st === 'string' || (typeof st === 'number' && st >= 0))) out[axis] = subtractDim(dim, st);
      else if (st === 0 && typeof en === 'string') out[axis] = subtractDim(dim, en) === null ? null : en;
      else out[axis] = null;
      if (out[axis] === null) unknownAxes.add(axis);
      return;
    }
    if (typeof st !== 'number' || typeof en !== 'number' || typeof step !== 'number' || step === 0) {
      out[axis] = null;
      unknownAxes.add(axis);
      return;
    }
    if (typeof dim !== 'number') {
      // any other slice of a symbolic dim has an unknown length
      out[axis] = null;
      return;
    }
    out[axis] = sliceLength(dim, st, en, step);
  });
  let value: DimValue[] | undefined;
  if (x.value && s.length === 1 && typeof out[0] === 'number' && typeof s[0] === 'number' && !unknownAxes.size) {
    const st = starts[0] as number;
    const en = ends[0] as number;
    const step = (steps ? steps[0] : 1) as number;
    const [b] = sliceBounds(s[0], st, en, step);
    value = Array.from({ length: out[0] as number }, (_, i) => x.value![b + i * step]);
  }
  return [{ shape: out, elemType: x.elemType, value }];
});

function sliceBounds(dim: number, start: number, end: number, step: number): [number, number] {
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  return [s, e];
}

function sliceLength(dim: number, start: number, end: number, step: number): number {
  const [s, e] = sliceBounds(dim, start, end, step);
  return Math.max(0, Math.ceil((e - s) / step));
}

INDEXING.set('Gather', (c) => {
  const [data, idx] = c.in;
  if (!data?.shape || !idx?.shape) return [{ elemType: data?.elemType }];
  const axis = normAxis(attrInt(c.node, 'axis', 0), data.shape.length);
  const shape = [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)];
  let value: DimValue[] | undefined;
  const dims = data.shape;
  if (data.value && idx.value && dims.every((d) => typeof d === 'number') && idx.value.every((v) => typeof v === 'number')) {
    const nd = dims as number[];
    const outer = numElements(nd.slice(0, axis));
    const inner = numElements(nd.slice(axis + 1));
    const n = nd[axis];
    value = [];
    for (let o = 0; o < outer; o++) {
      for (const i of idx.value as number[]) {
        const k = i < 0 ? i + n : i;
        value.push(...data.value.slice((o * n + k) * inner, (o * n + k + 1) * inner));
      }
    }
  }
  return [{ shape, elemType: data.elemType, value }];
});

INDEXING.set('GatherElements', (c) => [{ shape: c.in[1]?.shape, elemType: c.in[0]?.elemType }]);

INDEXING.set('Expand', (c) => {
  const x = c.in[0];
  const target = c.in[1]?.value;
  if (!target) {
    const n = c.in[1]?.shape?.[0];
    return [{ shape: typeof n === 'number' && x?.shape ? new Array(Math.max(n, x.shape.length)).fill(null) : undefined, elemType: x?.elemType }];
  }
  const shape = broadcastShapes([x?.shape, target]);
  let value: DimValue[] | undefined;
  if (shape && x?.value && x.shape) value = foldBroadcast([x], shape, (a) => a);
  return [{ shape, elemType: x?.elemType, value }];
});

INDEXING.set('Tile', (c) => {
  const x = c.in[0];
  const reps = c.in[1]?.value;
  if (!x?.shape || !reps) return [{ shape: x?.shape?.map(() => null), elemType: x?.elemType }];
  return [{ shape: x.shape.map((d, i) => (reps[i] === 1 ? d : typeof d === 'number' && typeof reps[i] === 'number' ? d * (reps[i] as number) : null)), elemType: x.elemType }];
});

INDEXING.set('Pad', (c) => {
  const x = c.in[0];
  if (!x?.shape) return [{ elemType: x?.elemType }];
  const r = x.shape.length;
  const pads = attrInts(c.node, 'pads') ?? c.in[1]?.value;
  if (!pads) return [{ shape: x.shape.map(() => null), elemType: x.elemType }];
  let axes: number[] = x.shape.map((_, i) => i);
  if (c.node.inputs[3]) {
    const a = c.in[3]?.value;
    if (!a || a.some((v) => typeof v !== 'number')) return [{ shape: x.shape.map(() => null), elemType: x.elemType }];
    axes = (a as number[]).map((v) => normAxis(v, r));
  }
  const out = [...x.shape];
  axes.forEach((axis, k) => {
    const b = pads[k];
    const e = pads[k + axes.length];
    const d = out[axis];
    out[axis] = b === 0 && e === 0 ? d : typeof d === 'number' && typeof b === 'number' && typeof e === 'number' ? d + b + e : null;
  });
  return [{ shape: out, elemType: x.elemType }];
});

INDEXING.set('OneHot', (c) => {
  const idx = c.in[0]?.shape;
  const depth = c.in[1]?.value?.[0];
  if (!idx) return [{ elemType: c.in[2]?.elemType }];
  const out: DimValue[] = [...idx];
  const axis = attrInt(c.node, 'axis', -1);
  out.splice(axis < 0 ? axis + idx.length + 1 : axis, 0, typeof depth === 'number' ? depth : null);
  return [{ shape: out, elemType: c.in[2]?.elemType }];
});
