// Element-wise ops: unary ops that keep their input's shape, casts, and numpy-broadcasting
// arithmetic and comparisons, folded on small integer tensors (shape arithmetic).
import { ElemType, numElements } from '../../onnx/types';
import { attrInt } from '../attrs';
import { MAX_FOLD_ELEMENTS } from '../tensor-values';
import { INT_TYPES, type DimValue, type OpContext, type RuleTable, type ValueFacts } from './facts';

const UNARY_SAME = [
  'Identity', 'Relu', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Neg', 'Abs', 'Erf', 'Reciprocal',
  'Floor', 'Ceil', 'Round', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh',
  'Acosh', 'Atanh', 'Softplus', 'Softsign', 'LeakyRelu', 'Elu', 'Selu', 'Celu', 'HardSigmoid',
  'HardSwish', 'Gelu', 'FastGelu', 'QuickGelu', 'BiasGelu', 'Mish', 'ThresholdedRelu', 'Shrink', 'Clip', 'Sign',
  'Softmax', 'LogSoftmax', 'Hardmax', 'InstanceNormalization', 'GroupNormalization',
  'LpNormalization', 'LRN', 'MeanVarianceNormalization', 'CumSum', 'Trilu', 'ReverseSequence',
  'EyeLike', 'RandomNormalLike', 'RandomUniformLike', 'Bernoulli', 'Not', 'BitwiseNot',
  'ScatterND', 'ScatterElements', 'Scatter', 'RMSNormalization', 'SimplifiedLayerNormalization',
];
const BOOL_UNARY = ['IsNaN', 'IsInf'];
const BROADCAST = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'PRelu', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'Max', 'Min', 'Sum', 'Mean'];
const COMPARE = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'];

export const ELEMENTWISE: RuleTable = new Map();
for (const op of UNARY_SAME) ELEMENTWISE.set(op, unarySame);
for (const op of BOOL_UNARY) ELEMENTWISE.set(op, (c) => [{ shape: c.in[0]?.shape, elemType: ElemType.BOOL }]);
for (const op of BROADCAST) ELEMENTWISE.set(op, broadcastOp);
for (const op of COMPARE) ELEMENTWISE.set(op, (c) => [{ ...broadcastOp(c)[0], elemType: ElemType.BOOL }]);

function unarySame(c: OpContext): ValueFacts[] {
  const x = c.in[0];
  const op = c.node.opType;
  let value: DimValue[] | undefined;
  if (x?.value) {
    if (op === 'Identity') value = x.value;
    else if (op === 'Neg') value = x.value.map((v) => (typeof v === 'number' ? -v : null));
    else if (op === 'Abs') value = x.value.map((v) => (typeof v === 'number' ? Math.abs(v) : v));
    else if (op === 'Sqrt') value = x.value.map((v) => (typeof v === 'number' ? Math.sqrt(v) : null));
    else if (op === 'Floor') value = x.value.map((v) => (typeof v === 'number' ? Math.floor(v) : v));
    else if (op === 'Ceil') value = x.value.map((v) => (typeof v === 'number' ? Math.ceil(v) : v));
    else if (op === 'Reciprocal') value = x.value.map((v) => (typeof v === 'number' ? 1 / v : null));
  }
  return [{ shape: x?.shape, elemType: x?.elemType, value }];
}

ELEMENTWISE.set('Dropout', (c) => [
  { shape: c.in[0]?.shape, elemType: c.in[0]?.elemType, value: c.in[0]?.value },
  { shape: c.in[0]?.shape, elemType: ElemType.BOOL },
]);

ELEMENTWISE.set('Cast', (c) => {
  const to = attrInt(c.node, 'to');
  const x = c.in[0];
  const isInt = to !== undefined && INT_TYPES.has(to);
  const value = x?.value?.map((v) => (typeof v === 'number' && isInt ? Math.trunc(v) : v));
  return [{ shape: x?.shape, elemType: to, value }];
});
ELEMENTWISE.set('CastLike', (c) => [{ shape: c.in[0]?.shape, elemType: c.in[1]?.elemType, value: c.in[0]?.value }]);

// --- broadcasting and folding of element-wise arithmetic

function broadcastDims(a: DimValue, b: DimValue): DimValue {
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === b) return a;
  if (typeof a === 'number' && typeof b === 'number') return null; // would be a model error
  if (typeof a === 'number') return a; // a symbol or unknown broadcast against n > 1 must be n
  if (typeof b === 'number') return b;
  return null;
}

export function broadcastShapes(shapes: (readonly DimValue[] | undefined)[]): DimValue[] | undefined {
  if (shapes.some((s) => !s)) return undefined;
  const rank = Math.max(0, ...shapes.map((s) => s!.length));
  const out: DimValue[] = [];
  for (let i = 0; i < rank; i++) {
    let d: DimValue = 1;
    for (const s of shapes) {
      const k = s!.length - rank + i;
      if (k >= 0) d = broadcastDims(d, s![k]);
    }
    out.push(d);
  }
  return out;
}

