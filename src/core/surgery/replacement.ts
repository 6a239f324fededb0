// The nodes that compute a candidate's replacement value and its runtime gate, written with the
// operators the model's own opset has (opsets 7 to 21), so a model is never silently moved to
// another opset. Where an operator changed form, the older form is used:
//   Slice       starts/ends/axes as attributes before opset 10, as inputs from 10
//   Pad         pads as an attribute before opset 11, as an input from 11
//   AveragePool ceil_mode from opset 10; before it, the same windows by padding the end, averaging
//               only the elements inside (count_include_pad=0, as ceil mode does)
//   up-sample   Upsample with a scales attribute (7, 8) or input (9); Resize from 10 (roi from 11)
//   gate        Where from opset 9; before it, target·¬g + replacement·g (exact for finite values:
//               x·1 + y·0 = x), which needs the value's element type to be a float type
import { UserError } from '../errors';
import { AttrType, ElemType, elemTypeName, type Attribute, type Node } from '../onnx/types';
import { floatTensor, int, int64Tensor, ints, scopePrefix, str, type GraphEditor } from './edit';
import type { Candidate, ReplacementStep } from './types';

/** The oldest opset the emitted operators are written for. */
export const MIN_OPSET = 7;

const GATE_BLEND_TYPES = new Set<number>([ElemType.FLOAT, ElemType.FLOAT16, ElemType.DOUBLE]);

function floats(name: string, v: number[]): Attribute {
  return { name, type: AttrType.FLOATS, floats: v };
}

function where(ed: GraphEditor): string {
  return ed.model.path || 'the model';
}

/** Refuses a model older than MIN_OPSET (onnxruntime runs none of them either). */
export function checkOpset(ed: GraphEditor, what: string): void {
  if (ed.opset < MIN_OPSET) {
    throw new UserError(`${where(ed)}: uses ONNX opset ${ed.opset}; ${what} needs opset ${MIN_OPSET} or later (onnxruntime runs no older model either)`, ed.model.path);
  }
}

function emitSlice(ed: GraphEditor, x: string, axis: number, size: number, base: string): string {
  if (ed.opset < 10) {
    return ed.node('Slice', [x], `${base}_Slice`, `${base}/Slice_output_0`, [ints('starts', [0]), ints('ends', [size]), ints('axes', [axis])]).outputs[0];
  }
  const starts = ed.initializer(int64Tensor(`${base}/slice_starts`, [0]));
  const ends = ed.initializer(int64Tensor(`${base}/slice_ends`, [size]));
  const axes = ed.initializer(int64Tensor(`${base}/slice_axes`, [axis]));
  return ed.node('Slice', [x, starts, ends, axes], `${base}_Slice`, `${base}/Slice_output_0`).outputs[0];
}

function emitPad(ed: GraphEditor, x: string, pads: number[], base: string): string {
  if (ed.opset < 11) return ed.node('Pad', [x], `${base}_Pad`, `${base}/Pad_output_0`, [str('mode', 'constant'), ints('pads', pads)]).outputs[0];
  const padsName = ed.initializer(int64Tensor(`${base}/pads`, pads));
  return ed.node('Pad', [x, padsName], `${base}_Pad`, `${base}/Pad_output_0`, [str('mode', 'constant')]).outputs[0];
}

function emitAvgPool(ed: GraphEditor, c: Candidate, x: string, r: number, inShape: readonly (number | string | null)[], base: string): string {
  const attrs = [ints('kernel_shape', [r, r]), ints('strides', [r, r])];
  if (ed.opset >= 10) attrs.push(int('ceil_mode', 1));
  else {
    const [h, w] = [inShape[2], inShape[3]];
    if (typeof h !== 'number' || typeof w !== 'number') {
      throw new UserError(`${where(ed)}: uses opset ${ed.opset}; replacing '${c.id}' average-pools its input, which before opset 10 needs a known spatial size (got ${h}×${w}): give the input shapes`, ed.model.path);
    }
    const padH = (r - (h % r)) % r;
    const padW = (r - (w % r)) % r;
    if (padH || padW) attrs.push(ints('pads', [0, 0, padH, padW]), int('count_include_pad', 0));
  }
  return ed.node('AveragePool', [x], `${base}_AveragePool`, `${base}/AveragePool_output_0`, attrs).outputs[0];
}

