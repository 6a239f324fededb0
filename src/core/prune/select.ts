// Which candidates a prune removes: explicit ids, the k lowest-scored, the k lowest-scored blocks of one
// depth stack, or lowest-scored first until a latency / params / FLOPs target is met. A candidate inside an already chosen one (a layer of a
// removed block) is gone with it and never counted twice; a block chosen after one of its layers
// takes the layer's place. Unmodifiable candidates are never chosen.
import type { Node } from '../onnx/types';
import { UserError } from '../errors';
import { findStacks, resolveStack, type ModelAnalysis } from '../graph';
import { ranked, type ScoredCandidate, type ScoreFile } from '../scoring/score-file';
import { selectCandidates, type Candidate } from '../surgery';
import { ancestorNodes } from '../surgery/regions';
import type { PruneSelection, PruneTargetKind } from './types';

export interface Savings {
  params: number;
  flops: number;
  /** share (0..1) of the measured latency, when the score file has latency shares */
  latency: number | undefined;
}

export interface Selection {
  chosen: Candidate[];
  subsumed: { id: string; by: string }[];
  /** for a target: the estimated fraction saved by `chosen` */
  estimatedFraction?: number;
  /** for a stack selection: the stack's own id */
  stack?: string;
}

/** "-35%", "35%", "-0.35" or "0.35" → 0.35 (a reduction is asked for; the sign is optional). */
export function parseTargetFraction(flag: string, text: string): number {
  const t = text.trim();
  const pct = /^-?(\d+(?:\.\d+)?)\s*%$/.exec(t);
  const value = pct ? Number(pct[1]) / 100 : /^-?\d*\.?\d+$/.test(t) ? Math.abs(Number(t)) : NaN;
  if (!(value > 0 && value < 1)) throw new UserError(`${flag} '${text}': expected a reduction between 0% and 100%, e.g. -35%`);
  return value;
}

/** Whether every node of `inner` is a node of `outer` (a layer inside a block). */
export function contains(outer: Candidate, inner: Candidate): boolean {
  if (outer === inner) return true;
  const s = new Set(outer.nodeIndices);
  return inner.nodeIndices.every((i) => s.has(i));
}

function overlaps(a: Candidate, b: Candidate): boolean {
  const s = new Set(a.nodeIndices);
  return b.nodeIndices.some((i) => s.has(i));
}

/**
 * What removing `c` alone saves. Parameters a replacement keeps using (the 1×1 conv_shortcut a
 * ResNet becomes) are not saved; FLOPs the replacement costs are subtracted.
 */
export function savingsOf(a: ModelAnalysis, c: Candidate, latencyShare: number | undefined): Savings {
  const region = new Set<Node>(c.nodeIndices.map((i) => a.view.nodes[i]));
  const plan = c.modification;
  // a shortcut replacement keeps the part of the region that computes it
  const kept = plan?.method === 'shortcut' ? ancestorNodes(a, plan.source, region) : new Set<Node>();
  let keptParams = 0;
  if (kept.size) {
    for (const p of a.params) if (p.users.length && p.users.every((u) => region.has(u)) && p.users.some((u) => kept.has(u))) keptParams += p.elements;
  }
  return { params: c.params - keptParams, flops: c.flops - c.replacementFlops, latency: latencyShare };
}

function where(path: string): string {
  return path || 'the model';
}

/** Drops candidates contained in another chosen one; a partial overlap is an error. */
function dedupeNested(list: Candidate[], path: string): Selection {
  const chosen: Candidate[] = [];
  const subsumed: { id: string; by: string }[] = [];
  // outer candidates first, so inner ones find their container
  const bySize = [...list].sort((p, q) => q.nodeIndices.length - p.nodeIndices.length);
  for (const c of bySize) {
    const outer = chosen.find((o) => contains(o, c));
    if (outer) {
      subsumed.push({ id: c.id, by: outer.id });
      continue;
    }
    const clash = chosen.find((o) => overlaps(o, c));
    if (clash) throw new UserError(`${where(path)}: candidates '${clash.id}' and '${c.id}' share nodes but neither contains the other; choose one`, path);
    chosen.push(c);
  }
  return { chosen: list.filter((c) => chosen.includes(c)), subsumed };
}