type Fold = (a: DimValue, b: DimValue) => DimValue;

function numeric(f: (a: number, b: number) => number): Fold {
  return (a, b) => (typeof a === 'number' && typeof b === 'number' ? f(a, b) : null);
}

function foldFor(op: string, isInt: boolean): Fold | undefined {
  switch (op) {
    case 'Add': case 'Sum': return (a, b) => (b === 0 ? a : a === 0 ? b : numeric((x, y) => x + y)(a, b));
    case 'Sub': return (a, b) => (b === 0 ? a : a !== null && a === b ? 0 : numeric((x, y) => x - y)(a, b));
    case 'Mul': return (a, b) => (b === 1 ? a : a === 1 ? b : a === 0 || b === 0 ? 0 : numeric((x, y) => x * y)(a, b));
    case 'Div': return (a, b) => (b === 1 ? a : a !== null && a === b ? 1 : numeric(isInt ? (x, y) => Math.trunc(x / y) : (x, y) => x / y)(a, b));
    case 'Pow': return numeric((x, y) => x ** y);
    case 'Mod': return numeric((x, y) => x % y);
    case 'Max': return (a, b) => (a !== null && a === b ? a : numeric(Math.max)(a, b));
    case 'Min': return (a, b) => (a !== null && a === b ? a : numeric(Math.min)(a, b));
    case 'Equal': return (a, b) => (a !== null && a === b ? 1 : numeric((x, y) => Number(x === y))(a, b));
    case 'Less': return numeric((x, y) => Number(x < y));
    case 'Greater': return numeric((x, y) => Number(x > y));
    case 'LessOrEqual': return numeric((x, y) => Number(x <= y));
    case 'GreaterOrEqual': return numeric((x, y) => Number(x >= y));
    case 'And': return numeric((x, y) => Number(!!x && !!y));
    case 'Or': return numeric((x, y) => Number(!!x || !!y));
    case 'Xor': return numeric((x, y) => Number(!!x !== !!y));
    default: return undefined;
  }
}

/** Element-wise fold of small tensors with numpy broadcasting (numeric shapes only). */
export function foldBroadcast(inputs: ValueFacts[], out: readonly DimValue[], f: Fold): DimValue[] | undefined {
  const outDims = out as number[];
  if (out.some((d) => typeof d !== 'number')) return undefined;
  const size = numElements(outDims);
  if (size > MAX_FOLD_ELEMENTS) return undefined;
  const views = inputs.map((x) => {
    const dims = x.shape as number[];
    const pad = outDims.length - dims.length;
    const strides: number[] = new Array(outDims.length).fill(0);
    let s = 1;
    for (let i = dims.length - 1; i >= 0; i--) {
      strides[i + pad] = dims[i] === 1 ? 0 : s;
      s *= dims[i];
    }
    return { v: x.value!, strides };
  });
  const result: DimValue[] = [];
  const idx = new Array(outDims.length).fill(0);
  for (let k = 0; k < size; k++) {
    let acc: DimValue | undefined;
    for (const { v, strides } of views) {
      let off = 0;
      for (let i = 0; i < idx.length; i++) off += idx[i] * strides[i];
      acc = acc === undefined ? v[off] : f(acc, v[off]);
    }
    result.push(acc ?? null);
    for (let i = idx.length - 1; i >= 0; i--) {
      if (++idx[i] < outDims[i]) break;
      idx[i] = 0;
    }
  }
  return result;
}

function broadcastOp(c: OpContext): ValueFacts[] {
  const ins = c.in.filter((_, i) => c.node.inputs[i] !== '');
  const shape = broadcastShapes(ins.map((x) => x?.shape));
  const elemType = ins[0]?.elemType;
  let value: DimValue[] | undefined;
  const f = foldFor(c.node.opType, elemType !== undefined && INT_TYPES.has(elemType));
  if (f && shape && ins.every((x) => x?.value && x.shape)) value = foldBroadcast(ins as ValueFacts[], shape, f);
  return [{ shape, elemType, value }];
}

ELEMENTWISE.set('Where', (c) => {
  const [cond, a, b] = c.in;
  const shape = broadcastShapes([cond?.shape, a?.shape, b?.shape]);
  let value: DimValue[] | undefined;
  if (shape && cond?.value && a?.value && b?.value && cond.shape && a.shape && b.shape) value = selectFold(cond, a, b, shape);
  return [{ shape, elemType: a?.elemType ?? b?.elemType, value }];
});

function selectFold(cond: ValueFacts, a: ValueFacts, b: ValueFacts, shape: readonly DimValue[]): DimValue[] | undefined {
  const pick = (which: number) => foldBroadcast([cond, which === 0 ? a : b], shape, (cv, v) => (cv === null ? null : v));
  const cs = foldBroadcast([cond], shape, (x) => x);
  const av = pick(0);
  const bv = pick(1);
  if (!cs || !av || !bv) return undefined;
  return cs.map((cv, i) => (cv === null ? null : cv ? av[i] : bv[i]));
}
