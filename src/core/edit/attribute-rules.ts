// What ONNX's operator schemas allow for the attributes a user edits most (axis, axes, perm, the
// window attributes of convolutions and pools, group), checked against the ranks of the node's
// inputs before an attribute edit is applied. The shape pass cannot be relied on for these: several
// ops pass their input's shape through whatever the attribute says (Softmax with axis 1000 and
// Transpose with perm [5, 6, 7] were accepted by it). onnxruntime would refuse such a model when
// loading it; the editor refuses the edit instead, saying which values are allowed.
// Only the standard domain is checked: other domains' ops define their own attributes.
import type { Attribute, Node } from '../onnx/types';

/** Ops whose `axis` counts the dimensions of input 0: from -r to r-1. */
const AXIS_OPS = new Set([
  'Softmax', 'LogSoftmax', 'Hardmax', 'ArgMax', 'ArgMin', 'Concat', 'Gather', 'GatherElements', 'ScatterElements', 'Scatter',
  'Split', 'TopK', 'LpNormalization', 'LayerNormalization', 'Unique', 'Compress', 'SplitToSequence',
]);
/** `axis` ranges one further: Flatten may split after the last dimension, OneHot adds one. */
const AXIS_UPTO_RANK = new Set(['Flatten', 'OneHot']);
/** Ops whose `axes` attribute (older opsets) names dimensions of input 0. */
const AXES_OPS = /^(Reduce\w+|Squeeze|Slice|MeanVarianceNormalization)$/;
const WINDOW_OPS = new Set(['Conv', 'ConvTranspose', 'ConvInteger', 'QLinearConv', 'MaxPool', 'AveragePool', 'LpPool', 'MaxUnpool']);

function range(lo: number, hi: number): string {
  return `from ${lo} to ${hi}`;
}

/**
 * Why `a` is not a value the schema of `n`'s op allows, or undefined. `shape(i)` is the shape of
 * input i when known (checks that need a rank are skipped without one).
 */
export function attributeProblem(n: Node, a: Attribute, shape: (input: number) => readonly unknown[] | undefined): string | undefined {
  if (n.domain && n.domain !== 'ai.onnx') return undefined;
  const x = shape(0);
  const r = x?.length;
  // (64-bit attribute values are read as bigint when past 2^53; any such value is out of range here)
  const ints = a.ints?.map(Number);
  const i = a.i === undefined ? undefined : Number(a.i);
  if (a.name === 'axis' && i !== undefined && r !== undefined) {
    const hi = AXIS_UPTO_RANK.has(n.opType) ? r : AXIS_OPS.has(n.opType) ? r - 1 : undefined;
    if (hi !== undefined) {
      const lo = n.opType === 'OneHot' ? -(r + 1) : -r;
      if (i < lo || i > hi) return `axis ${i} is out of range: the input has rank ${r}, so axis goes ${range(lo, hi)}`;
    }
  }
  if (a.name === 'axes' && ints && r !== undefined) {
    const unsqueeze = n.opType === 'Unsqueeze';
    if (unsqueeze || AXES_OPS.test(n.opType)) {
      const rank = unsqueeze ? r + ints.length : r;
      const bad = ints.find((v) => v < -rank || v >= rank);
      if (bad !== undefined) return `axes [${ints.join(', ')}]: ${bad} is out of range ${range(-rank, rank - 1)}`;
      const norm = ints.map((v) => (v < 0 ? v + rank : v));
      if (new Set(norm).size !== norm.length) return `axes [${ints.join(', ')}] name a dimension twice`;
    }
  }
  if (a.name === 'perm' && n.opType === 'Transpose' && ints && r !== undefined) {
    const sorted = [...ints].sort((p, q) => p - q);
    if (ints.length !== r || sorted.some((v, i) => v !== i)) return `perm [${ints.join(', ')}] is not a permutation of the input's ${r} dimensions (0 to ${r - 1}, each once)`;
  }
  if (WINDOW_OPS.has(n.opType) && ints && r !== undefined && r >= 3) {
    const spatial = r - 2;
    const want = a.name === 'pads' ? 2 * spatial : spatial;
    if (['kernel_shape', 'strides', 'dilations', 'pads', 'output_padding'].includes(a.name) && ints.length !== want) {
      return `${a.name} has ${ints.length} values; the input has ${spatial} spatial dimension${spatial === 1 ? '' : 's'}, so it takes ${want}`;
    }
    if (['kernel_shape', 'strides', 'dilations'].includes(a.name) && ints.some((v) => v < 1)) return `${a.name} [${ints.join(', ')}]: every value must be at least 1`;
    if (a.name === 'pads' && ints.some((v) => v < 0)) return `pads [${ints.join(', ')}]: every value must be 0 or more`;
  }
  if (a.name === 'group' && (n.opType === 'Conv' || n.opType === 'ConvTranspose') && i !== undefined) {
    if (i < 1) return `group ${i} must be at least 1`;
    const channels = x?.[1];
    if (typeof channels === 'number' && channels % i !== 0) return `group ${i} does not divide the input's ${channels} channels`;
  }
  return undefined;
}
