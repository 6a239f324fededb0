// The prune summary for a terminal: what was removed (with its modification and score), the model
// before → after (params, FLOPs, latency, file size, metric), the latent score and the checks.
import { humanBytes, humanCount } from '../graph';
import { describePredicted } from './predicted';
import type { CheckStatus, PruneRecord } from './types';

/** ✓ measured and passed, ✗ failed, – measured nothing (never a tick for a check that did not run) */
export const CHECK_MARKS: Record<CheckStatus, string> = { passed: '✓', failed: '✗', skipped: '–' };

function table(header: string[], rows: string[][], leftCols = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i < leftCols ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

function change(before: number, after: number): string {
  if (!(before > 0)) return '';
  const p = ((after - before) / before) * 100;
  return `${p > 0 ? '+' : p < 0 ? '−' : '±'}${Math.abs(p).toFixed(1)}%`;
}

const score = (x: number | null) => (x === null ? '-' : x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toFixed(4));

export function renderPruneSummary(r: PruneRecord): string {
  const lines: string[] = [];
  lines.push(`${r.source.pipeline ?? r.source.model} → ${r.output.pipeline ?? r.output.model}`, '');
  if (r.removed.length) {
    const from = r.selection.mode === 'stack' && r.selection.stack ? ` (the ${r.selection.count} lowest-scored blocks of stack ${r.selection.stack})` : '';
    lines.push(`removed ${r.removed.length} candidate${r.removed.length === 1 ? '' : 's'}${from}:`);
    lines.push(table(
      ['candidate', 'modification', `score${r.selection.scoreVariant ? ` (${r.selection.scoreVariant})` : ''}`, 'params', 'FLOPs', 'latency share'],
      r.removed.map((c) => [c.id, `${c.action} (${c.method})`, score(c.score), humanCount(c.params), humanCount(c.flops), c.latencyShare === undefined ? '-' : `${(100 * c.latencyShare).toFixed(1)}%`]),
      2));
  } else lines.push('removed nothing (a checked copy of the model)');
  if (r.subsumed.length) lines.push(`inside a removed candidate (not counted twice): ${r.subsumed.map((s) => `${s.id} (in ${s.by})`).join(', ')}`);
  if (r.graph.removedInputs.length) lines.push(`inputs nothing reads any more, dropped: ${r.graph.removedInputs.join(', ')}`);
  const t = r.selection.target;
  if (t) {
    const achieved = t.achievedFraction === undefined ? 'not measured' : `${(100 * t.achievedFraction).toFixed(1)}% measured`;
    lines.push(`target: −${(100 * t.fraction).toFixed(1)}% ${t.kind}; estimated −${(100 * t.estimatedFraction).toFixed(1)}%, ${achieved}`);
  }
  lines.push('');
  const rows: string[][] = [
    ['params', humanCount(r.before.params), humanCount(r.after.params), change(r.before.params, r.after.params)],
    ['FLOPs', humanCount(r.before.flops), humanCount(r.after.flops), change(r.before.flops, r.after.flops)],
  ];
  if (r.latency) rows.push([`latency (${r.latency.ep}, median)`, `${r.latency.originalMs.toFixed(2)} ms`, `${r.latency.prunedMs.toFixed(2)} ms`, change(r.latency.originalMs, r.latency.prunedMs)]);
  rows.push(['file size', humanBytes(r.before.fileBytes), humanBytes(r.after.fileBytes), change(r.before.fileBytes, r.after.fileBytes)]);
  if (r.metric) {
    const { before, after } = r.metric;
    const v = (m: typeof before) => `${m.value.toFixed(3)}${m.spread !== undefined ? ` ±${m.spread.toFixed(3)}` : ''}`;
    const flag = before.indicative || after.indicative ? ', indicative only' : '';
    rows.push([`${before.metric} (n=${before.n}${flag})`, v(before), v(after), change(before.value, after.value)]);
    if (before.classAccuracy !== undefined && after.classAccuracy !== undefined) {
      rows.push(['class accuracy', `${(100 * before.classAccuracy).toFixed(1)}%`, `${(100 * after.classAccuracy).toFixed(1)}%`, '']);
    }
  }
  lines.push(table(['', 'before', 'after', 'change'], rows));
  if (r.latents) {
    lines.push('', `latent score of the combined prune (${r.latents.variant}, ${r.latents.samples} samples): ${r.latents.identical ? '0 (identical latents)' : score(r.latents.score)}`);
  }
  if (r.predicted) lines.push('', `predicted from the scores: ${describePredicted(r.predicted)}`);
  if (r.samples) lines.push('', `samples: ${r.samples.file} (top row: the original, bottom row: the pruned pipeline; the same ${r.samples.count} seeds and conditions)`);
  lines.push('', 'checks:');
  for (const c of r.checks) {
    lines.push(`  ${CHECK_MARKS[c.status]} ${c.name.padEnd(11)} ${c.status === 'skipped' ? `skipped: ${c.detail}` : c.detail}`);
    if (c.indicative) lines.push(`  ${''.padEnd(13)}indicative only: ${c.indicative}`);
  }
  for (const n of r.notes ?? []) lines.push('', `note: ${n}`);
  if (r.parent) lines.push('', `pruned again: the source was itself pruned (${r.parent.removed.length} candidates removed from ${r.parent.source.model}); its record is embedded as "parent"`);
  lines.push('', `record: ${r.output.record}`);
  return lines.join('\n');
}
