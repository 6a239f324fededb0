// Choosing how a region is modified. In order of preference:
//   1. skip-residual: the region is a residual branch (its exit, possibly through reshapes or a gate, feeds an
//      Add whose other operand does not depend on it): the Add is replaced by that operand, i.e. the
//      branch contributes nothing (attn1/attn2/ff in a transformer block, a ResNet's time_emb_proj);
//   2. identity: input and output shapes are equal: the output is replaced by the input;
//   3. shortcut: a ResNet whose channels change becomes its own 1×1 conv_shortcut projection;
//   4. resample: slice / zero-pad the channels and average-pool (down) or nearest-up-sample (up) the
//      spatial axes of the input to the output's shape. Channel slicing/padding is for spatial feature maps
//      [B,C,H,W] only unless asked for: a token's (or a vector's) channels have no order of importance, so
//      "its first 96 of 256 channels" is a different tensor, not a cheaper version of the same one.
// Every plan keeps the element type: a replacement of another type (a comparison's bool output
// "replaced" by its float input) would make an invalid model, so the region is refused instead.
// In-line layers (conv, norm, proj_in/out) skip step 1: their output feeding a residual Add (conv2,
// proj_out) does not make them the whole branch, and bypassing that Add would remove the block.
import { describeValue, walkValues, type DimValue, type ModelAnalysis } from '../graph';
import { ElemType, elemTypeName, type Node } from '../onnx/types';
import { fmt, type Region } from './regions';
import type { CandidateKind, ModificationPlan, ReplacementStep } from './types';

const LAYOUT_OPS = new Set(['Unsqueeze', 'Reshape', 'Squeeze', 'Transpose', 'Identity', 'Cast', 'Flatten']);
const IN_LINE_KINDS = new Set<CandidateKind>(['conv', 'norm', 'projection']);

export type PlanResult = { plan: ModificationPlan } | { reason: string };

/** AveragePool and Resize compute on these only. */
const FLOAT_TYPES = new Set<number>([ElemType.FLOAT, ElemType.FLOAT16, ElemType.DOUBLE, ElemType.BFLOAT16]);

/** Why `source` cannot stand in for `target`: their element types differ (undefined when they agree or are unknown). */
function typeClash(a: ModelAnalysis, plan: ModificationPlan): string | undefined {
  const from = a.shapes.get(plan.source)?.elemType;
  const to = a.shapes.get(plan.target)?.elemType;
  if (from !== undefined && to !== undefined && from !== to) {
    return `its output ${describeValue(a.view, plan.target)} is ${elemTypeName(to)} but its replacement ${describeValue(a.view, plan.source)} is ${elemTypeName(from)}: the ${plan.method} modification would change the element type`;
  }
  const resampled = plan.steps.some((s) => s.op === 'avgpool' || s.op === 'upsample');
  if (resampled && from !== undefined && !FLOAT_TYPES.has(from)) return `its input ${describeValue(a.view, plan.source)} is ${elemTypeName(from)}, which pooling and up-sampling cannot resample`;
  return undefined;
}

/** The plan, unless it would change an element type. */
function checked(a: ModelAnalysis, plan: ModificationPlan): PlanResult {
  const clash = typeClash(a, plan);
  return clash ? { reason: clash } : { plan };
}

function shapeOf(a: ModelAnalysis, v: string): DimValue[] | undefined {
  return a.shapes.get(v)?.shape;
}

/** Equal and fully known (a symbol equals only itself). */
export function sameShape(p: readonly DimValue[] | undefined, q: readonly DimValue[] | undefined): boolean {
  return !!p && !!q && p.length === q.length && p.every((d, i) => d !== null && d === q[i]);
}

function dataConsumers(a: ModelAnalysis, value: string): Node[] {
  return a.view.consumers(value).filter((c) => a.noise.get(c) !== 'shape');
}

/** Whether `value` is computed (anywhere upstream) from a node of `members`. */
function dependsOn(a: ModelAnalysis, value: string, members: ReadonlySet<Node>): boolean {
  return !walkValues([value], (v) => {
    const p = a.view.producer(v);
    if (!p) return [];
    return members.has(p) ? false : a.view.allInputs(p);
  });
}

