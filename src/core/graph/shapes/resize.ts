// Resize and its predecessor Upsample: output sizes from `sizes` or from `scales`, whose input
// position moved with opset 11.
import { attrFloats, attrInts } from '../attrs';
import { normAxis, type OpContext, type RuleTable, type ValueFacts } from './facts';

export const RESIZE: RuleTable = new Map();

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
RESIZE.set('Resize', resizeRule);
RESIZE.set('Upsample', resizeRule);
