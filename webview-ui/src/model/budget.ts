// Which candidates to prune for a savings target, and what a selection saves.
//
// Candidates nest: with granularity "both" the scorer rates whole blocks (`down_blocks.1.attentions.0`)
// and the layers inside them (`down_blocks.1.attentions.0.proj_in`). Removing a block removes its
// layers, so a selection is kept as its *roots* (no member inside another) and savings add up
// over roots only.
import type { BudgetMetric, CandidateResult, SelectionBudget } from '../../../src/protocol/webview';
import { isPrunable } from './scores';

/** The candidates strictly containing `id`, innermost first or in any order. */
export type AncestorsOf = (id: string) => readonly string[];

/** For module paths alone: `a.b.c` is inside `a.b` and `a`. */
export const dottedAncestors: AncestorsOf = (id) => {
  const out: string[] = [];
  for (let i = id.lastIndexOf('.'); i > 0; i = id.lastIndexOf('.', i - 1)) out.push(id.slice(0, i));
  return out;
};

export interface Totals {
  params: number;
  flops: number;
}

export interface Savings {
  params: number;
  flops: number;
  /** fraction (0..1) of model latency, summed over roots that report a latency share */
  latency: number;
  paramsPct: number;
  flopsPct: number;
  latencyPct: number;
  /** the selection without members covered by another member */
  roots: string[];
  /** selected candidates whose latency share is unknown (so `latency` is a lower bound) */
  latencyUnknown: number;
}

export function metricValue(r: CandidateResult, metric: BudgetMetric): number {
  switch (metric) {
    case 'latency': return r.latencyShare ?? 0;
    case 'params': return r.params;
    case 'flops': return r.flops;
  }
}

/** Members of `selected` that no other member contains, in the order given. */
export function selectionRoots(selected: Iterable<string>, ancestorsOf: AncestorsOf = dottedAncestors): string[] {
  const set = new Set(selected);
  return [...set].filter((id) => !ancestorsOf(id).some((a) => set.has(a)));
}

/** The selected candidate containing `id`, if any (so `id` is removed along with it). */
export function coveringMember(selected: ReadonlySet<string>, id: string, ancestorsOf: AncestorsOf = dottedAncestors): string | undefined {
  return ancestorsOf(id).find((a) => selected.has(a));
}

export function predictSavings(
  selected: Iterable<string>,
  results: ReadonlyMap<string, CandidateResult> | ((id: string) => CandidateResult | undefined),
  totals: Totals,
  ancestorsOf: AncestorsOf = dottedAncestors,
): Savings {
  const get = typeof results === 'function' ? results : (id: string) => results.get(id);
  const roots = selectionRoots(selected, ancestorsOf);
  let params = 0;
  let flops = 0;
  let latency = 0;
  let latencyUnknown = 0;
  for (const id of roots) {
    const r = get(id);
    if (!r) continue;
    params += r.params;
    flops += r.flops;
    if (r.latencyShare === undefined) latencyUnknown++;
    else latency += r.latencyShare;
  }
  const pct = (x: number, t: number) => (t > 0 ? (100 * x) / t : 0);
  return {
    params,
    flops,
    latency,
    paramsPct: pct(params, totals.params),
    flopsPct: pct(flops, totals.flops),
    latencyPct: 100 * latency,
    roots,
    latencyUnknown,
  };
}

export interface BudgetSelection {
  /** selection roots, in the order they were picked */
  ids: string[];
  savings: Savings;
  /** whether the target was met (false: every useful prunable candidate was taken and it still falls short) */
  reached: boolean;
}

/** Prunable candidates, least important first (ties by id, so the order is stable). */
export function rankCandidates(results: Iterable<CandidateResult>): CandidateResult[] {
  return [...results].filter(isPrunable).sort((a, b) => a.score! - b.score! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Greedy LD-Pruner selection: take candidates lowest score first until the predicted saving on the
 * budget's metric reaches the target. A candidate inside one already taken adds nothing and is
 * skipped; a block around ones already taken replaces them and adds only its difference; one that
 * adds nothing on the metric is skipped (it would cost quality for no saving). Unscored and
 * unmodifiable candidates are never taken.
 */
export function selectForBudget(
  results: Iterable<CandidateResult>,
  budget: SelectionBudget,
  totals: Totals,
  ancestorsOf: AncestorsOf = dottedAncestors,
): BudgetSelection {
  const ranked = rankCandidates(results);
  const byId = new Map(ranked.map((r) => [r.id, r]));
  const total = budget.metric === 'latency' ? 1 : budget.metric === 'params' ? totals.params : totals.flops;
  const target = (Math.max(0, Math.min(100, budget.percent)) / 100) * total;
  const chosen = new Set<string>();
  let saved = 0;
  const eps = total * 1e-12;
  if (target > 0) {
    for (const r of ranked) {
      if (saved + eps >= target) break;
      const anc = ancestorsOf(r.id);
      if (anc.some((a) => chosen.has(a))) continue;
      const inside = [...chosen].filter((c) => ancestorsOf(c).includes(r.id));
      const gain = metricValue(r, budget.metric) - inside.reduce((s, c) => s + metricValue(byId.get(c)!, budget.metric), 0);
      if (gain <= 0) continue;
      for (const c of inside) chosen.delete(c);
      chosen.add(r.id);
      saved += gain;
    }
  }
  const ids = [...chosen];
  return {
    ids,
    savings: predictSavings(ids, byId, totals, ancestorsOf),
    reached: saved + eps >= target,
  };
}

/**
 * Checking a candidate: it joins the selection and replaces any selected candidates inside it.
 * Unchecking removes it. Checking one already covered by a selected block changes nothing.
 */
export function toggleCandidate(selected: ReadonlySet<string>, id: string, ancestorsOf: AncestorsOf = dottedAncestors): Set<string> {
  const next = new Set(selected);
  if (next.has(id)) {
    next.delete(id);
    return next;
  }
  if (coveringMember(next, id, ancestorsOf)) return next;
  for (const c of [...next]) if (ancestorsOf(c).includes(id)) next.delete(c);
  next.add(id);
  return next;
}
