// Quality benchmark: LD-Pruner's tables on the shipped pipelines (and any pipeline folder given).
// For each k: the k lowest-scored blocks pruned vs k random ones (median and spread of seeded draws)
// vs the k highest, measured by the pipeline's metric (FID-like / FAD and class accuracy) on paired
// seeds, with params and the latency of one U-Net call; the k lowest by each score formula (avg+std,
// avg, std, avg·std); Spearman ρ between each block's score and its measured quality loss alone; the
// noise of one k over 3 disjoint sample sets. Prints JSON; writes bench/out/quality.json and the
// Markdown tables bench/out/quality.md (quoted by the README). A run keeps the entries of pipelines it
// did not measure (from an earlier quality.json), so each pipeline can be run with its own --n.
//
//   npx tsx bench/quality.ts [PIPELINE…] [--n 1000] [--steps T] [--k 2,4,8,12] [--draws 5] [--seed 0]
//                            [--no-singles] [--noise-repeats 3] [--latency-seconds 2] [--ep cpu] [--out DIR]
//
// Score files: the pipeline's unet/ (or transformer/) model.ldscores.json when it is a readable block-level score file,
// else DIR/quality/scores/NAME.ldscores.json, else scored first into that file with the quick preset
// (blocks, 8 samples × 10 steps) — the report names the file and its settings.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomic } from '../src/core/pipeline/output-files';
import { runScoreJob } from '../src/core/scoring/job';
import { runQualityReport, type QualityReport } from '../src/core/scoring/quality-report';
import { renderQualityMarkdown } from '../src/core/scoring/quality-report-format';
import { readScoreFileIfPresent } from '../src/core/scoring/score-file';
import { applyPreset, type EpRequest } from '../src/core/scoring/settings';
import { defaultScoreFile, resolveTarget } from '../src/core/scoring/target';

const ROOT = resolve(__dirname, '..');
const SHIPPED = ['digits-cond', 'digits-uncond', 'audio-digits', 'digits-dit'].map((d) => join(ROOT, 'examples', d));

const argv = process.argv.slice(2);
const VALUED = new Set(['--n', '--steps', '--k', '--draws', '--seed', '--noise-repeats', '--latency-seconds', '--ep', '--out']);
function arg(name: string, fallback: string): string {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
}
const positional = argv.filter((a, i) => !a.startsWith('--') && !VALUED.has(argv[i - 1]));

async function scoreFileFor(pipeline: string, outDir: string): Promise<{ path: string; how: string }> {
  const own = defaultScoreFile(resolveTarget(pipeline).modelPath);
  const f = readScoreFileIfPresent(own);
  if (f && f.complete && f.settings.granularity === 'block') return { path: own, how: 'the pipeline\'s own score file' };
  const path = join(outDir, 'quality', 'scores', `${basename(pipeline)}.ldscores.json`);
  const g = readScoreFileIfPresent(path);
  if (g && g.complete && g.settings.granularity === 'block') return { path, how: 'scored earlier by this bench (quick preset)' };
  process.stderr.write(`${pipeline}: no block-level score file; scoring with the quick preset into ${path}\n`);
  mkdirSync(join(outDir, 'quality', 'scores'), { recursive: true });
  await runScoreJob({ target: pipeline, settings: { ...applyPreset('quick', {}), ep: 'cpu' }, out: path });
  return { path, how: 'scored by this run (quick preset)' };
}

async function main(): Promise<void> {
  const outDir = resolve(arg('--out', join(ROOT, 'bench', 'out')));
  const pipelines = positional.length ? positional.map((p) => resolve(p)) : SHIPPED;
  const n = Number(arg('--n', '1000'));
  const steps = argv.includes('--steps') ? Number(arg('--steps', '25')) : undefined;
  const ks = arg('--k', '2,4,8,12').split(',').map(Number);
  const draws = Number(arg('--draws', '5'));
  const seed = Number(arg('--seed', '0'));
  const noiseRepeats = Number(arg('--noise-repeats', '3'));
  const latencySeconds = Number(arg('--latency-seconds', '2'));
  const ep = arg('--ep', 'cpu') as EpRequest;
  mkdirSync(outDir, { recursive: true });

  type Entry = QualityReport & { scoreFileOrigin: string; command: string };
  const jsonPath = join(outDir, 'quality.json');
  const earlier: Entry[] = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as { reports: Entry[] }).reports ?? [] : [];
  const reports: Entry[] = earlier.filter((r) => !pipelines.includes(r.pipeline));
  const command = `npx tsx bench/quality.ts ${argv.join(' ')}`.trim();
  const write = () => {
    const rank = (r: Entry) => (SHIPPED.includes(r.pipeline) ? SHIPPED.indexOf(r.pipeline) : SHIPPED.length);
    reports.sort((a, b) => rank(a) - rank(b) || a.pipeline.localeCompare(b.pipeline));
    const json = { bench: 'quality', reports };
    writeFileAtomic(join(outDir, 'quality.json'), JSON.stringify(json, null, 1) + '\n');
    const md = [
      '<!-- written by bench/quality.ts; each section names the command that measured it -->',
      '',
      ...reports.map((r) => `${renderQualityMarkdown(r, basename(r.pipeline))}\nReproduce: \`${r.command}\`\n`),
    ];
    writeFileAtomic(join(outDir, 'quality.md'), md.join('\n'));
  };
  for (const p of pipelines) {
    if (!existsSync(p)) throw new Error(`${p}: no such pipeline folder`);
    const scores = await scoreFileFor(p, outDir);
    process.stderr.write(`${basename(p)}: n=${n}, k=${ks.join(',')}, scores ${scores.path} (${scores.how})\n`);
    const t0 = Date.now();
    const r = await runQualityReport({
      pipeline: p, scoresFile: scores.path, ks, randomDraws: draws, noiseRepeats,
      singles: !argv.includes('--no-singles'),
      latency: latencySeconds > 0 ? { seconds: latencySeconds, minRuns: 10 } : false,
      settings: { samples: n, steps, seed, ep },
      onProgress: (done, total, what) => process.stderr.write(`  [${Math.round((Date.now() - t0) / 1000)} s] ${done}/${total} ${what}\n`),
    });
    reports.push({ ...r, scoreFileOrigin: scores.how, command });
    write();
  }
  process.stdout.write(JSON.stringify({
    bench: 'quality',
    summary: reports.filter((r) => pipelines.includes(r.pipeline)).map((r) => ({
      pipeline: basename(r.pipeline), quality: r.quality, n: r.samples, steps: r.steps, seed: r.seed,
      original: r.original.metric?.value ?? r.original.latentDistance,
      rows: r.rows.map((x) => ({ k: x.k, lowest: x.lowest.metric?.value ?? x.lowest.latentDistance, randomMedian: x.randomMedian, highest: x.highest.metric?.value ?? x.highest.latentDistance, lowestBeatsRandomMedian: x.lowestBeatsRandomMedian, lowestBeatsHighest: x.lowestBeatsHighest })),
      rho: r.faithfulness?.rho, noiseStd: r.noise?.std, seconds: r.seconds, machine: r.machine,
    })),
    files: [join(outDir, 'quality.json'), join(outDir, 'quality.md')],
  }, null, 1) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