function planSkip(a: ModelAnalysis, region: Region, members: ReadonlySet<Node>): ModificationPlan | undefined {
  let cur = region.exit;
  const via: string[] = [];
  for (let hops = 0; hops < 6; hops++) {
    if (a.view.isGraphOutput(cur)) return undefined;
    const users = dataConsumers(a, cur);
    if (users.length !== 1 || members.has(users[0])) return undefined;
    const c = users[0];
    if (c.opType === 'Add' && c.domain === '' && c.inputs.length === 2 && c.inputs[0] !== c.inputs[1]) {
      const other = c.inputs[c.inputs[0] === cur ? 1 : 0];
      const out = c.outputs[0];
      if (!other || !out || a.view.isGraphOutput(out)) return undefined;
      if (!sameShape(shapeOf(a, other), shapeOf(a, out))) return undefined;
      if (dependsOn(a, other, members)) return undefined;
      return {
        action: 'remove',
        method: 'skip-residual',
        target: out,
        source: other,
        steps: [],
        bypassedNode: c.name,
        description: `residual branch: the Add '${c.name || out}' it feeds${via.length ? ` (through ${via.join(', ')})` : ''} is replaced by its other operand, so the branch contributes nothing`,
      };
    }
    if (LAYOUT_OPS.has(c.opType) && c.domain === '' && c.inputs[0] === cur && c.outputs[0]) {
      via.push(c.opType);
      cur = c.outputs[0];
      continue;
    }
    // adaLN-Zero's gate (DiT, PixArt, SD3: x + gate · attn1(…)): a branch times a factor computed without it
    // still contributes nothing once the Add is bypassed
    if (c.opType === 'Mul' && c.domain === '' && c.inputs.length === 2 && c.inputs[0] !== c.inputs[1] && c.outputs[0]) {
      const gate = c.inputs[c.inputs[0] === cur ? 1 : 0];
      if (!gate || dependsOn(a, gate, members)) return undefined;
      via.push('a gating Mul');
      cur = c.outputs[0];
      continue;
    }
    return undefined;
  }
  return undefined;
}

/** The output of a conv_shortcut sub-module fed by the entry, when it has the exit's shape. */
function findShortcut(a: ModelAnalysis, region: Region, members: ReadonlySet<Node>, shortcutNodes: readonly Node[] | undefined): string | undefined {
  if (!shortcutNodes) return undefined;
  const sc = shortcutNodes.filter((n) => !a.noise.has(n));
  if (!sc.length || !sc.every((n) => members.has(n))) return undefined;
  const inner = new Set(sc);
  if (!sc.some((n) => n.inputs.includes(region.entry))) return undefined;
  const outs: string[] = [];
  for (const n of sc) {
    for (const o of n.outputs) if (o && a.view.consumers(o).some((c) => !inner.has(c) && !a.noise.has(c))) outs.push(o);
  }
  if (outs.length !== 1 || !sameShape(shapeOf(a, outs[0]), shapeOf(a, region.exit))) return undefined;
  return outs[0];
}

function channelAxis(rank: number): number | undefined {
  if (rank === 4 || rank === 2) return 1;
  if (rank === 3) return 2;
  return undefined;
}

/** Why the first C channels are the ones to keep, when the input is an up block's skip concat. */
function sliceNote(a: ModelAnalysis, entry: string, axis: number, size: number): string {
  const p = a.view.producer(entry);
  if (p?.opType !== 'Concat') return '';
  const ax = p.attributes.find((x) => x.name === 'axis')?.i;
  const first = shapeOf(a, p.inputs[0])?.[axis];
  if (Number(ax) !== axis || typeof first !== 'number') return '';
  if (first === size) return ' (the concatenation\'s first part, the up path; the skip connection is dropped)';
  return ' (of the concatenation with the skip connection)';
}

