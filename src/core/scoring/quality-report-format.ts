// A quality report as Markdown: the tables the README quotes and `ld-surgeon report` writes.
import { basename } from 'node:path';
import { qualityOf, type QualityReport, type SelectionQuality } from './quality-report';
import type { ScoreVariant } from './stats';

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 1 : x >= 10 ? 2 : 3) : '∞');
const pct = (x: number | undefined) => (x === undefined ? '' : ` / ${(100 * x).toFixed(1)}%`);
const params = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(3)} M` : `${(x / 1e3).toFixed(1)} K`);

function cell(q: SelectionQuality): string {
  return `${f3(qualityOf(q))}${pct(q.metric?.classAccuracy)}`;
}

function cost(q: SelectionQuality, original: SelectionQuality): string {
  const lat = q.latencyMs !== undefined && original.latencyMs !== undefined ? `, ${q.latencyMs.toFixed(2)} ms (${(((q.latencyMs - original.latencyMs) / original.latencyMs) * 100).toFixed(0)}%)` : '';
  return `${params(q.params)}${lat}`;
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

export function renderQualityMarkdown(r: QualityReport, title = basename(r.pipeline)): string {
  const metric = r.quality;
  const acc = r.original.metric?.classAccuracy !== undefined ? ' / class accuracy' : '';
  const out: string[] = [`### ${title}`, ''];
  out.push(
    `${metric}${acc} after pruning k ${r.scoring.granularity}s (lower ${metric} is better); n = ${r.samples} samples, ${r.steps} steps, seed ${r.seed}` +
    `${r.guidance !== undefined && r.guidance !== 1 ? `, guidance ${r.guidance}` : ''}, paired (the same noise and conditions for every row), ${r.executionProvider}. ` +
    `Scores: ${r.scoring.variant}, ${r.scoring.samples} samples × ${r.scoring.steps} steps (${r.scoresFile.split('/').slice(-2).join('/')}).`,
  );
  if (r.qualityNote) out.push('', `**Latent distance only:** ${r.qualityNote}.`);
  out.push('', `Original: ${cell(r.original)}, ${cost(r.original, r.original).split(',')[0]} params${r.original.latencyMs !== undefined ? `, ${r.original.latencyMs.toFixed(2)} ms per U-Net call` : ''}.`, '');
  out.push(...table(
    ['k', 'lowest (LD-Pruner)', 'random: median [min–max] of ' + (r.rows[0]?.random.length ?? 0), 'highest', 'lowest: params, latency', 'lowest < random median', 'lowest < highest'],
    r.rows.map((x) => [
      String(x.k), cell(x.lowest), `${f3(x.randomMedian)} [${f3(x.randomMin)}–${f3(x.randomMax)}]`, cell(x.highest), cost(x.lowest, r.original),
      x.lowestBeatsRandomMedian ? 'yes' : '**no**', x.lowestBeatsHighest ? 'yes' : '**no**',
    ]),
  ));
  const variants = Object.keys(r.rows[0]?.variants ?? {}) as ScoreVariant[];
  if (variants.length > 1) {
    out.push('', `Score formulas (the paper's ablation): ${metric} of the k lowest by each; best per k in bold.`, '');
    out.push(...table(['k', ...variants], r.rows.map((x) => {
      const vals = variants.map((v) => qualityOf(x.variants[v]!));
      const best = Math.min(...vals);
      return [String(x.k), ...variants.map((v, i) => (vals[i] === best ? `**${cell(x.variants[v]!)}**` : cell(x.variants[v]!)))];
    })));
  }
  if (r.faithfulness) {
    const fa = r.faithfulness;
    out.push('', `Faithfulness: Spearman ρ between each ${r.scoring.granularity}'s score and the ${metric} it costs when removed alone = **${f3(fa.rho)}** ` +
      `(${fa.singles.length} candidates; against the latent distance at n = ${r.samples}: ρ = ${f3(fa.rhoLatent)}).`);
  }
  if (r.noise) {
    const nz = r.noise;
    const row = (name: string, xs: number[]) => `${name} ${xs.map(f3).join(' / ')}`;
    out.push('', `Noise: k = ${nz.k} on ${nz.seeds.length} disjoint sample sets (seeds ${nz.seeds.join(', ')}): ${row('original', nz.original)}; ${row('lowest', nz.lowest)}; ${row('random draw 1', nz.random)} — largest std ${f3(nz.std)}.`);
  }
  if (r.skippedKs.length) out.push('', `k = ${r.skippedKs.join(', ')} left out: more than the model's ${r.candidates} scored candidates can be removed together.`);
  out.push('', `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, load average ${r.machine.loadAverageStart[0]} → ${r.machine.loadAverageEnd[0]}; ${Math.round(r.seconds)} s.`);
  return out.join('\n') + '\n';
}
