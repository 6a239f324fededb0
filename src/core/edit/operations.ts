// Each edit turns the current model into a new one: a structural copy (cloneModel: nodes, value
// infos and attribute lists are new objects, tensor payloads are shared and never changed), so the
// model before the edit stays intact for undo. Objects the copy shares with the model before it
// (TensorData, Attribute) are replaced, never mutated. Refusals that need no shape pass happen here;
// checks.ts compares shapes and element types of the result with the model before.
import { GraphView, subgraphsOf, type DimValue, type ModelAnalysis } from '../graph';
import { attr } from '../graph/attrs';
import { AttrType, elemTypeName, type Attribute, type Dim, type Graph, type Model, type Node, type ValueInfo } from '../onnx/types';
import { contains } from '../prune/select';
import { applyModifications, cloneModel, sameShape, type Candidate, type ModificationPlan } from '../surgery';
import { fmt } from '../surgery/regions';
import { attributeProblem } from './attribute-rules';
import { EditRefused, type AttributeInput, type ModelEdit, type ReplaceMethod } from './types';

export interface EditContext {
  model: Model;
  analysis: ModelAnalysis;
  /** the model's candidates, element types checked (a bool output is never replaced by a float) */
  candidates: () => readonly Candidate[];
}

export interface EditOutcome {
  model: Model;
  /** a label for the undo stack */
  label: string;
  /** node ids (in the new model) changed in place: an attribute, a name */
  touched: string[];
  /** a view already indexing the new model's graph, when the edit built one */
  view?: GraphView;
}

const where = (m: Model) => m.path || 'the model';

function refuse(m: Model, message: string, subject?: string): never {
  throw new EditRefused(`${where(m)}: ${message}`, m.path, subject);
}

function candidate(ctx: EditContext, id: string): Candidate {
  for (const c of ctx.candidates()) if (c.id === id || c.aliases?.includes(id)) return c;
  const known = ctx.analysis.tree.byId.has(id);
  return refuse(ctx.model, known ? `module '${id}' is not a block or layer that can be bypassed or replaced` : `there is no module '${id}'`, id);
}

function nodeOf(ctx: EditContext, id: string): Node {
  const n = ctx.analysis.view.nodeById(id);
  if (!n) refuse(ctx.model, `there is no node '${id}'`, id);
  return n;
}

/** The node at the same index of a structural copy (cloneModel keeps node order). */
function sameNode(ctx: EditContext, copy: Model, n: Node): Node {
  return copy.graph.nodes[ctx.model.graph.nodes.indexOf(n)];
}

function moduleLabel(ctx: EditContext, n: Node): string {
  const m = ctx.analysis.tree.moduleOf.get(n);
  return m?.id ? ` (in ${m.id})` : '';
}