export interface SelectArgs {
  selection: PruneSelection;
  analysis: ModelAnalysis;
  candidates: Candidate[];
  scoreFile?: ScoreFile;
  scorePath?: string;
  modelPath: string;
  /** for a params/FLOPs target: aim this much higher than asked (the verification loop raises it) */
  targetBoost?: number;
}

/** Resolves a selection against the model's candidates (and the score file, where one is needed). */
export function selectForPrune(s: SelectArgs): Selection {
  const sel = s.selection;
  if (sel.mode === 'ops') return dedupeNested(selectCandidates(s.candidates, sel.ids, where(s.modelPath)), s.modelPath);
  if (!s.scoreFile) throw new Error('a score file is needed for this selection');
  const byId = new Map<string, Candidate>();
  for (const c of s.candidates) {
    byId.set(c.id, c);
    for (const alias of c.aliases ?? []) byId.set(alias, c);
  }
  const order = ranked(s.scoreFile).filter((e) => !e.nonFinite);
  for (const e of order) {
    if (!byId.has(e.id)) {
      throw new UserError(`${s.scorePath}: scores candidate '${e.id}', which ${s.modelPath} does not have; the score file is for another version of the model: score it again`, s.scorePath);
    }
  }
  if (sel.mode === 'stack') return selectFromStack(s, sel.stack, sel.count, byId);
  if (sel.mode === 'lowest') {
    if (!Number.isInteger(sel.count) || sel.count < 0) throw new UserError(`--lowest ${sel.count}: expected a count ≥ 0`);
    const picks = greedy(order, byId, undefined, (p) => p.length >= sel.count);
    if (picks.chosen.length < sel.count) {
      throw new UserError(`${s.scorePath}: --lowest ${sel.count} asks for more candidates than can be removed together (${picks.chosen.length} scored, modifiable and not nested in one another)`, s.scorePath);
    }
    return picks;
  }
  return selectTarget(s, sel.kind, sel.fraction, order, byId);
}

/** The `count` lowest-scored blocks of one depth stack; every block of it must have been scored. */
function selectFromStack(s: SelectArgs, name: string, count: number, byId: Map<string, Candidate>): Selection {
  const a = s.analysis;
  const stacks = findStacks(a.view, a.tree, a.noise);
  const { stack, ambiguous } = resolveStack(stacks, name);
  if (ambiguous) throw new UserError(`--stack ${name}: ${where(s.modelPath)} holds several stacks there (${ambiguous.map((x) => x.id).join(', ')}); name one`, s.modelPath);
  if (!stack) {
    const known = stacks.length ? `its stacks: ${stacks.map((x) => `${x.id} (${x.members.length})`).join(', ')}` : 'it has none';
    throw new UserError(`--stack ${name}: not a depth stack of ${where(s.modelPath)} (${known})`, s.modelPath);
  }
  const n = stack.members.length;
  if (!Number.isInteger(count) || count < 1 || count > n - 1) {
    throw new UserError(`--k ${count}: stack ${stack.id} has ${n} blocks; expected 1 to ${n - 1} (at least one block stays)`);
  }
  const entryOf = new Map<Candidate, ScoredCandidate>();
  for (const e of ranked(s.scoreFile!)) {
    const c = byId.get(e.id);
    if (c && !entryOf.has(c)) entryOf.set(c, e);
  }
  const members = stack.members.map((id) => ({ id, c: byId.get(id) }));
  const unscored = members.filter((m) => !m.c || !entryOf.has(m.c)).map((m) => m.id);
  if (unscored.length) {
    throw new UserError(`${s.scorePath}: ${unscored.length} of the ${n} blocks of stack ${stack.id} have no score (${unscored.slice(0, 3).join(', ')}${unscored.length > 3 ? ', …' : ''}); score with --granularity block or both, and let the run finish`, s.scorePath);
  }
  // lowest first; a block whose removal gave NaN/Inf latents ranks last (score +∞)
  const key = (c: Candidate) => (entryOf.get(c)!.nonFinite ? Infinity : entryOf.get(c)!.score!);
  const modifiable = members.map((m) => m.c!).filter((c) => c.modification).sort((p, q) => key(p) - key(q) || (p.id < q.id ? -1 : 1));
  if (modifiable.length < count) {
    throw new UserError(`--k ${count}: only ${modifiable.length} of the ${n} blocks of stack ${stack.id} can be removed (${members.filter((m) => !m.c!.modification).map((m) => `${m.id}: ${m.c!.reason ?? 'no modification'}`).join('; ')})`);
  }
  return { chosen: modifiable.slice(0, count), subsumed: [], stack: stack.id };
}

