// Text tables for terminals: ranked scores, candidate lists, iterative and faithfulness reports.
import { humanCount } from '../graph';
import type { Candidate } from '../surgery/types';
import { ranked, type ScoreFile } from './score-file';

function table(header: string[], rows: string[][], leftCols = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i < leftCols || i === r.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);
const num = (x: number | undefined | null) => (x === undefined || x === null ? '-' : x < 1e-3 && x > 0 ? x.toExponential(2) : x.toFixed(4));

/** Lowest score (least important) first; `top` limits the rows (0: all). */
export function renderRanking(f: ScoreFile, top = 0): string {
  const list = ranked(f);
  const rows = (top > 0 ? list.slice(0, top) : list).map((c, i) => [
    String(i + 1),
    c.id,
    c.nonFinite ? '∞' : num(c.score),
    num(c.variants?.avg),
    num(c.variants?.std),
    humanCount(c.params),
    humanCount(c.flops),
    pct(c.latencyShare),
    c.method ?? c.modification,
  ]);
  const lines = [table(['#', 'candidate', `score (${f.settings.variant})`, 'avg', 'std', 'params', 'FLOPs', 'latency', 'modification'], rows, 2)];
  const unmod = f.candidates.filter((c) => c.status === 'unmodifiable');
  const pending = f.candidates.filter((c) => c.status === 'pending').length;
  if (top > 0 && list.length > top) lines.push(`… ${list.length - top} more (all of them in the score file)`);
  if (unmod.length) {
    lines.push('', `not modifiable (${unmod.length}):`);
    for (const c of unmod) lines.push(`  ${c.id}: ${c.reason}`);
  }
  if (pending) lines.push('', `${pending} candidates not scored yet (re-run the same command to resume)`);
  return lines.join('\n');
}

export function renderCandidates(list: readonly Candidate[]): string {
  const rows = list.map((c) => [
    c.id, c.level, c.kind, humanCount(c.params), humanCount(c.flops) + (c.uncountedOps ? '+' : ''),
    c.modification ? `${c.modification.action}: ${c.modification.method} — ${c.modification.description}` : `none — ${c.reason}`,
  ]);
  const n = list.filter((c) => c.modification).length;
  return `${table(['candidate', 'level', 'kind', 'params', 'FLOPs', 'modification'], rows, 3)}\n\n${list.length} candidates, ${n} modifiable, ${list.length - n} not`;
}

export function renderIterative(f: ScoreFile): string {
  const it = f.iterative;
  if (!it) return '';
  const rows = it.steps.map((s) => [String(s.step), s.picked, num(s.score), String(s.oneShotRank), s.rankCorrelation === null ? '-' : s.rankCorrelation.toFixed(3)]);
  const lines = ['iterative (joint) scoring:', table(['step', 'picked', 'joint score', 'one-shot rank', 'ρ(one-shot, re-scored)'], rows, 2)];
  if (it.orderCorrelation !== undefined) lines.push(`pick order vs one-shot order: Spearman ρ = ${it.orderCorrelation === null ? 'n/a' : it.orderCorrelation.toFixed(3)}`);
  if (it.moved?.length) lines.push(`moved: ${it.moved.map((m) => `${m.id} (${m.oneShotRank}→${m.iterativeRank})`).join(', ')}`);
  if (it.entered?.length) lines.push(`picked but not in the one-shot lowest ${it.steps.length}: ${it.entered.join(', ')}`);
  if (it.left?.length) lines.push(`in the one-shot lowest ${it.steps.length} but not picked: ${it.left.join(', ')}`);
  return lines.join('\n');
}