export function applyEdit(ctx: EditContext, edit: ModelEdit): EditOutcome {
  switch (edit.kind) {
    case 'bypass': return bypass(ctx, edit.module);
    case 'replace': return replace(ctx, edit.module, edit.with);
    case 'remove-node': return removeNode(ctx, edit.node);
    case 'rename-node': return renameNode(ctx, edit.node, edit.to);
    case 'rename-value': return renameValue(ctx, edit.value, edit.to);
    case 'set-attribute': return setAttribute(ctx, edit.node, edit.name, edit.input);
    case 'set-output': return setOutput(ctx, edit.value);
    case 'clear-output': return clearOutput(ctx, edit.value);
    case 'accept-prunes': return acceptPrunes(ctx, edit.modules);
    case 'reject-prunes': {
      for (const id of edit.modules) candidate(ctx, id);
      return { model: ctx.model, label: `Reject ${plural(edit.modules.length, 'suggested prune')}`, touched: [] };
    }
    default: {
      const kind = (edit as { kind?: unknown }).kind;
      return refuse(ctx.model, `unknown edit '${String(kind)}'`);
    }
  }
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function applyPlanned(ctx: EditContext, list: Candidate[]): { model: Model; view: GraphView } {
  try {
    const { model, view } = applyModifications(ctx.model, list);
    return { model, view };
  } catch (e) {
    if (e instanceof EditRefused) throw e;
    if (e instanceof Error && e.name === 'UserError') throw new EditRefused(e.message, ctx.model.path, list[0]?.id);
    throw e;
  }
}

function bypass(ctx: EditContext, id: string): EditOutcome {
  const c = candidate(ctx, id);
  if (!c.modification) refuse(ctx.model, `cannot bypass '${id}': ${c.reason}`, id);
  return { ...applyPlanned(ctx, [c]), label: `Bypass ${id} (${c.modification.method})`, touched: [] };
}

function replace(ctx: EditContext, id: string, method: ReplaceMethod): EditOutcome {
  const c = candidate(ctx, id);
  const a = ctx.analysis;
  if (method === 'shortcut') {
    if (c.modification?.method !== 'shortcut') {
      const why = c.kind !== 'resnet'
        ? `it is a ${c.kind}, and only a ResNet block becomes its 1×1 conv_shortcut`
        : c.modification ? `its input and output shapes allow a cheaper ${c.modification.method} instead, so it has no conv_shortcut to become` : c.reason;
      refuse(ctx.model, `cannot replace '${id}' by its shortcut: ${why}`, id);
    }
    return { ...applyPlanned(ctx, [c]), label: `Replace ${id} by its conv_shortcut`, touched: [] };
  }
  if (!c.entry || !c.exit) refuse(ctx.model, `cannot replace '${id}' by identity: ${c.reason}`, id);
  const inS = a.shapes.get(c.entry);
  const outS = a.shapes.get(c.exit);
  if (!sameShape(inS?.shape, outS?.shape)) {
    refuse(ctx.model, `cannot replace '${id}' by identity: its input ${c.entry} ${fmt(inS?.shape)} and output ${c.exit} ${fmt(outS?.shape)} differ in shape`, id);
  }
  if (inS?.elemType !== undefined && outS?.elemType !== undefined && inS.elemType !== outS.elemType) {
    refuse(ctx.model, `cannot replace '${id}' by identity: its output ${c.exit} is ${elemTypeName(outS.elemType)} but its input ${c.entry} is ${elemTypeName(inS.elemType)}`, id);
  }
  if (a.view.isGraphOutput(c.exit)) refuse(ctx.model, `cannot replace '${id}' by identity: its output ${c.exit} is a graph output`, id);
  const plan: ModificationPlan = {
    action: 'remove', method: 'identity', target: c.exit, source: c.entry, steps: [],
    description: `the output ${c.exit} is replaced by the input ${c.entry}`,
  };
  return { ...applyPlanned(ctx, [{ ...c, modification: plan }]), label: `Replace ${id} by identity`, touched: [] };
}

function removeNode(ctx: EditContext, id: string): EditOutcome {
  const n = nodeOf(ctx, id);
  const view = ctx.analysis.view;
  for (const o of n.outputs) {
    if (!o) continue;
    if (view.isGraphOutput(o)) refuse(ctx.model, `cannot remove node '${id}'${moduleLabel(ctx, n)}: its output ${o} is a graph output`, id);
    const readers = view.consumers(o).filter((c) => c !== n);
    if (readers.length) {
      refuse(ctx.model, `cannot remove node '${id}'${moduleLabel(ctx, n)}: its output ${o} is read by ${readers.slice(0, 3).map((r) => `'${view.nodeId(r)}'`).join(', ')}${readers.length > 3 ? '…' : ''}`, id);
    }
  }
  const m = cloneModel(ctx.model);
  const g = m.graph;
  const gone = sameNode(ctx, m, n);
  g.nodes = g.nodes.filter((x) => x !== gone);
  // weights only this node read go with it; graph inputs stay (they are the model's signature)
  const stillRead = new Set<string>();
  for (const x of g.nodes) for (const i of view.allInputs(x)) stillRead.add(i);
  for (const o of g.outputs) stillRead.add(o.name);
  const inputs = new Set(g.inputs.map((v) => v.name));
  const orphan = (name: string) => view.allInputs(n).includes(name) && !stillRead.has(name) && !inputs.has(name);
  g.initializers = g.initializers.filter((t) => !orphan(t.name));
  g.sparseInitializers = g.sparseInitializers.filter((s) => !orphan(s.values.name));
  const outs = new Set(n.outputs);
  g.valueInfo = g.valueInfo.filter((v) => !outs.has(v.name));
  return { model: m, label: `Remove node ${id}`, touched: [] };
}

function renameNode(ctx: EditContext, id: string, to: string): EditOutcome {
  const n = nodeOf(ctx, id);
  if (!to.trim()) refuse(ctx.model, `cannot rename node '${id}': the new name is empty`, id);
  if (to === n.name) refuse(ctx.model, `node '${id}' is already named '${to}'`, id);
  const clash = ctx.model.graph.nodes.find((x) => x !== n && x.name === to);
  if (clash) refuse(ctx.model, `cannot rename node '${id}' to '${to}': another ${clash.opType} node has that name`, id);
  const m = cloneModel(ctx.model);
  sameNode(ctx, m, n).name = to;
  return { model: m, label: `Rename node ${id} → ${to}`, touched: [to] };
}

/** Every name any scope of the graph defines or reads (node outputs, inputs, initializers, value infos). */
function allNames(g: Graph, into = new Set<string>()): Set<string> {
  for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) into.add(v.name);
  for (const t of g.initializers) into.add(t.name);
  for (const s of g.sparseInitializers) into.add(s.values.name);
  for (const n of g.nodes) {
    for (const x of [...n.inputs, ...n.outputs]) if (x) into.add(x);
    for (const sub of subgraphsOf(n)) allNames(sub, into);
  }
  return into;
}