function emitUpsample(ed: GraphEditor, x: string, f: number, base: string): string {
  const scales = [1, 1, f, f];
  if (ed.opset < 9) return ed.node('Upsample', [x], `${base}_Upsample`, `${base}/Upsample_output_0`, [str('mode', 'nearest'), floats('scales', scales)]).outputs[0];
  const scalesName = ed.initializer(floatTensor(`${base}/resize_scales`, scales));
  if (ed.opset === 9) return ed.node('Upsample', [x, scalesName], `${base}_Upsample`, `${base}/Upsample_output_0`, [str('mode', 'nearest')]).outputs[0];
  if (ed.opset === 10) return ed.node('Resize', [x, scalesName], `${base}_Resize`, `${base}/Resize_output_0`, [str('mode', 'nearest')]).outputs[0];
  const roi = ed.opset >= 13 ? '' : ed.initializer(floatTensor(`${base}/resize_roi`, [], [0]));
  return ed.node('Resize', [x, roi, scalesName], `${base}_Resize`, `${base}/Resize_output_0`, [
    str('mode', 'nearest'), str('coordinate_transformation_mode', 'asymmetric'), str('nearest_mode', 'floor'),
  ]).outputs[0];
}

/** Replacement emission with the shapes the candidate was planned with (pad amounts need the input size). */
export function emitCandidateReplacement(ed: GraphEditor, c: Candidate, regionNodes: readonly Node[], source: string): string {
  const plan = c.modification!;
  if (plan.steps.length) checkOpset(ed, `replacing '${c.id}' by ${plan.method}`);
  const scope = scopePrefix(regionNodes, c.id);
  const base = `${scope}/ld_surgeon`;
  const shape = [...(c.entryShape ?? [])];
  let cur = source;
  for (const step of plan.steps) {
    cur = emitStep(ed, c, step, cur, shape, base);
  }
  return cur;
}

/** Emits one step; `shape` (the current value's shape) is updated in place. */
function emitStep(ed: GraphEditor, c: Candidate, s: ReplacementStep, x: string, shape: (number | string | null)[], base: string): string {
  switch (s.op) {
    case 'slice':
      shape[s.axis] = s.size;
      return emitSlice(ed, x, s.axis, s.size, base);
    case 'pad': {
      const have = shape[s.axis];
      if (typeof have !== 'number' || !(s.size > have)) throw new Error(`${c.id}: cannot pad axis ${s.axis} from ${have} to ${s.size}`);
      const pads = new Array<number>(2 * shape.length).fill(0);
      pads[shape.length + s.axis] = s.size - have;
      shape[s.axis] = s.size;
      return emitPad(ed, x, pads, base);
    }
    case 'avgpool': {
      const out = emitAvgPool(ed, c, x, s.factor, shape, base);
      for (const i of [2, 3]) if (typeof shape[i] === 'number') shape[i] = Math.ceil((shape[i] as number) / s.factor);
      return out;
    }
    case 'upsample':
      for (const i of [2, 3]) if (typeof shape[i] === 'number') shape[i] = (shape[i] as number) * s.factor;
      return emitUpsample(ed, x, s.factor, base);
  }
}

/**
 * The value readers see in the gated model: the replacement when `gate` (a bool [1]) is on, the
 * target otherwise.
 */
export function emitGate(ed: GraphEditor, c: Candidate, gate: string, replacement: string, target: string, scope: string): string {
  checkOpset(ed, `scoring '${c.id}'`);
  const base = `${scope}/ld_surgeon_gate`;
  if (ed.opset >= 9) return ed.node('Where', [gate, replacement, target], `${base}_Where`, `${base}_output_0`).outputs[0];
  const t = c.exitElemType;
  if (t === undefined || !GATE_BLEND_TYPES.has(t)) {
    const what = t === undefined ? 'of unknown element type' : `of element type ${elemTypeName(t)}`;
    throw new UserError(`${where(ed)}: uses opset ${ed.opset}, which has no Where; '${c.id}' replaces a value ${what}, which cannot be switched without it`, ed.model.path);
  }
  const on = ed.node('Cast', [gate], `${base}_Cast_on`, `${base}/on`, [int('to', t)]).outputs[0];
  const notGate = ed.node('Not', [gate], `${base}_Not`, `${base}/not`).outputs[0];
  const off = ed.node('Cast', [notGate], `${base}_Cast_off`, `${base}/off`, [int('to', t)]).outputs[0];
  const kept = ed.node('Mul', [target, off], `${base}_Mul_kept`, `${base}/kept`).outputs[0];
  const replaced = ed.node('Mul', [replacement, on], `${base}_Mul_replaced`, `${base}/replaced`).outputs[0];
  return ed.node('Add', [kept, replaced], `${base}_Add`, `${base}_output_0`).outputs[0];
}
