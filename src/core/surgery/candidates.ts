// The operators LD-Pruner scores: module scopes of the exported U-Net, at block granularity (each
// ResNet, attention/transformer block, down/up-sampler, mid-block part) and layer granularity (convs,
// attn1/attn2, ff, norms, proj_in/out, time_emb_proj). Ids are module paths, stable across runs and
// exports. Models without exporter scopes get their modules from the graph's structure
// ('stage.1.block.0', see graph/structure.ts), so they are scored by the same rules.
// Every candidate is listed: the ones that cannot be modified carry the reason.
import { UserError } from '../errors';
import { subtreeNodes, walkModules, type ModelAnalysis, type ModuleNode } from '../graph';
import type { Node } from '../onnx/types';
import { planModification } from './modifications';
import { findRegion } from './regions';
import { findStreamRegion, planStreams } from './streams';
import type { Candidate, CandidateKind, CandidateLevel, Granularity } from './types';

export interface CandidateOptions {
  granularity?: Granularity;
  /**
   * Also offer slicing / zero-padding the channels of token features and vectors (rank 3 [B,N,C], rank 2 [B,C]).
   * Off by default: a token's channels are not ordered by importance, so keeping "the first 96 of 256" or padding
   * 96 to 384 with zeros changes what the tensor means; spatial feature maps [B,C,H,W] are always resampled.
   */
  tokenChannelEdits?: boolean;
}

const BLOCK_RULES: [RegExp, CandidateKind][] = [
  [/^resnets\.\d+$/, 'resnet'],
  [/^attentions\.\d+$/, 'attention-block'],
  [/^downsamplers\.\d+$/, 'downsampler'],
  [/^upsamplers\.\d+$/, 'upsampler'],
];
const LAYER_RULES: [RegExp, CandidateKind][] = [
  [/^attn\d+$/, 'attention'],
  [/^ff$/, 'feed-forward'],
  [/^(conv\d*|conv_in|conv_out|conv_shortcut)$/, 'conv'],
  [/^(norm\d*|conv_norm_out|norm_out)$/, 'norm'],
  [/^proj_(in|out)$/, 'projection'],
  [/^time_emb_proj$/, 'time-embedding-projection'],
];

/** The module's own path segment as diffusers names it: 'resnets.0', 'conv1', 'attn2'. */
function localName(m: ModuleNode): string {
  return /([A-Za-z_]\w*(?:\.\d+)?)$/.exec(m.name)?.[1] ?? m.name;
}

function isDiffusersUnet(a: ModelAnalysis): boolean {
  for (const id of a.tree.byId.keys()) if (/^(down_blocks|up_blocks)\.\d+$|^mid_block$/.test(id)) return true;
  return false;
}

/** A diffusion transformer as diffusers names it (DiT, PixArt, SD3, FLUX): top-level transformer_blocks.N. */
function isDiffusersTransformer(a: ModelAnalysis): boolean {
  for (const id of a.tree.byId.keys()) if (/^transformer_blocks\.\d+$/.test(id)) return true;
  return false;
}

type Naming = 'unet' | 'transformer' | 'other';

/**
 * A transformer's candidates: whole blocks (identity on the token stream), attention and feed-forward inside a
 * block (their residual branch contributes nothing), norms and projections; never a block's inner pieces
 * (norm1.emb, ff.net.0), whose removal would change what a token's channels mean.
 */
function classifyTransformer(m: ModuleNode): { level: CandidateLevel; kind: CandidateKind } | undefined {
  const name = localName(m);
  if (/^(single_)?transformer_blocks\.\d+$/.test(m.id)) return { level: 'block', kind: 'transformer-block' };
  if (!/^(single_)?transformer_blocks\.\d+\.[^.]+$/.test(m.id) && !/^(norm_out|proj_out)$/.test(m.id)) return undefined;
  if (/^attn\d*$/.test(name)) return { level: 'layer', kind: 'attention' };
  for (const [re, kind] of LAYER_RULES) if (re.test(name)) return { level: 'layer', kind };
  return undefined;
}