/** Renames `from` in `g` and in subgraph bodies that read it from this scope (not where a body defines its own). */
function renameIn(g: Graph, from: string, to: string, outer: boolean): void {
  const defines = g.inputs.some((v) => v.name === from) || g.initializers.some((t) => t.name === from)
    || g.sparseInitializers.some((s) => s.values.name === from) || g.nodes.some((n) => n.outputs.includes(from));
  if (outer && defines) return; // a body's own value of that name shadows the outer one
  const swap = (x: string) => (x === from ? to : x);
  for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) if (v.name === from) v.name = to;
  g.initializers = g.initializers.map((t) => (t.name === from ? { ...t, name: to } : t));
  g.sparseInitializers = g.sparseInitializers.map((s) => (s.values.name === from ? { ...s, values: { ...s.values, name: to } } : s));
  for (const n of g.nodes) {
    n.inputs = n.inputs.map(swap);
    n.outputs = n.outputs.map(swap);
    for (const sub of subgraphsOf(n)) renameIn(sub, from, to, true);
  }
}

function renameValue(ctx: EditContext, from: string, to: string): EditOutcome {
  const view = ctx.analysis.view;
  if (view.kind(from) === 'missing') refuse(ctx.model, `there is no value '${from}'`, from);
  if (!to.trim()) refuse(ctx.model, `cannot rename value '${from}': the new name is empty`, from);
  if (to === from) refuse(ctx.model, `value '${from}' already has that name`, from);
  if (allNames(ctx.model.graph).has(to)) refuse(ctx.model, `cannot rename value '${from}' to '${to}': a value named '${to}' already exists`, from);
  const m = cloneModel(ctx.model);
  renameIn(m.graph, from, to, false);
  const touched = [...view.consumers(from), ...(view.producer(from) ? [view.producer(from)!] : [])].map((n) => view.nodeId(n));
  return { model: m, label: `Rename value ${from} → ${to}`, touched };
}

