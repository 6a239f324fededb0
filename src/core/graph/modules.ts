// The module hierarchy of an exported model. Each node gets a scope chain, outermost first,
// e.g. ['down_blocks.1', 'down_blocks.1.attentions.0', 'down_blocks.1.attentions.0.proj_in'],
// from (in order of preference):
//   1. per-node metadata `pkg.torch.onnx.name_scopes` (torch.export-based exporter), a Python
//      list literal of module paths ending with the node's own name;
//   2. the node-name path torch.onnx writes: '/down_blocks.1/attentions.0/proj_in/Conv' (the last
//      segment names the op, so it is dropped; '/Constant' has no scope);
//   3. the graph's structure: when no node has a scope (model zoo CNNs, tf2onnx, older exporters),
//      blocks are its single-entry/single-exit regions, named by position ('stage.2.block.1',
//      see structure.ts).
// A module's id is its dot-joined path ('down_blocks.1.attentions.0'), the canonical id used
// everywhere; the root module's id is ''.
import type { Node } from '../onnx/types';
import type { GraphView } from './graph-view';
import type { NoiseKind } from './noise';
import type { ShapeMap } from './shapes';
import { structuralScopes } from './structure';

export type ScopeSource = 'metadata' | 'node-names' | 'structure';

export interface ModuleNode {
  /** dot-joined path; '' for the root */
  id: string;
  /** the last part of the path, relative to the parent ('attentions.0'); '' for the root */
  name: string;
  parent: ModuleNode | null;
  children: ModuleNode[];
  depth: number;
  /** nodes directly in this module (not in a child) */
  nodes: Node[];
  /** the torch module class, when the exporter recorded it (pkg.torch.onnx.class_hierarchy) */
  className?: string;
}

export interface ModuleTree {
  root: ModuleNode;
  byId: Map<string, ModuleNode>;
  moduleOf: Map<Node, ModuleNode>;
  source: ScopeSource;
}

const NAME_SCOPES_KEY = 'pkg.torch.onnx.name_scopes';
const CLASS_HIERARCHY_KEY = 'pkg.torch.onnx.class_hierarchy';

/** The strings of a Python list literal as torch writes it with repr(): "['', 'a.b', \"c['d']\"]". */
function pythonStrings(raw: string): string[] {
  return [...raw.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1'));
}

/** Scope chain from torch.export metadata, or undefined when the node has none. */
export function scopeFromMetadata(node: Node): string[] | undefined {
  return scopeAndClasses(node)?.chain;
}

/** The chain, and each scope's module class (pkg.torch.onnx.class_hierarchy) where given. */
function scopeAndClasses(node: Node): { chain: string[]; classes: (string | undefined)[] } | undefined {
  const raw = node.metadataProps?.find((p) => p.key === NAME_SCOPES_KEY)?.value;
  if (!raw) return undefined;
  const entries = pythonStrings(raw).map(normalizeTorchPath);
  const rawClasses = node.metadataProps?.find((p) => p.key === CLASS_HIERARCHY_KEY)?.value;
  const classList = rawClasses ? pythonStrings(rawClasses) : [];
  const aligned = classList.length === entries.length;
  entries.pop(); // the node's own name, not a module
  // entries are usually fully qualified ('down_blocks.0', 'down_blocks.0.resnets.0'); older
  // exporters listed local names ('down_blocks.0', 'resnets.0'): join those
  const chain: string[] = [];
  const classes: (string | undefined)[] = [];
  entries.forEach((p, i) => {
    if (!p) return;
    const prev = chain[chain.length - 1];
    let id: string | undefined;
    if (prev === undefined || p.startsWith(prev + '.')) id = p;
    else if (p !== prev) id = `${prev}.${p}`;
    if (id === undefined) return;
    chain.push(id);
    classes.push(aligned ? classList[i] : undefined);
  });
  return { chain, classes };
}

function normalizeTorchPath(s: string): string {
  return s
    .replace(/^L\['self'\]\.?/, '')
    .replace(/\[(\d+)\]/g, '.$1')
    .replace(/\['([^']+)'\]/g, '.$1')
    .replace(/^\./, '');
}

/** Scope chain from a '/a/b/Op' node name; [] for unscoped names. */
export function scopeFromName(name: string): string[] {
  if (!name.includes('/')) return [];
  const segs = name.split('/').filter(Boolean);
  segs.pop();
  const chain: string[] = [];
  for (const s of segs) chain.push(chain.length ? `${chain[chain.length - 1]}.${s}` : s);
  return chain;
}

function makeModule(id: string, parent: ModuleNode | null): ModuleNode {
  const name = parent && parent.id && id.startsWith(parent.id + '.') ? id.slice(parent.id.length + 1) : id;
  const m: ModuleNode = { id, name, parent, children: [], depth: parent ? parent.depth + 1 : 0, nodes: [] };
  parent?.children.push(m);
  return m;
}

/** A node's scope as its name or metadata gives it, before structural scopes or noise placement. */
interface NodeScope {
  chain: string[];
  /** module classes along the chain (metadata only) */
  classes?: (string | undefined)[];
}
const scopesOf = new WeakMap<ModuleTree, Map<Node, NodeScope>>();

/** The tree of the model before an edit, and each node's counterpart there (the node that wrote the same outputs). */
export interface PreviousTree {
  tree: ModuleTree;
  counterpart: ReadonlyMap<Node, Node>;
}

/**
 * Builds the module tree. Noise nodes without a scope of their own (torch puts many Constants
 * at the top level) join the lowest common module of their consumers. With `previous`, a node
 * whose name and metadata are its counterpart's keeps the scope read from them (parsing names
 * and metadata is most of the cost); the tree is the same as without it.
 */
export function buildModuleTree(view: GraphView, noise: ReadonlyMap<Node, NoiseKind>, shapes?: ShapeMap, previous?: PreviousTree): ModuleTree {
  const root = makeModule('', null);
  const byId = new Map<string, ModuleNode>([['', root]]);
  const moduleOf = new Map<Node, ModuleNode>();
  const ensure = (chain: readonly string[]) => {
    let cur = root;
    for (const id of chain) {
      let m = byId.get(id);
      if (!m) byId.set(id, (m = makeModule(id, cur)));
      cur = m;
    }
    return cur;
  };

  const chains = new Map<Node, string[]>();
  const scopes = new Map<Node, NodeScope>();
  const prevScopes = previous && scopesOf.get(previous.tree);
  let fromMetadata = false;
  let scoped = false;
  const classOf = new Map<string, string>();
  for (const n of view.nodes) {
    const old = prevScopes && previous.counterpart.get(n);
    let scope = old && old.name === n.name && old.metadataProps === n.metadataProps ? prevScopes.get(old) : undefined;
    if (!scope) {
      const meta = scopeAndClasses(n);
      scope = meta ? { chain: meta.chain, classes: meta.classes } : { chain: scopeFromName(n.name) };
    }
    scopes.set(n, scope);
    const classes = scope.classes;
    if (classes) {
      fromMetadata = true;
      scope.chain.forEach((id, i) => {
        const c = classes[i];
        if (c && !classOf.has(id)) classOf.set(id, c);
      });
    }
    if (scope.chain.length) scoped = true;
    chains.set(n, scope.chain);
  }
  const source: ScopeSource = fromMetadata ? 'metadata' : scoped ? 'node-names' : 'structure';
  if (source === 'structure') for (const [n, chain] of structuralScopes(view, noise, shapes)) chains.set(n, chain);

  for (const n of view.nodes) moduleOf.set(n, ensure(chains.get(n)!));
  const order = view.topoOrder();
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    if (!noise.has(n) || chains.get(n)!.length) continue;
    const users: ModuleNode[] = [];
    for (const o of n.outputs) if (o) for (const c of view.consumers(o)) users.push(moduleOf.get(c)!);
    if (users.length) moduleOf.set(n, lowestCommon(users));
  }
  for (const n of view.nodes) moduleOf.get(n)!.nodes.push(n);
  for (const [id, c] of classOf) {
    const m = byId.get(id);
    if (m) m.className = c;
  }
  const tree: ModuleTree = { root, byId, moduleOf, source };
  scopesOf.set(tree, scopes);
  return tree;
}