function classify(m: ModuleNode, naming: Naming): { level: CandidateLevel; kind: CandidateKind } | undefined {
  if (!m.id) return undefined;
  if (naming === 'other') return { level: m.children.length ? 'block' : 'layer', kind: 'module' };
  if (naming === 'transformer') return classifyTransformer(m);
  const name = localName(m);
  for (const [re, kind] of BLOCK_RULES) if (re.test(name)) return { level: 'block', kind };
  if (/^transformer_blocks\.\d+$/.test(name)) {
    // one transformer block per attention block (SD 1.x) is the attention block minus its norm and projections
    const siblings = m.parent?.children.filter((c) => /^transformer_blocks\.\d+$/.test(localName(c))).length ?? 0;
    return siblings >= 2 ? { level: 'block', kind: 'transformer-block' } : undefined;
  }
  for (const [re, kind] of LAYER_RULES) if (re.test(name)) return { level: 'layer', kind };
  return undefined;
}

function wanted(level: CandidateLevel, g: Granularity): boolean {
  return g === 'both' || g === level;
}

/**
 * Lists the candidates of an analysed model (analyse it with the concrete input shapes the model
 * will run with: modifications depend on shapes).
 */
export function findCandidates(a: ModelAnalysis, options: CandidateOptions = {}): Candidate[] {
  const out: Candidate[] = [];
  const each = eachCandidate(a, options);
  walkModules(a.tree.root, (m) => {
    const c = each(m);
    if (c) out.push(c);
  });
  return dedupe(out);
}

/**
 * The candidate of one module, before the listing merges modules with the same region (`dedupe`):
 * undefined for a module that is no candidate.
 */
function eachCandidate(a: ModelAnalysis, options: CandidateOptions = {}): (m: ModuleNode) => Candidate | undefined {
  const granularity = options.granularity ?? 'both';
  if (!['block', 'layer', 'both'].includes(granularity)) throw new UserError(`granularity must be block, layer or both, got '${granularity}'`);
  const index = new Map<Node, number>();
  a.view.nodes.forEach((n, i) => index.set(n, i));
  const naming = namingOf(a);
  return (m) => {
    const c = classify(m, naming);
    if (!c || !wanted(c.level, granularity)) return undefined;
    const nodes = subtreeNodes(a.tree, m);
    if (!nodes.some((n) => !a.noise.has(n))) return undefined;
    const shortcut = a.tree.byId.get(`${m.id}.conv_shortcut`);
    return build(a, m.id, c.level, c.kind, nodes, shortcut && subtreeNodes(a.tree, shortcut), index, options.tokenChannelEdits === true);
  };
}

/** How the model names its modules, which decides what is a block or a layer. */
function namingOf(a: ModelAnalysis): Naming {
  return isDiffusersUnet(a) ? 'unet' : isDiffusersTransformer(a) ? 'transformer' : 'other';
}

/**
 * The candidate `findCandidates(a, options)` lists for module `id` (its own id or an alias), built without
 * listing the rest: an edit of one block needs only that block's (the whole listing is 70-100 ms on
 * SD-1.5). Undefined where the listing has none. Only `aliases` may differ from the listing's: it names
 * `id` alone when `id` is an alias.
 */
export function findCandidate(a: ModelAnalysis, id: string, options: CandidateOptions = {}): Candidate | undefined {
  const m = a.tree.byId.get(id);
  if (!m) return undefined;
  const at = eachCandidate(a, options);
  const own = at(m);
  if (!own) return undefined;
  // the listing keeps the first module (in pre-order) of each region: only an ancestor can come before
  // with the same nodes, as other modules' nodes are not this one's (unless both regions are empty)
  const key = own.nodeIndices.join(',');
  if (!key) return findCandidates(a, options).find((c) => c.id === id || c.aliases?.includes(id));
  const chain: ModuleNode[] = [];
  for (let p = m.parent; p; p = p.parent) chain.unshift(p);
  for (const p of chain) {
    const c = at(p);
    if (c && c.nodeIndices.join(',') === key) return { ...c, aliases: [id] };
  }
  return own;
}

