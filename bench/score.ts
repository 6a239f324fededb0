// Scoring benchmark: a whole LD-Pruner scoring job (one gated session, every candidate by gate) against
// the plain onnxruntime work it stands for: the sum of session.run times of the ORIGINAL model for the
// same number of evaluations (measured on a separate session, same provider and optimisation level).
// Target: scoring wall time ≤ 1.15 × that sum.
//
//   npx tsx bench/score.ts [--samples N] [--steps T] [--granularity block|layer|both] [--ep auto|cpu|…]
//                          [--opt-level extended|all] [targets...]
//
// Targets default to examples/*/ (pipelines, through the sampling loop) and bench/out/sd15-unet-w0.25
// (from bench/gen_sd_unet.py --width-mult 0.25; a bare U-Net: one forward pass per evaluation at
// [2,4,32,32]); missing ones are skipped. Each measurement runs in its own child process so peak RSS
// is the job's own. Prints JSON.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { runScoreJob } from '../src/core/scoring/job';
import { resolveSettings, type ScoreSettings } from '../src/core/scoring/settings';
import { openSource } from '../src/core/scoring/sources';
import { resolveTarget } from '../src/core/scoring/target';

const ROOT = resolve(__dirname, '..');
const SD_SMALL = join(ROOT, 'bench', 'out', 'sd15-unet-w0.25', 'model.onnx');

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

function targets(): string[] {
  const given = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
  if (given.length) return given.map((g) => resolve(g));
  const out: string[] = [];
  const ex = join(ROOT, 'examples');
  if (existsSync(ex)) for (const d of readdirSync(ex).sort()) if (existsSync(join(ex, d, 'model_index.json'))) out.push(join(ex, d));
  if (existsSync(SD_SMALL)) out.push(SD_SMALL);
  return out;
}

function settingsFor(target: string): Partial<ScoreSettings> {
  const bare = resolveTarget(target).kind === 'model';
  return {
    samples: Number(arg('samples', bare ? '2' : '8')),
    steps: Number(arg('steps', '10')),
    granularity: arg('granularity', 'block') as ScoreSettings['granularity'],
    ep: arg('ep', 'auto') as ScoreSettings['ep'],
    optLevel: arg('opt-level', 'extended') as ScoreSettings['optLevel'],
    inputs: bare ? { sample: [2, 4, 32, 32], timestep: [2], encoder_hidden_states: [2, 77, 768] } : undefined,
  };
}

/** Child: run the scoring job, report wall time, evaluations, sessions and peak RSS. */
async function childScore(target: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'ld-surgeon-bench-'));
  try {
    const t0 = performance.now();
    const r = await runScoreJob({ target, settings: settingsFor(target), out: join(work, 'scores.json'), workDir: work });
    const ms = performance.now() - t0;
    const f = r.file;
    process.stdout.write(JSON.stringify({
      ms,
      evaluations: f.timing.evaluations,
      candidates: f.candidates.length,
      scored: f.candidates.filter((c) => c.status === 'scored').length,
      sessionsCreated: f.timing.sessionsCreated,
      executionProvider: f.executionProvider.used,
      latentShape: f.latents.shape,
      maxRssMB: process.resourceUsage().maxRSS / 1024,
    }) + '\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Child: the plain work: the original model, no gates, timing every session.run of a few evaluations. */
async function childPlain(target: string): Promise<void> {
  const t = resolveTarget(target);
  const settings = resolveSettings({ ...settingsFor(target), profile: false });
  const runMs: number[] = [];
  // every session.run of this process, timed (the factory is the session class at run time)
  const proto = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
  const orig = proto.run;
  let timing = false;
  proto.run = async function (this: ort.InferenceSession, ...a: Parameters<typeof orig>) {
    const s = performance.now();
    try {
      return await orig.apply(this, a);
    } finally {
      if (timing) runMs.push(performance.now() - s);
    }
  } as typeof orig;
  const source = await openSource({ gatedPath: t.modelPath, originalPath: t.modelPath, gateCount: 0, settings, pipeline: t.pipeline });
  try {
    const perEval: number[] = [];
    const wall: number[] = [];
    await source.evaluate(new Uint8Array(0)); // warm-up
    for (let i = 0; i < 3; i++) {
      runMs.length = 0;
      timing = true;
      const s = performance.now();
      await source.evaluate(new Uint8Array(0));
      wall.push(performance.now() - s);
      timing = false;
      perEval.push(runMs.reduce((x, y) => x + y, 0));
    }
    const median = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1];
    process.stdout.write(JSON.stringify({ runMsPerEval: median(perEval), wallMsPerEval: median(wall), callsPerEval: source.callsPerEval, executionProvider: source.ep.used, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n');
  } finally {
    await source.release();
  }
}

function child(kind: 'score' | 'plain', target: string): Record<string, number & string> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, `--child-${kind}`, target, ...process.argv.slice(2).filter((a) => !targets().includes(resolve(a)))], {
    encoding: 'utf8', maxBuffer: 1 << 26,
  });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) throw new Error(`bench child (${kind} ${target}) failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(line);
}

async function main(): Promise<void> {
  const ci = process.argv.findIndex((a) => a === '--child-score' || a === '--child-plain');
  if (ci >= 0) {
    const target = process.argv[ci + 1];
    await (process.argv[ci] === '--child-score' ? childScore(target) : childPlain(target));
    return;
  }
  const results = [];
  for (const target of targets()) {
    const plain = child('plain', target);
    const score = child('score', target);
    const plainTotal = plain.runMsPerEval * score.evaluations;
    results.push({
      target: target.startsWith(ROOT) ? target.slice(ROOT.length + 1) : target,
      settings: settingsFor(target),
      executionProvider: score.executionProvider,
      candidates: score.candidates,
      scored: score.scored,
      evaluations: score.evaluations,
      latentShape: score.latentShape,
      scoringWallMs: Math.round(score.ms),
      plainSessionRunMsPerEval: Math.round(plain.runMsPerEval * 10) / 10,
      plainSessionRunMsTotal: Math.round(plainTotal),
      ratio: Math.round((score.ms / plainTotal) * 1000) / 1000,
      plainWallMsPerEval: Math.round(plain.wallMsPerEval * 10) / 10,
      sessionsCreated: score.sessionsCreated,
      peakRssMB: { scoring: Math.round(score.maxRssMB), plain: Math.round(plain.maxRssMB) },
    });
  }
  console.log(JSON.stringify({ bench: 'score', node: process.version, cpus: (await import('node:os')).cpus().length, results }, null, 1));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
