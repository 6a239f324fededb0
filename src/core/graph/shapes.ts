// Static shape pass. Shapes come from the model where it declares them (graph inputs/outputs,
// value_info, initializer dims) and are inferred per operator otherwise, in topological order.
// Small integer tensors (shape arithmetic: Shape → Gather → Unsqueeze → Concat → Reshape) are
// folded on their values, keeping symbolic dims (e.g. 'batch') as symbols where they pass through
// unchanged. A dim is a number, a symbol, or null (unknown): nothing is ever guessed.
//
// Written here rather than taken from a library: no npm package does ONNX shape inference without
// native onnx bindings, and this pass must also keep symbols and fold shape constants.
import { ElemType, numElements, type Dim, type Node, type TensorData, type TypeInfo } from '../onnx/types';
import { attr, attrFloat, attrFloats, attrInt, attrInts, attrString } from './attrs';
import type { GraphView } from './graph-view';
import { MAX_FOLD_ELEMENTS } from './tensor-values';

/** A dimension: a size, a symbol (dim_param, e.g. 'batch'), or null when unknown. */
export type DimValue = number | string | null;

export interface ValueFacts {
  /** undefined: rank unknown */
  shape?: DimValue[];
  elemType?: number;
  /** the elements of a small folded tensor, row-major (symbols appear in shape tensors) */
  value?: DimValue[];
}

export interface ShapeOptions {
  /** concrete shapes for graph inputs; they replace the declared ones (validated by the caller) */
  inputShapes?: Readonly<Record<string, readonly DimValue[]>>;
  /** decoded values of small constant tensors (initializers and Constant node tensors) */
  tensorValues?: ReadonlyMap<TensorData, number[]>;
  /** merge shapes declared in value_info/graph outputs into inferred ones (default true) */
  useDeclared?: boolean;
  /** version of the default ONNX domain (decides e.g. Resize's input layout); default 17 */
  opset?: number;
}

export type ShapeMap = Map<string, ValueFacts>;

/** Shapes (and small folded values) of every value in the graph. */
export function inferShapes(view: GraphView, options: ShapeOptions = {}): ShapeMap {
  const g = view.graph;
  const facts: ShapeMap = new Map();
  const useDeclared = options.useDeclared !== false;
  const declared = new Map<string, ValueFacts>();
  if (useDeclared) {
    for (const v of [...g.valueInfo, ...g.outputs]) {
      const f = factsFromType(v.type);
      if (f) declared.set(v.name, f);
    }
  }
  const tensorValue = (t: TensorData) => options.tensorValues?.get(t);

  for (const t of g.initializers) {
    const value = tensorValue(t);
    facts.set(t.name, { shape: [...t.dims], elemType: t.elemType, value: value && [...value] });
  }
  for (const s of g.sparseInitializers) facts.set(s.values.name, { shape: [...s.dims], elemType: s.values.elemType });
  for (const v of g.inputs) {
    if (view.initializer(v.name)) continue; // a weight with a default: its initializer says it all
    const given = options.inputShapes?.[v.name];
    const f = factsFromType(v.type) ?? {};
    facts.set(v.name, given ? { ...f, shape: [...given] } : f);
  }

  let order: readonly Node[];
  try {
    order = view.topoOrder();
  } catch {
    order = view.nodes; // a cyclic graph still gets shapes for what precedes the cycle
  }
  const ctx: OpContext = { node: order[0], in: [], opset: options.opset ?? 17, tensorValue };
  for (const node of order) {
    ctx.node = node;
    ctx.in = node.inputs.map((x) => (x ? facts.get(x) : undefined));
    let out: (ValueFacts | undefined)[] = [];
    try {
      out = inferNode(ctx);
    } catch {
      out = []; // malformed attributes: leave this node's outputs unknown rather than fail the model
    }
    node.outputs.forEach((name, i) => {
      if (!name) return;
      const inferred = sanitize(out[i]);
      const dec = declared.get(name);
      facts.set(name, dec ? mergeFacts(inferred, dec) : inferred ?? {});
    });
  }
  return facts;
}