/** The deepest module containing all the given ones. */
export function lowestCommon(modules: readonly ModuleNode[]): ModuleNode {
  let acc = modules[0];
  for (let i = 1; i < modules.length; i++) {
    let b = modules[i];
    let a = acc;
    while (a.depth > b.depth) a = a.parent!;
    while (b.depth > a.depth) b = b.parent!;
    while (a !== b) {
      a = a.parent!;
      b = b.parent!;
    }
    acc = a;
  }
  return acc;
}

/** Modules in depth-first pre-order (a parent before its children, children in first-seen order). */
export function walkModules(root: ModuleNode, visit: (m: ModuleNode) => void): void {
  const stack = [root];
  while (stack.length) {
    const m = stack.pop()!;
    visit(m);
    for (let i = m.children.length - 1; i >= 0; i--) stack.push(m.children[i]);
  }
}

/** Every node in the module and its descendants, in graph order. */
export function subtreeNodes(tree: ModuleTree, m: ModuleNode): Node[] {
  // From each module's own node list rather than a scan of every node per call: candidates calls this for
  // every module (the SDXL U-Net: ~1,500 modules × 5,400 nodes). Graph order is moduleOf's order.
  let pos = graphOrder.get(tree);
  if (!pos || pos.size !== tree.moduleOf.size) {
    pos = new Map();
    for (const n of tree.moduleOf.keys()) pos.set(n, pos.size);
    graphOrder.set(tree, pos);
  }
  const out: Node[] = [];
  walkModules(m, (x) => { for (const n of x.nodes) if (tree.moduleOf.get(n) === x) out.push(n); });
  const at = pos;
  return out.sort((a, b) => at.get(a)! - at.get(b)!);
}

const graphOrder = new WeakMap<ModuleTree, Map<Node, number>>();

export interface ModuleBoundary {
  /** the subtree's nodes, in graph order */
  nodes: Node[];
  /** values read from outside the module (graph inputs or other modules' outputs), first use first */
  inputs: string[];
  /** initializers the module reads */
  initializers: string[];
  /** values the module writes that something outside reads, or that are graph outputs */
  outputs: string[];
}

/** Where a module meets the rest of the graph: what surgery on it must reconnect. */
export function moduleBoundary(view: GraphView, tree: ModuleTree, m: ModuleNode): ModuleBoundary {
  const nodes = subtreeNodes(tree, m);
  const inside = new Set(nodes);
  const inputs: string[] = [];
  const initializers: string[] = [];
  const seen = new Set<string>();
  const outputs: string[] = [];
  for (const n of nodes) {
    for (const x of view.allInputs(n)) {
      if (seen.has(x)) continue;
      seen.add(x);
      const p = view.producer(x);
      if (p && inside.has(p)) continue;
      if (!p && view.initializer(x)) initializers.push(x);
      else inputs.push(x);
    }
  }
  for (const n of nodes) {
    for (const o of n.outputs) {
      if (o && (view.isGraphOutput(o) || view.consumers(o).some((c) => !inside.has(c)))) outputs.push(o);
    }
  }
  return { nodes, inputs, initializers, outputs };
}