function build(
  a: ModelAnalysis, id: string, level: CandidateLevel, kind: CandidateKind, scopeNodes: readonly Node[],
  shortcutNodes: readonly Node[] | undefined, index: ReadonlyMap<Node, number>, tokenChannelEdits: boolean,
): Candidate {
  const single = findRegion(a, scopeNodes);
  // a block with several residual streams (FLUX/SD3 double blocks) has one exit per stream
  const multi = single.ok ? undefined : findStreamRegion(a, scopeNodes);
  const r = multi?.ok ? { ok: true as const, region: multi.region } : multi ? { ok: false as const, reason: multi.reason, nodes: single.ok ? [] : single.nodes } : single;
  const nodes = r.ok ? r.region.nodes : r.nodes;
  const members = new Set(nodes);
  const compute = nodes.filter((n) => !a.noise.has(n));
  let macs = 0;
  let flops = 0;
  let uncounted = 0;
  for (const n of compute) {
    const c = a.cost.get(n);
    if (c) {
      macs += c.macs;
      flops += c.flops;
    } else uncounted++;
  }
  let params = 0;
  for (const p of a.params) if (p.users.length && p.users.every((u) => members.has(u))) params += p.elements;
  const cand: Candidate = {
    id, level, kind,
    nodeIndices: nodes.map((n) => index.get(n)!),
    ops: compute.length,
    params, macs, flops,
    replacementFlops: 0,
    uncountedOps: uncounted,
    modification: null,
  };
  if (!r.ok) {
    cand.reason = r.reason;
    return cand;
  }
  const { region } = r;
  cand.exit = region.exit;
  cand.entry = region.entry;
  cand.exitShape = a.shapes.get(region.exit)?.shape;
  cand.exitElemType = a.shapes.get(region.exit)?.elemType;
  cand.entryShape = a.shapes.get(region.entry)?.shape;
  const planned = multi?.ok ? { plan: planStreams(a, multi.streams) } : planModification(a, region, kind, shortcutNodes, tokenChannelEdits);
  if ('reason' in planned) {
    cand.reason = planned.reason;
    return cand;
  }
  cand.modification = planned.plan;
  cand.replacementFlops = replacementCost(a, planned.plan, shortcutNodes);
  return cand;
}

function replacementCost(a: ModelAnalysis, plan: Candidate['modification'] & object, shortcutNodes: readonly Node[] | undefined): number {
  if (plan.method === 'shortcut') return (shortcutNodes ?? []).reduce((s, n) => s + (a.cost.get(n)?.flops ?? 0), 0);
  let flops = 0;
  for (const s of plan.steps) {
    if (s.op === 'avgpool') {
      const shape = a.shapes.get(plan.target)?.shape;
      const n = shape?.every((d) => typeof d === 'number') ? (shape as number[]).reduce((p, d) => p * d, 1) : 0;
      flops += n * s.factor * s.factor;
    }
  }
  return flops;
}

/** A module whose region equals an earlier one's (a Downsample2D and its only conv) is listed once. */
function dedupe(list: Candidate[]): Candidate[] {
  const seen = new Map<string, Candidate>();
  const out: Candidate[] = [];
  for (const c of list) {
    const key = c.nodeIndices.join(',');
    const first = seen.get(key);
    if (first) {
      (first.aliases ??= []).push(c.id);
      continue;
    }
    seen.set(key, c);
    out.push(c);
  }
  return out;
}

/** The candidates with these ids, in the given order; unknown ids and unmodifiable ones are user errors. */
export function selectCandidates(all: readonly Candidate[], ids: readonly string[], where = 'the model'): Candidate[] {
  const byId = new Map<string, Candidate>();
  for (const c of all) {
    byId.set(c.id, c);
    for (const alias of c.aliases ?? []) byId.set(alias, c);
  }
  const out: Candidate[] = [];
  const unknown: string[] = [];
  for (const id of ids) {
    const c = byId.get(id);
    if (!c) {
      unknown.push(id);
      continue;
    }
    if (!c.modification) throw new UserError(`${where}: candidate '${id}' cannot be modified: ${c.reason}`);
    if (!out.includes(c)) out.push(c);
  }
  if (unknown.length) {
    const near = (id: string) => all.filter((c) => c.id.startsWith(id.split('.').slice(0, 2).join('.'))).slice(0, 3).map((c) => c.id);
    const hint = near(unknown[0]);
    throw new UserError(`${where}: no candidate ${unknown.map((u) => `'${u}'`).join(', ')}${hint.length ? ` (did you mean ${hint.join(', ')}?)` : ''}; \`ld-surgeon candidates\` lists them`);
  }
  return out;
}
