// Compute cost per node, from the shapes the shape pass found.
//
// Counting convention (also in the README):
// - MACs count multiply-accumulates of the contraction ops only: Conv, ConvTranspose, MatMul,
//   Gemm, Einsum. For those, FLOPs = 2 × MACs, plus 1 per output element for a bias input
//   (Conv/ConvTranspose B, Gemm C).
//     Conv:          MACs = N·C_out·∏out_spatial · (C_in/group)·∏kernel
//     ConvTranspose: MACs = N·C_in·∏in_spatial · (C_out/group)·∏kernel
//     MatMul:        MACs = ∏batch·M·N · K   (batch dims broadcast)
//     Gemm:          MACs = M·N·K
//     Einsum:        MACs = product of the sizes of every index letter
// - Attention is not a special case: exported graphs spell it as MatMul → (Mul scale) → Softmax
//   → MatMul, each counted by its own rule. The fused opset-23 Attention op is counted as those
//   parts: MACs = B·H_q·S_q·S_kv·(D_qk + D_v), FLOPs = 2·MACs + 3·B·H_q·S_q·S_kv (softmax).
// - Element-wise arithmetic, comparisons and activations: 1 FLOP per output element (a
//   transcendental such as Exp, Erf, Sigmoid or Gelu counts as one). Variadic Sum/Max/Min/Mean:
//   (inputs − 1) per output element.
// - Softmax/LogSoftmax: 3 per element (exp, sum, divide).
// - InstanceNormalization, GroupNormalization, LayerNormalization, MeanVarianceNormalization:
//   7 per element (mean 1, variance 2, normalise 2, scale and shift 2). BatchNormalization
//   (inference, statistics fixed): 2 per element. LpNormalization: 3 per element.
//   RMSNormalization: 5 per element (square, mean, reciprocal root, normalise, scale).
// - Pooling: 1 per window element per output (MaxPool, AveragePool, LpPool); global pooling:
//   1 per input element. Reductions: 1 per input element (2 for ReduceSumSquare, ReduceL2,
//   ReduceLogSumExp). CumSum: 1 per element. ArgMax/ArgMin: 1 per input element.
// - Resize/Upsample: nearest 0; linear 3 per output element per resized axis (a lerp);
//   cubic 7 per output element per resized axis (4 taps).
// - Data movement (Reshape, Transpose, Concat, Split, Slice, Gather, Pad, Expand, Tile, Cast,
//   Identity, Squeeze, Unsqueeze, Flatten, Dropout, Where...) and exporter noise: 0.
// - Anything else, or a rule whose shapes are unknown, is uncounted (null): module totals add up
//   what is known and say how many nodes were left out.
import type { Node } from '../onnx/types';
import { attrInt, attrInts, attrString } from './attrs';
import { einsumLetters, knownSize, type DimValue, type ShapeMap } from './shapes';

export interface NodeCost {
  macs: number;
  flops: number;
}

const ZERO: NodeCost = { macs: 0, flops: 0 };

const ELEMENTWISE = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'PRelu', 'Neg', 'Abs', 'Reciprocal', 'Sqrt', 'Exp', 'Log',
  'Relu', 'LeakyRelu', 'Elu', 'Selu', 'Celu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Erf',
  'Gelu', 'FastGelu', 'QuickGelu', 'BiasGelu', 'Mish', 'Softplus', 'Softsign', 'ThresholdedRelu', 'Shrink', 'Clip',
  'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh',
  'Floor', 'Ceil', 'Round', 'Sign', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual',
  'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'BitwiseNot',
]);
const VARIADIC = new Set(['Sum', 'Max', 'Min', 'Mean']);
const FREE = new Set([
  'Reshape', 'Transpose', 'Concat', 'Split', 'Slice', 'Gather', 'GatherElements', 'GatherND', 'Pad',
  'Expand', 'Tile', 'Cast', 'CastLike', 'Identity', 'Squeeze', 'Unsqueeze', 'Flatten', 'Dropout', 'Where',
  'Shape', 'Size', 'Constant', 'ConstantOfShape', 'Range', 'DepthToSpace', 'SpaceToDepth', 'Trilu',
  'ScatterND', 'ScatterElements', 'Scatter', 'OneHot', 'EyeLike', 'Compress', 'NonZero', 'ReverseSequence',
]);
const NORM7 = new Set(['InstanceNormalization', 'GroupNormalization', 'LayerNormalization', 'MeanVarianceNormalization']);
const REDUCE1 = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceLogSum', 'ArgMax', 'ArgMin']);
const REDUCE2 = new Set(['ReduceSumSquare', 'ReduceL2', 'ReduceLogSumExp']);