const TYPE_OF: Record<string, AttrType> = {
  int: AttrType.INT, ints: AttrType.INTS, float: AttrType.FLOAT, floats: AttrType.FLOATS, string: AttrType.STRING, strings: AttrType.STRINGS,
};
const EDITABLE: AttrType[] = [AttrType.INT, AttrType.INTS, AttrType.FLOAT, AttrType.FLOATS, AttrType.STRING, AttrType.STRINGS];
const TYPE_NAME: Partial<Record<AttrType, string>> = {
  [AttrType.INT]: 'an integer', [AttrType.INTS]: 'a list of integers', [AttrType.FLOAT]: 'a number', [AttrType.FLOATS]: 'a list of numbers',
  [AttrType.STRING]: 'a string', [AttrType.STRINGS]: 'a list of strings',
};

function parseList(text: string): string[] {
  const inner = text.trim().replace(/^\[(.*)\]$/s, '$1').trim();
  return inner ? inner.split(/\s*,\s*|\s+/) : [];
}

/** The attribute the user's input makes, or why it does not fit the attribute's type. */
export function attributeFromInput(name: string, type: AttrType, input: AttributeInput): Attribute | string {
  const want = TYPE_NAME[type] ?? 'a value';
  const int = (x: unknown) => (typeof x === 'number' && Number.isSafeInteger(x) ? x : typeof x === 'string' && /^[+-]?\d+$/.test(x.trim()) && Number.isSafeInteger(Number(x)) ? Number(x) : undefined);
  const num = (x: unknown) => {
    const v = typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : NaN;
    return Number.isFinite(v) ? v : undefined;
  };
  const given = input.type === 'text' ? input.value : input.value;
  if (input.type !== 'text' && TYPE_OF[input.type] !== type) return `'${name}' takes ${want}, got a ${input.type} value`;
  switch (type) {
    case AttrType.INT: {
      const v = int(given);
      return v === undefined ? `'${name}' takes ${want}, got '${String(given)}'` : { name, type, i: v };
    }
    case AttrType.FLOAT: {
      const v = num(given);
      return v === undefined ? `'${name}' takes ${want}, got '${String(given)}'` : { name, type, f: v };
    }
    case AttrType.INTS: {
      const items = Array.isArray(given) ? given : parseList(String(given));
      const vs = items.map(int);
      const bad = vs.findIndex((v) => v === undefined);
      return bad >= 0 ? `'${name}' takes ${want}, and '${String(items[bad])}' is not an integer` : { name, type, ints: vs as number[] };
    }
    case AttrType.FLOATS: {
      const items = Array.isArray(given) ? given : parseList(String(given));
      const vs = items.map(num);
      const bad = vs.findIndex((v) => v === undefined);
      return bad >= 0 ? `'${name}' takes ${want}, and '${String(items[bad])}' is not a number` : { name, type, floats: vs as number[] };
    }
    case AttrType.STRING:
      return typeof given === 'string' ? { name, type, s: new TextEncoder().encode(given) } : `'${name}' takes ${want}`;
    case AttrType.STRINGS: {
      const items = Array.isArray(given) ? given.map(String) : parseList(String(given));
      return { name, type, strings: items.map((s) => new TextEncoder().encode(s)) };
    }
    default:
      return `'${name}' is a ${AttrType[type]?.toLowerCase() ?? 'structured'} attribute, which cannot be edited as text`;
  }
}

function setAttribute(ctx: EditContext, id: string, name: string, input: AttributeInput): EditOutcome {
  const n = nodeOf(ctx, id);
  if (!name.trim()) refuse(ctx.model, `node '${id}': the attribute name is empty`, id);
  const old = attr(n, name);
  let type: AttrType;
  if (old) type = old.type;
  else if (input.type === 'text') return refuse(ctx.model, `node '${id}' (${n.opType}) has no attribute '${name}'; give its type to add it`, id);
  else type = TYPE_OF[input.type];
  if (!EDITABLE.includes(type)) refuse(ctx.model, `node '${id}': attribute '${name}' is a ${AttrType[type]?.toLowerCase()} attribute, which cannot be edited here`, id);
  const made = attributeFromInput(name, type, input);
  if (typeof made === 'string') refuse(ctx.model, `node '${id}' (${n.opType})${moduleLabel(ctx, n)}: ${made}`, id);
  const problem = attributeProblem(n, made, (i) => (n.inputs[i] ? ctx.analysis.shapes.get(n.inputs[i])?.shape : undefined));
  if (problem) refuse(ctx.model, `node '${id}' (${n.opType})${moduleLabel(ctx, n)}: ${problem}`, id);
  const m = cloneModel(ctx.model);
  const copy = sameNode(ctx, m, n);
  copy.attributes = old ? copy.attributes.map((x) => (x.name === name ? made : x)) : [...copy.attributes, made];
  return { model: m, label: `Set ${id}.${name}`, touched: [id] };
}