/** The facts a declared TypeProto gives (tensor types only). */
export function factsFromType(type: TypeInfo | undefined): ValueFacts | undefined {
  if (!type || (type.kind !== 'tensor' && type.kind !== 'sparse_tensor')) return undefined;
  return { elemType: type.elemType || undefined, shape: type.shape?.map(dimFromProto) };
}

function dimFromProto(d: Dim): DimValue {
  if (d.value !== undefined && d.value >= 0) return d.value;
  if (d.param) return d.param;
  return null;
}

/** Inferred dims win where they are numbers; declared numbers fill the gaps, then symbols. */
function mergeFacts(inferred: ValueFacts | undefined, declared: ValueFacts): ValueFacts {
  if (!inferred) return declared;
  const elemType = inferred.elemType ?? declared.elemType;
  let shape = inferred.shape;
  if (!shape) shape = declared.shape;
  else if (declared.shape && declared.shape.length === shape.length) {
    shape = shape.map((d, i) => {
      const e = declared.shape![i];
      if (typeof d === 'number') return d;
      if (typeof e === 'number') return e;
      return d ?? e;
    });
  }
  return { shape, elemType, value: inferred.value };
}

const badDim = (d: DimValue) => typeof d === 'number' && (!Number.isInteger(d) || d < 0);

/** Drops impossible dims (from a malformed model) and values that do not fit their shape. */
function sanitize(f: ValueFacts | undefined): ValueFacts | undefined {
  if (!f) return undefined;
  const shape = f.shape?.some(badDim) ? f.shape.map((d) => (badDim(d) ? null : d)) : f.shape;
  let value = f.value;
  if (value && shape && (shape.some((d) => typeof d !== 'number') || numElements(shape as number[]) !== value.length)) value = undefined;
  return { shape, elemType: f.elemType, value };
}