function selectTarget(s: SelectArgs, kind: PruneTargetKind, fraction: number, order: ScoredCandidate[], byId: Map<string, Candidate>): Selection {
  const a = s.analysis;
  const root = a.total.get(a.tree.root)!;
  const total = kind === 'params' ? root.params : kind === 'flops' ? root.flops : 1;
  if (kind === 'latency' && !order.some((e) => e.latencyShare !== undefined)) {
    throw new UserError(`${s.scorePath}: has no latency shares (it was scored without profiling); use --target-flops or --target-params, or score again with profiling on`, s.scorePath);
  }
  if (!(total > 0)) throw new UserError(`${s.modelPath}: the model's total ${kind} is unknown (give concrete input dims)`, s.modelPath);
  const gain = (c: Candidate, e: ScoredCandidate | undefined) => {
    const v = savingsOf(a, c, e?.latencyShare ?? c.latencyShare);
    return (kind === 'params' ? v.params : kind === 'flops' ? v.flops : v.latency ?? 0) / total;
  };
  const goal = Math.min(1, fraction * (s.targetBoost ?? 1));
  let reached = 0;
  const picks = greedy(order, byId, gain, (_, saved) => (reached = saved) >= goal - 1e-12);
  if (reached < goal - 1e-12) {
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    throw new UserError(
      `${s.scorePath}: the ${kind} target −${pct(fraction)} cannot be reached: removing every scored, modifiable candidate saves about ${pct(reached)} of the ${kind}${kind === 'latency' ? ' (by the score file\'s measured latency shares)' : ''}; nothing was written`,
      s.scorePath);
  }
  return { ...picks, estimatedFraction: reached };
}

/**
 * Lowest score first. A candidate inside a chosen one is skipped; one containing chosen candidates
 * replaces them (its gain counts net of theirs); a partial overlap is skipped. With a gain function
 * (a target), candidates that gain nothing toward it are skipped: they would cost quality for nothing.
 */
function greedy(
  order: ScoredCandidate[], byId: Map<string, Candidate>,
  gain: ((c: Candidate, e: ScoredCandidate | undefined) => number) | undefined,
  done: (chosen: Candidate[], saved: number) => boolean,
): Selection {
  let chosen: Candidate[] = [];
  const entry = new Map<Candidate, ScoredCandidate>();
  let subsumed: { id: string; by: string }[] = [];
  let saved = 0;
  if (done(chosen, saved)) return { chosen, subsumed };
  for (const e of order) {
    const c = byId.get(e.id)!;
    if (!c.modification || entry.has(c)) continue;
    if (chosen.some((p) => contains(p, c))) continue;
    const inner = chosen.filter((p) => contains(c, p));
    if (chosen.some((p) => !inner.includes(p) && overlaps(p, c))) continue;
    const g = gain ? gain(c, e) - inner.reduce((sum, p) => sum + gain(p, entry.get(p)), 0) : 0;
    if (gain && g <= 0) continue;
    chosen = [...chosen.filter((p) => !inner.includes(p)), c];
    for (const p of inner) subsumed.push({ id: p.id, by: c.id });
    subsumed = subsumed.map((x) => (inner.some((p) => p.id === x.by) ? { id: x.id, by: c.id } : x));
    entry.set(c, e);
    saved += g;
    if (done(chosen, saved)) break;
  }
  return { chosen, subsumed };
}