function dimsOf(shape: readonly DimValue[] | undefined): Dim[] | undefined {
  return shape?.map((d): Dim => (typeof d === 'number' ? { value: d } : typeof d === 'string' ? { param: d } : {}));
}

function setOutput(ctx: EditContext, value: string): EditOutcome {
  const a = ctx.analysis;
  const kind = a.view.kind(value);
  if (kind === 'missing') refuse(ctx.model, `there is no value '${value}'`, value);
  if (a.view.isGraphOutput(value)) refuse(ctx.model, `'${value}' is already a graph output`, value);
  const facts = a.shapes.get(value);
  if (facts?.elemType === undefined) refuse(ctx.model, `cannot make '${value}' a graph output: its element type is unknown`, value);
  const m = cloneModel(ctx.model);
  const out: ValueInfo = { name: value, type: { kind: 'tensor', elemType: facts.elemType, shape: dimsOf(facts.shape) } };
  m.graph.outputs.push(out);
  return { model: m, label: `Set output ${value}`, touched: [] };
}

function clearOutput(ctx: EditContext, value: string): EditOutcome {
  const g = ctx.model.graph;
  if (!g.outputs.some((o) => o.name === value)) refuse(ctx.model, `'${value}' is not a graph output`, value);
  if (g.outputs.length === 1) refuse(ctx.model, `cannot clear output '${value}': it is the model's only output`, value);
  const m = cloneModel(ctx.model);
  const declared = m.graph.outputs.find((o) => o.name === value)!;
  m.graph.outputs = m.graph.outputs.filter((o) => o.name !== value);
  new GraphView(m.graph).cleanup({ removeUnusedInputs: false });
  // A value still made (another output of its node is needed) keeps its declared type: for ops whose
  // shapes are not inferred here (Adam, LSTM, contrib ops) the declaration is all that is known of it.
  const stillMade = m.graph.nodes.some((n) => n.outputs.includes(value));
  if (stillMade && declared.type && !m.graph.valueInfo.some((v) => v.name === value)) m.graph.valueInfo.push(declared);
  return { model: m, label: `Clear output ${value}`, touched: [] };
}

function acceptPrunes(ctx: EditContext, ids: readonly string[]): EditOutcome {
  if (!ids.length) refuse(ctx.model, 'no suggested prunes to accept');
  const list: Candidate[] = [];
  for (const id of ids) {
    const c = candidate(ctx, id);
    if (!c.modification) refuse(ctx.model, `cannot accept the prune of '${id}': ${c.reason}`, id);
    if (!list.includes(c)) list.push(c);
  }
  // a module inside another accepted one goes with it; a partial overlap is ambiguous
  const chosen: Candidate[] = [];
  for (const c of [...list].sort((p, q) => q.nodeIndices.length - p.nodeIndices.length)) {
    if (chosen.some((o) => contains(o, c))) continue;
    const s = new Set(c.nodeIndices);
    const clash = chosen.find((o) => o.nodeIndices.some((i) => s.has(i)));
    if (clash) refuse(ctx.model, `'${clash.id}' and '${c.id}' share nodes but neither contains the other; accept one of them`, c.id);
    chosen.push(c);
  }
  return { ...applyPlanned(ctx, chosen), label: `Accept ${plural(chosen.length, 'suggested prune')}`, touched: [] };
}