/** '[1,4,64,64]', '[batch,4,?,?]', or '?' when even the rank is unknown. */
export function formatShape(shape: readonly DimValue[] | undefined): string {
  if (!shape) return '?';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

/** The element count when every dim is known. */
export function knownSize(shape: readonly DimValue[] | undefined): number | undefined {
  if (!shape) return undefined;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// per-operator rules

interface OpContext {
  node: Node;
  in: (ValueFacts | undefined)[];
  opset: number;
  tensorValue(t: TensorData): number[] | undefined;
}

type Rule = (c: OpContext) => (ValueFacts | undefined)[];

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
const REDUCE = ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

const RULES = new Map<string, Rule>();
for (const op of UNARY_SAME) RULES.set(op, unarySame);
for (const op of BOOL_UNARY) RULES.set(op, (c) => [{ shape: c.in[0]?.shape, elemType: ElemType.BOOL }]);
for (const op of BROADCAST) RULES.set(op, broadcastOp);
for (const op of COMPARE) RULES.set(op, (c) => [{ ...broadcastOp(c)[0], elemType: ElemType.BOOL }]);
for (const op of REDUCE) RULES.set(op, reduceOp);

function inferNode(c: OpContext): (ValueFacts | undefined)[] {
  const domain = c.node.domain;
  if (domain !== '' && domain !== 'ai.onnx' && domain !== 'com.microsoft') return [];
  const rule = RULES.get(c.node.opType);
  return rule ? rule(c) : [];
}

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

RULES.set('Dropout', (c) => [
  { shape: c.in[0]?.shape, elemType: c.in[0]?.elemType, value: c.in[0]?.value },
  { shape: c.in[0]?.shape, elemType: ElemType.BOOL },
]);

RULES.set('Cast', (c) => {
  const to = attrInt(c.node, 'to');
  const x = c.in[0];
  const isInt = to !== undefined && INT_TYPES.has(to);
  const value = x?.value?.map((v) => (typeof v === 'number' && isInt ? Math.trunc(v) : v));
  return [{ shape: x?.shape, elemType: to, value }];
});
RULES.set('CastLike', (c) => [{ shape: c.in[0]?.shape, elemType: c.in[1]?.elemType, value: c.in[0]?.value }]);

const INT_TYPES = new Set<number>([ElemType.INT64, ElemType.INT32, ElemType.INT16, ElemType.INT8, ElemType.UINT64, ElemType.UINT32, ElemType.UINT16, ElemType.UINT8, ElemType.BOOL]);

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
function foldBroadcast(inputs: ValueFacts[], out: readonly DimValue[], f: Fold): DimValue[] | undefined {
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

RULES.set('Where', (c) => {
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

// --- shape-tensor producers

RULES.set('Shape', (c) => {
  const s = c.in[0]?.shape;
  if (!s) return [{ shape: [null], elemType: ElemType.INT64 }];
  const r = s.length;
  const norm = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const start = norm(attrInt(c.node, 'start', 0));
  const end = norm(attrInt(c.node, 'end', r));
  const value = s.slice(start, Math.max(start, end));
  return [{ shape: [value.length], elemType: ElemType.INT64, value }];
});

RULES.set('Size', (c) => {
  const s = c.in[0]?.shape;
  const n = knownSize(s);
  return [{ shape: [], elemType: ElemType.INT64, value: n !== undefined ? [n] : s && s.length === 1 ? [s[0]] : undefined }];
});

RULES.set('Constant', (c) => {
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

RULES.set('ConstantOfShape', (c) => {
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

RULES.set('Range', (c) => {
  const [s, l, d] = c.in.map((x) => x?.value?.[0]);
  const elemType = c.in[0]?.elemType;
  if (typeof s !== 'number' || typeof l !== 'number' || typeof d !== 'number' || d === 0) return [{ shape: [null], elemType }];
  const n = Math.max(Math.ceil((l - s) / d), 0);
  const value = n <= MAX_FOLD_ELEMENTS ? Array.from({ length: n }, (_, i) => s + i * d) : undefined;
  return [{ shape: [n], elemType, value }];
});

// --- layout ops

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** axes from the attribute (older opsets) or from input `index` (newer). */
function axesOf(c: OpContext, index: number, name = 'axes'): number[] | undefined | 'unknown' {
  const fromAttr = attrInts(c.node, name);
  if (fromAttr) return fromAttr;
  if (!c.node.inputs[index]) return undefined;
  const v = c.in[index]?.value;
  if (!v || v.some((x) => typeof x !== 'number')) return 'unknown';
  return v as number[];
}

RULES.set('Reshape', (c) => {
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

function productDims(dims: readonly DimValue[]): DimValue {
  let num = 1;
  const syms: DimValue[] = [];
  for (const d of dims) {
    if (typeof d === 'number') num *= d;
    else syms.push(d);
  }
  if (!syms.length) return num;
  return syms.length === 1 && num === 1 ? syms[0] : num === 0 ? 0 : null;
}

RULES.set('Flatten', (c) => {
  const s = c.in[0]?.shape;
  if (!s) return [{ shape: [null, null], elemType: c.in[0]?.elemType }];
  const axis = normAxis(attrInt(c.node, 'axis', 1), s.length);
  return [{ shape: [productDims(s.slice(0, axis)), productDims(s.slice(axis))], elemType: c.in[0]?.elemType, value: c.in[0]?.value }];
});

RULES.set('Transpose', (c) => {
  const x = c.in[0];
  const s = x?.shape;
  if (!s) return [{ elemType: x?.elemType }];
  const perm = attrInts(c.node, 'perm') ?? s.map((_, i) => s.length - 1 - i);
  let value: DimValue[] | undefined;
  if (x.value && s.length <= 1) value = x.value;
  return [{ shape: perm.map((p) => s[p] ?? null), elemType: x.elemType, value }];
});

RULES.set('Unsqueeze', (c) => {
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

RULES.set('Squeeze', (c) => {
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

RULES.set('Concat', (c) => {
  const ins = c.in.filter((_, i) => c.node.inputs[i] !== '');
  const first = ins.find((x) => x?.shape);
  if (!first?.shape) return [{ elemType: ins[0]?.elemType }];
  const rank = first.shape.length;
  const axis = normAxis(attrInt(c.node, 'axis', 0), rank);
  const shape: DimValue[] = [];
  for (let i = 0; i < rank; i++) {
    if (i === axis) {
      let sum: number | null = 0;
      for (const x of ins) {
        const d = x?.shape?.[i];
        sum = typeof d === 'number' && sum !== null ? sum + d : null;
      }
      shape.push(sum);
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

RULES.set('Split', (c) => {
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

RULES.set('Slice', (c) => {
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
    if (typeof st !== 'number' || typeof en !== 'number' || typeof step !== 'number' || step === 0) {
      out[axis] = null;
      unknownAxes.add(axis);
      return;
    }
    if (typeof dim !== 'number') {
      // a symbolic dim survives only a whole-axis slice
      out[axis] = st === 0 && en >= INT64_MAX / 2 && step === 1 ? dim : null;
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

RULES.set('Gather', (c) => {
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

RULES.set('Det', (c) => [{ shape: c.in[0]?.shape?.slice(0, -2), elemType: c.in[0]?.elemType }]);
RULES.set('GatherElements', (c) => [{ shape: c.in[1]?.shape, elemType: c.in[0]?.elemType }]);

RULES.set('Expand', (c) => {
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

RULES.set('Tile', (c) => {
  const x = c.in[0];
  const reps = c.in[1]?.value;
  if (!x?.shape || !reps) return [{ shape: x?.shape?.map(() => null), elemType: x?.elemType }];
  return [{ shape: x.shape.map((d, i) => (reps[i] === 1 ? d : typeof d === 'number' && typeof reps[i] === 'number' ? d * (reps[i] as number) : null)), elemType: x.elemType }];
});

RULES.set('Pad', (c) => {
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

RULES.set('DepthToSpace', (c) => {
  const s = c.in[0]?.shape;
  const b = attrInt(c.node, 'blocksize', 1);
  if (!s || s.length !== 4) return [{ elemType: c.in[0]?.elemType }];
  const [n, ch, h, w] = s;
  const m = (d: DimValue, k: number) => (typeof d === 'number' ? d * k : null);
  return [{ shape: [n, typeof ch === 'number' ? ch / (b * b) : null, m(h, b), m(w, b)], elemType: c.in[0]?.elemType }];
});

RULES.set('SpaceToDepth', (c) => {
  const s = c.in[0]?.shape;
  const b = attrInt(c.node, 'blocksize', 1);
  if (!s || s.length !== 4) return [{ elemType: c.in[0]?.elemType }];
  const [n, ch, h, w] = s;
  const d = (v: DimValue) => (typeof v === 'number' ? Math.floor(v / b) : null);
  return [{ shape: [n, typeof ch === 'number' ? ch * b * b : null, d(h), d(w)], elemType: c.in[0]?.elemType }];
});

RULES.set('OneHot', (c) => {
  const idx = c.in[0]?.shape;
  const depth = c.in[1]?.value?.[0];
  if (!idx) return [{ elemType: c.in[2]?.elemType }];
  const out: DimValue[] = [...idx];
  const axis = attrInt(c.node, 'axis', -1);
  out.splice(axis < 0 ? axis + idx.length + 1 : axis, 0, typeof depth === 'number' ? depth : null);
  return [{ shape: out, elemType: c.in[2]?.elemType }];
});

// --- compute ops

function spatialAttrs(c: OpContext, n: number) {
  const pads = attrInts(c.node, 'pads') ?? new Array(2 * n).fill(0);
  return {
    strides: attrInts(c.node, 'strides') ?? new Array(n).fill(1),
    dilations: attrInts(c.node, 'dilations') ?? new Array(n).fill(1),
    pads,
    autoPad: attrString(c.node, 'auto_pad', 'NOTSET')!,
    ceil: attrInt(c.node, 'ceil_mode', 0) === 1,
  };
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

RULES.set('Conv', (c) => {
  const x = c.in[0]?.shape;
  const w = c.in[1]?.shape;
  const elemType = c.in[0]?.elemType;
  const rank = x?.length ?? w?.length;
  if (!rank) return [{ elemType }];
  const n = rank - 2;
  const kernel = attrInts(c.node, 'kernel_shape') ?? w?.slice(2).map((d) => (typeof d === 'number' ? d : NaN));
  const a = spatialAttrs(c, n);
  const out: DimValue[] = [x?.[0] ?? null, w?.[0] ?? null];
  for (let i = 0; i < n; i++) out.push(windowOut(x?.[i + 2] ?? null, kernel?.[i], a.strides[i], a.dilations[i], a.pads[i], a.pads[i + n], a.autoPad, false));
  return [{ shape: out, elemType }];
});

RULES.set('ConvTranspose', (c) => {
  const x = c.in[0]?.shape;
  const w = c.in[1]?.shape;
  const elemType = c.in[0]?.elemType;
  const rank = x?.length ?? w?.length;
  if (!rank) return [{ elemType }];
  const n = rank - 2;
  const group = attrInt(c.node, 'group', 1);
  const kernel = attrInts(c.node, 'kernel_shape') ?? w?.slice(2).map((d) => (typeof d === 'number' ? d : NaN));
  const a = spatialAttrs(c, n);
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

function poolRule(c: OpContext): ValueFacts[] {
  const x = c.in[0]?.shape;
  const elemType = c.in[0]?.elemType;
  if (!x) return [{ elemType }];
  const n = x.length - 2;
  const kernel = attrInts(c.node, 'kernel_shape');
  const a = spatialAttrs(c, n);
  const out: DimValue[] = [x[0], x[1]];
  for (let i = 0; i < n; i++) out.push(windowOut(x[i + 2], kernel?.[i], a.strides[i], a.dilations[i], a.pads[i], a.pads[i + n], a.autoPad, a.ceil));
  return [{ shape: out, elemType }, { shape: out, elemType: ElemType.INT64 }];
}
for (const op of ['MaxPool', 'AveragePool', 'LpPool']) RULES.set(op, poolRule);
for (const op of ['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']) {
  RULES.set(op, (c) => {
    const x = c.in[0]?.shape;
    return [{ shape: x?.map((d, i) => (i < 2 ? d : 1)), elemType: c.in[0]?.elemType }];
  });
}

RULES.set('MatMul', (c) => [{ shape: matmulShape(c.in[0]?.shape, c.in[1]?.shape), elemType: c.in[0]?.elemType }]);
RULES.set('MatMulInteger', (c) => [{ shape: matmulShape(c.in[0]?.shape, c.in[1]?.shape), elemType: ElemType.INT32 }]);

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

RULES.set('Gemm', (c) => {
  const a = c.in[0]?.shape;
  const b = c.in[1]?.shape;
  const ta = attrInt(c.node, 'transA', 0) === 1;
  const tb = attrInt(c.node, 'transB', 0) === 1;
  const m = a ? a[ta ? 1 : 0] ?? null : null;
  const n = b ? b[tb ? 0 : 1] ?? null : null;
  return [{ shape: [m, n], elemType: c.in[0]?.elemType }];
});

/** The opset-23 Attention op: Y has Q's layout with V's head size. */
RULES.set('Attention', (c) => {
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

RULES.set('BatchNormalization', (c) => {
  const x = c.in[0];
  const ch = x?.shape?.[1] ?? null;
  return [{ shape: x?.shape, elemType: x?.elemType }, ...[1, 2, 3, 4].map(() => ({ shape: [ch], elemType: x?.elemType }))];
});

RULES.set('LayerNormalization', (c) => {
  const x = c.in[0];
  if (!x?.shape) return [{ elemType: x?.elemType }];
  const axis = normAxis(attrInt(c.node, 'axis', -1), x.shape.length);
  const stat = x.shape.map((d, i) => (i < axis ? d : 1));
  return [{ shape: x.shape, elemType: x.elemType }, { shape: stat, elemType: ElemType.FLOAT }, { shape: stat, elemType: ElemType.FLOAT }];
});

function reduceOp(c: OpContext): ValueFacts[] {
  const x = c.in[0];
  if (!x?.shape) return [{ elemType: x?.elemType }];
  const keep = attrInt(c.node, 'keepdims', 1) === 1;
  const axes = axesOf(c, 1);
  if (axes === 'unknown') return [{ shape: keep ? x.shape.map(() => null) : undefined, elemType: x.elemType }];
  let set: Set<number>;
  if (!axes || !axes.length) {
    if (attrInt(c.node, 'noop_with_empty_axes', 0) === 1) return [{ shape: x.shape, elemType: x.elemType, value: x.value }];
    set = new Set(x.shape.map((_, i) => i));
  } else set = new Set(axes.map((a) => normAxis(a, x.shape!.length)));
  const shape = keep ? x.shape.map((d, i) => (set.has(i) ? 1 : d)) : x.shape.filter((_, i) => !set.has(i));
  let value: DimValue[] | undefined;
  if (x.value && x.shape.length <= 1 && set.size === x.shape.length) {
    const op = c.node.opType;
    const nums = x.value;
    if (nums.every((v) => typeof v === 'number')) {
      const v = nums as number[];
      if (op === 'ReduceProd') value = [v.reduce((p, q) => p * q, 1)];
      else if (op === 'ReduceSum') value = [v.reduce((p, q) => p + q, 0)];
      else if (op === 'ReduceMax' && v.length) value = [Math.max(...v)];
      else if (op === 'ReduceMin' && v.length) value = [Math.min(...v)];
    } else if (op === 'ReduceProd') value = [productDims(nums)];
  }
  return [{ shape, elemType: x.elemType, value }];
}

for (const op of ['ArgMax', 'ArgMin']) {
  RULES.set(op, (c) => {
    const s = c.in[0]?.shape;
    if (!s) return [{ elemType: ElemType.INT64 }];
    const axis = normAxis(attrInt(c.node, 'axis', 0), s.length);
    const keep = attrInt(c.node, 'keepdims', 1) === 1;
    return [{ shape: keep ? s.map((d, i) => (i === axis ? 1 : d)) : s.filter((_, i) => i !== axis), elemType: ElemType.INT64 }];
  });
}

RULES.set('TopK', (c) => {
  const s = c.in[0]?.shape;
  const k = attrInt(c.node, 'k') ?? c.in[1]?.value?.[0];
  if (!s) return [{ elemType: c.in[0]?.elemType }, { elemType: ElemType.INT64 }];
  const axis = normAxis(attrInt(c.node, 'axis', -1), s.length);
  const shape = s.map((d, i) => (i === axis ? (typeof k === 'number' ? k : null) : d));
  return [{ shape, elemType: c.in[0]?.elemType }, { shape, elemType: ElemType.INT64 }];
});

function resizeRule(c: OpContext): ValueFacts[] {
  const x = c.in[0];
  const elemType = x?.elemType;
  if (!x?.shape) return [{ elemType }];
  const r = x.shape.length;
  const isUpsample = c.node.opType === 'Upsample';
  const scalesIndex = isUpsample || c.opset < 11 ? 1 : 2;
  let axes = attrInts(c.node, 'axes')?.map((a) => normAxis(a, r)) ?? x.shape.map((_, i) => i);
  const sizes = !isUpsample && c.opset >= 11 && c.node.inputs[3] ? c.in[3]?.value : undefined;
  if (sizes) {
    const out = [...x.shape];
    if (sizes.length !== axes.length) axes = x.shape.map((_, i) => i);
    axes.forEach((a, k) => (out[a] = sizes[k] ?? null));
    return [{ shape: out, elemType }];
  }
  const scales = attrFloats(c.node, 'scales') ?? (c.node.inputs[scalesIndex] ? c.in[scalesIndex]?.value : undefined);
  if (!scales || !scales.length) return [{ shape: x.shape.map(() => null), elemType }];
  if (scales.length !== axes.length) axes = x.shape.map((_, i) => i);
  const out = [...x.shape];
  axes.forEach((a, k) => {
    const sc = scales[k];
    const d = out[a];
    out[a] = sc === 1 ? d : typeof d === 'number' && typeof sc === 'number' ? Math.floor(d * sc) : null;
  });
  return [{ shape: out, elemType }];
}
RULES.set('Resize', resizeRule);
RULES.set('Upsample', resizeRule);

RULES.set('Einsum', (c) => {
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

// Subgraph ops (If/Loop/Scan) and unknown ops keep their declared shapes only.
export function opHasShapeRule(opType: string): boolean {
  return RULES.has(opType);
}
