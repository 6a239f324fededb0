// Depth stacks: the runs of identical blocks a model repeats, as a torch ModuleList of them names them
// (`down_blocks.2.attentions.0.transformer_blocks.0..9` in SDXL, FLUX's 19 `transformer_blocks.N` and
// 38 `single_transformer_blocks.N`). The graph view draws one as a single item and a prune can take
// "the k lowest of this stack"; depth pruning (SSD-1B, TinyFusion, Flux-Mini) works stack by stack.
//
// A stack is ≥ 3 siblings `X.i` (numeric i, gaps allowed: a pruned stack is still one) that
//  - are built the same: the same child modules and the same weighted operators in the same order at
//    the same relative module paths, with weights of the same dims (see signature), and
//  - follow one another: each member reads something the previous member wrote. Parallel lists
//    (attention heads, a two-layer `net.0`/`net.2`) are not depth.
// Only exporter scopes count: the positional `stage.i`/`block.j`/`branch.k` of an unscoped model are
// groupings this tool made up (branches are parallel), not the model's own lists.
import type { Node } from '../onnx/types';
import type { GraphView } from './graph-view';
import { walkModules, type ModuleNode, type ModuleTree } from './modules';
import type { NoiseKind } from './noise';

export interface DepthStack {
  /** the list's own path: the members' common prefix (`down_blocks.2.attentions.0.transformer_blocks`) */
  id: string;
  /** the module holding the members ('' for the model's top level) */
  parent: string;
  /** member module ids in index order */
  members: string[];
}

export const MIN_STACK_MEMBERS = 3;

/** The model's depth stacks, outermost first (in module pre-order of their parents). */
export function findStacks(view: GraphView, tree: ModuleTree, noise: ReadonlyMap<Node, NoiseKind>): DepthStack[] {
  if (tree.source === 'structure') return [];
  const out: DepthStack[] = [];
  walkModules(tree.root, (m) => {
    for (const group of listGroups(m)) {
      const stack = asStack(view, tree, noise, m, group);
      if (stack) out.push(stack);
    }
  });
  return out;
}

/** The parent's children grouped by list name (`transformer_blocks`), in index order. */
function listGroups(m: ModuleNode): { name: string; members: ModuleNode[] }[] {
  const groups = new Map<string, { i: number; m: ModuleNode }[]>();
  for (const c of m.children) {
    const hit = /^(.+)\.(\d+)$/.exec(c.name);
    if (!hit) continue;
    let g = groups.get(hit[1]);
    if (!g) groups.set(hit[1], (g = []));
    g.push({ i: Number(hit[2]), m: c });
  }
  return [...groups]
    .filter(([, g]) => g.length >= MIN_STACK_MEMBERS)
    .map(([name, g]) => ({ name, members: g.sort((a, b) => a.i - b.i).map((x) => x.m) }));
}

function asStack(view: GraphView, tree: ModuleTree, noise: ReadonlyMap<Node, NoiseKind>, parent: ModuleNode, group: { name: string; members: ModuleNode[] }): DepthStack | undefined {
  const nodesOf = group.members.map((m) => memberNodes(tree, m, noise));
  if (nodesOf.some((ns) => ns.length === 0)) return undefined;
  const first = signature(view, tree, group.members[0], nodesOf[0]);
  for (let i = 1; i < group.members.length; i++) {
    if (signature(view, tree, group.members[i], nodesOf[i]) !== first) return undefined;
    if (!reads(view, nodesOf[i], new Set(nodesOf[i - 1]))) return undefined;
  }
  return { id: parent.id ? `${parent.id}.${group.name}` : group.name, parent: parent.id, members: group.members.map((m) => m.id) };
}

/**
 * A member's operators, module by module in pre-order and in graph order within each module: the same
 * order for members of the same build, without subtreeNodes' sort into global graph order (FLUX has 57
 * members to compare on every open).
 */
function memberNodes(tree: ModuleTree, member: ModuleNode, noise: ReadonlyMap<Node, NoiseKind>): Node[] {
  const out: Node[] = [];
  walkModules(member, (x) => { for (const n of x.nodes) if (!noise.has(n) && tree.moduleOf.get(n) === x) out.push(n); });
  return out;
}

/**
 * What a member computes: its direct child modules, and the operators that read weights (in
 * memberNodes' order), each with its module path relative to the member and its weights' dims.
 * Weightless operators are left out because torch's exporter shares identical subexpressions between
 * blocks: the SiLU of a DiT's conditioning, computed once, lands in the first block's `norm1` only.
 */
function signature(view: GraphView, tree: ModuleTree, member: ModuleNode, nodes: readonly Node[]): string {
  const cut = member.id.length;
  const weighted: string[] = [];
  for (const n of nodes) {
    const dims = n.inputs.map((x) => (x ? view.initializer(x)?.dims : undefined)).filter((d) => d !== undefined);
    if (dims.length) weighted.push(`${tree.moduleOf.get(n)!.id.slice(cut)}:${n.domain ?? ''}:${n.opType}:${dims.map((d) => d!.join('x')).join(',')}`);
  }
  const children = member.children.map((c) => c.name).join(',');
  // a block with no weights of its own (a norm-free residual, weights fed as inputs): all its operators
  const body = weighted.length ? weighted : nodes.map((n) => `${tree.moduleOf.get(n)!.id.slice(cut)}:${n.domain ?? ''}:${n.opType}`);
  return `${children}|${body.join('|')}`;
}

/** Whether some node reads a value one of `from` wrote. */
function reads(view: GraphView, nodes: readonly Node[], from: ReadonlySet<Node>): boolean {
  for (const n of nodes) {
    for (const x of n.inputs) {
      const p = x ? view.producer(x) : undefined;
      if (p && from.has(p)) return true;
    }
  }
  return false;
}

/**
 * The stack a user names: its own id (`transformer_blocks`), or the module holding it when that module
 * holds exactly one (`down_blocks.2.attentions.0`). Undefined when neither; `ambiguous` lists the
 * stacks of a module holding several.
 */
export function resolveStack(stacks: readonly DepthStack[], id: string): { stack?: DepthStack; ambiguous?: DepthStack[] } {
  const own = stacks.find((s) => s.id === id);
  if (own) return { stack: own };
  const held = stacks.filter((s) => s.parent === id);
  if (held.length === 1) return { stack: held[0] };
  return held.length ? { ambiguous: held } : {};
}