/** MACs and FLOPs of one node; null when its op has no rule or its shapes are not known. */
export function nodeCost(node: Node, shapes: ShapeMap): NodeCost | null {
  const shapeOf = (i: number) => (node.inputs[i] ? shapes.get(node.inputs[i])?.shape : undefined);
  const out = node.outputs[0] ? shapes.get(node.outputs[0])?.shape : undefined;
  const outSize = knownSize(out);
  const perOut = (k: number) => (outSize === undefined ? null : { macs: 0, flops: k * outSize });
  const perIn = (k: number) => {
    const n = knownSize(shapeOf(0));
    return n === undefined ? null : { macs: 0, flops: k * n };
  };
  const op = node.opType;
  if (node.domain !== '' && node.domain !== 'ai.onnx' && !(node.domain === 'com.microsoft' && op === 'SimplifiedLayerNormalization')) return null;
  if (FREE.has(op)) return ZERO;
  if (ELEMENTWISE.has(op)) return perOut(1);
  if (VARIADIC.has(op)) return perOut(Math.max(1, node.inputs.filter(Boolean).length - 1));
  if (NORM7.has(op)) return perOut(7);
  if (REDUCE1.has(op)) return perIn(1);
  if (REDUCE2.has(op)) return perIn(2);
  switch (op) {
    case 'Softmax': case 'LogSoftmax': return perOut(3);
    case 'BatchNormalization': return perOut(2);
    case 'LpNormalization': return perOut(3);
    case 'RMSNormalization': case 'SimplifiedLayerNormalization': return perOut(5);
    case 'Attention': return attentionCost(node, shapeOf(0), shapeOf(1), shapeOf(2));
    case 'CumSum': return perOut(1);
    case 'GlobalAveragePool': case 'GlobalMaxPool': case 'GlobalLpPool': return perIn(1);
    case 'MaxPool': case 'AveragePool': case 'LpPool': {
      const k = attrInts(node, 'kernel_shape');
      return k ? perOut(k.reduce((a, b) => a * b, 1)) : null;
    }
    case 'Conv': {
      const w = knownSize(shapeOf(1)?.slice(1)); // C_in/group · ∏kernel
      if (outSize === undefined || w === undefined) return null;
      const macs = outSize * w;
      return { macs, flops: 2 * macs + (node.inputs[2] ? outSize : 0) };
    }
    case 'ConvTranspose': {
      const inSize = knownSize(shapeOf(0));
      const w = knownSize(shapeOf(1)?.slice(1)); // (C_out/group) · ∏kernel
      if (inSize === undefined || w === undefined || outSize === undefined) return null;
      const macs = inSize * w;
      return { macs, flops: 2 * macs + (node.inputs[2] ? outSize : 0) };
    }
    case 'MatMul': {
      const a = shapeOf(0);
      const k = a?.[a.length - 1];
      if (outSize === undefined || typeof k !== 'number') return null;
      const macs = outSize * k;
      return { macs, flops: 2 * macs };
    }
    case 'Gemm': {
      const a = shapeOf(0);
      const k = a?.[attrInt(node, 'transA', 0) === 1 ? 0 : 1];
      if (outSize === undefined || typeof k !== 'number') return null;
      const macs = outSize * k;
      return { macs, flops: 2 * macs + (node.inputs[2] ? outSize : 0) };
    }
    case 'Einsum': {
      const eq = attrString(node, 'equation')?.replace(/\s+/g, '');
      const letters = eq ? einsumLetters(eq, node.inputs.map((x) => (x ? shapes.get(x)?.shape : undefined))) : undefined;
      if (!letters) return null;
      let macs = 1;
      for (const d of letters.sizes.values()) {
        if (typeof d !== 'number') return null;
        macs *= d;
      }
      return { macs, flops: 2 * macs };
    }
    case 'Resize': case 'Upsample': {
      const mode = attrString(node, 'mode', 'nearest')!;
      if (mode === 'nearest') return ZERO;
      const inS = shapeOf(0);
      if (!inS || !out || outSize === undefined) return null;
      const resized = out.filter((d, i) => d !== inS[i]).length;
      return { macs: 0, flops: (mode === 'cubic' ? 7 : 3) * resized * outSize };
    }
    default: return null;
  }
}

function attentionCost(node: Node, q: readonly DimValue[] | undefined, k: readonly DimValue[] | undefined, v: readonly DimValue[] | undefined): NodeCost | null {
  if (!q || !k || !v) return null;
  let b: DimValue, h: DimValue, sq: DimValue, skv: DimValue, dqk: DimValue, dv: DimValue;
  if (q.length === 4 && k.length === 4 && v.length === 4) [b, h, sq, skv, dqk, dv] = [q[0], q[1], q[2], k[2], q[3], v[3]];
  else if (q.length === 3 && k.length === 3 && v.length === 3) {
    const hq = attrInt(node, 'q_num_heads');
    const hkv = attrInt(node, 'kv_num_heads');
    if (!hq || !hkv || typeof q[2] !== 'number' || typeof v[2] !== 'number') return null;
    [b, h, sq, skv, dqk, dv] = [q[0], hq, q[1], k[1], q[2] / hq, v[2] / hkv];
  } else return null;
  const dims = [b, h, sq, skv, dqk, dv];
  if (dims.some((d) => typeof d !== 'number')) return null;
  const scores = (b as number) * (h as number) * (sq as number) * (skv as number);
  const macs = scores * ((dqk as number) + (dv as number));
  return { macs, flops: 2 * macs + 3 * scores };
}