function planResample(a: ModelAnalysis, region: Region, tokenChannelEdits: boolean): ModificationPlan | string {
  const inS = shapeOf(a, region.entry);
  const outS = shapeOf(a, region.exit);
  const shapes = `input ${fmt(inS)}, output ${fmt(outS)}`;
  if (!inS || !outS || inS.length !== outS.length) return `its input and output ranks differ (${shapes})`;
  const rank = inS.length;
  const axis = channelAxis(rank);
  if (axis === undefined) return `no cheap replacement for rank-${rank} tensors (${shapes})`;
  if (inS[0] !== outS[0] || inS[0] === null) return `the batch axis changes (${shapes})`;
  const differ = inS.map((d, i) => i > 0 && d !== outS[i]);
  const unknown = inS.some((d, i) => i > 0 && typeof d !== 'number') || outS.some((d, i) => i > 0 && typeof d !== 'number');
  if (unknown) return `shapes are not fully known (${shapes})`;
  const spatial = rank === 4 ? [2, 3] : [];
  for (let i = 1; i < rank; i++) {
    if (differ[i] && i !== axis && !spatial.includes(i)) return `axis ${i} changes, which neither a channel slice/pad nor a resampling covers (${shapes})`;
  }
  const steps: ReplacementStep[] = [];
  const notes: string[] = [];
  let spatialStep: ReplacementStep | undefined;
  if (spatial.some((i) => differ[i])) {
    const [h, w] = [inS[2] as number, inS[3] as number];
    const [H, W] = [outS[2] as number, outS[3] as number];
    if (H < h && W < w) {
      const r = Math.round(h / H);
      if (r < 2 || Math.round(w / W) !== r || Math.ceil(h / r) !== H || Math.ceil(w / r) !== W) return `the spatial size changes by no integer factor (${shapes})`;
      spatialStep = { op: 'avgpool', factor: r };
      notes.push(`average-pooled ${r}×${r}`);
    } else if (H > h && W > w && H % h === 0 && W % w === 0 && H / h === W / w) {
      spatialStep = { op: 'upsample', factor: H / h };
      notes.push(`nearest-up-sampled ×${H / h}`);
    } else return `the spatial size changes by no integer factor (${shapes})`;
  }
  const cin = inS[axis] as number;
  const cout = outS[axis] as number;
  if (cin !== cout && rank !== 4 && !tokenChannelEdits) {
    return `its channels change (${shapes}) on ${rank === 3 ? 'token features' : 'a vector'}, where slicing or zero-padding channels changes what the tensor means (not offered unless token channel edits are asked for)`;
  }
  // slice before resampling and pad after it: the resampling then touches the fewest channels
  if (cout < cin) {
    steps.push({ op: 'slice', axis, size: cout });
    notes.unshift(`sliced to its first ${cout} of ${cin} channels${sliceNote(a, region.entry, axis, cout)}`);
  }
  if (spatialStep) steps.push(spatialStep);
  if (cout > cin) {
    steps.push({ op: 'pad', axis, size: cout });
    notes.push(`zero-padded from ${cin} to ${cout} channels`);
  }
  return {
    action: 'replace',
    method: 'resample',
    target: region.exit,
    source: region.entry,
    steps,
    description: `shapes differ (${shapes}): the output is replaced by the input ${notes.join(', then ')}`,
  };
}

/** The modification of a region, or why there is none. */
export function planModification(
  a: ModelAnalysis,
  region: Region,
  kind: CandidateKind,
  shortcutNodes: readonly Node[] | undefined,
  tokenChannelEdits = false,
): PlanResult {
  const members = new Set(region.nodes);
  if (a.view.isGraphOutput(region.exit)) return { reason: `its output ${region.exit} is a graph output` };
  if (shapeOf(a, region.exit)?.length === 0) return { reason: `its output ${describeValue(a.view, region.exit)} is a scalar` };
  if (!IN_LINE_KINDS.has(kind)) {
    const skip = planSkip(a, region, members);
    if (skip) return checked(a, skip);
  }
  const inS = shapeOf(a, region.entry);
  const outS = shapeOf(a, region.exit);
  if (sameShape(inS, outS)) {
    return checked(a, {
      action: 'remove',
      method: 'identity',
      target: region.exit,
      source: region.entry,
      steps: [],
      description: `input and output shapes are equal ${fmt(outS)}: the output is replaced by the input`,
    });
  }
  const shortcut = findShortcut(a, region, members, shortcutNodes);
  if (shortcut) {
    return checked(a, {
      action: 'replace',
      method: 'shortcut',
      target: region.exit,
      source: shortcut,
      steps: [],
      description: `channels change ${fmt(inS)} → ${fmt(outS)}: the block becomes its own 1×1 conv_shortcut projection`,
    });
  }
  const r = planResample(a, region, tokenChannelEdits);
  if (typeof r === 'string') return { reason: r };
  return checked(a, r);
}
