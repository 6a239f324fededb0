// Scoring benchmark: a whole LD-Pruner scoring job (one gated session, every candidate by gate) against
// the plain onnxruntime work it stands for: the sum of session.run times of the ORIGINAL model for the
// same number of evaluations (measured on a separate session, same provider and optimisation level).
// Target: scoring wall time ≤ 1.15 × that sum. Two denominators: 'ratio' estimates the plain run time
// inside the job's own time window (gated run time ÷ the gated/plain cost measured A/B), robust to a
// machine whose load changes; 'ratioToBareLoop' divides by a literal bare onnxruntime loop of the same
// number of runs in its own process (job's session options, its cold first run included). Also: the job's phases, and the gated vs plain cost of
// one evaluation measured alternately in one process (robust to a busy machine).
//
//   npx tsx bench/score.ts [--samples N] [--steps T] [--granularity block|layer|both] [--ep auto|cpu|…]
//                          [--opt-level extended|all] [targets...]
//
// Targets default to examples/*/ (pipelines, through the sampling loop) and bench/out/sd15-unet-w0.25
// (from bench/gen_sd_unet.py --width-mult 0.25; a bare U-Net: one forward pass per evaluation at
// [2,4,32,32]); missing ones are skipped. Any .onnx given is scored the same way as a bare SD U-Net
// (e.g. the half-width one: gen_sd_unet.py OUT --width-mult 0.5, then OUT/model.onnx). Each measurement runs in its own child process so peak RSS
// is the job's own. Prints JSON.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { runScoreJob } from '../src/core/scoring/job';
import { resolveSettings, type ScoreSettings } from '../src/core/scoring/settings';
import { prepare } from '../src/core/scoring/prepare';
import { openSource } from '../src/core/scoring/sources';
import { GATE_INPUT } from '../src/core/surgery';
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

/** Times every session.run of this process, per session (the factory is the session class at run time). */
function timeRuns(): Map<ort.InferenceSession, number> {
  const proto = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
  const orig = proto.run;
  const runMs = new Map<ort.InferenceSession, number>();
  proto.run = async function (this: ort.InferenceSession, ...a: Parameters<typeof orig>) {
    const s = performance.now();
    try {
      return await orig.apply(this, a);
    } finally {
      runMs.set(this, (runMs.get(this) ?? 0) + performance.now() - s);
    }
  } as typeof orig;
  return runMs;
}

/** Child: run the scoring job, report wall time, the gated session's run time, evaluations, sessions and peak RSS. */
async function childScore(target: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'ld-surgeon-bench-'));
  const runMs = timeRuns();
  try {
    const t0 = performance.now();
    const gatedMs = () => [...runMs].filter(([sess]) => sess.inputNames.includes(GATE_INPUT)).reduce((x, [, ms]) => x + ms, 0);
    // the reference evaluation runs profiled (slower): its runs are kept apart
    let referenceRunMs = 0;
    const r = await runScoreJob({
      target, settings: settingsFor(target), out: join(work, 'scores.json'), workDir: work,
      onEvent: (e) => e.type === 'started' && (referenceRunMs = gatedMs()),
    });
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
      phasesMs: f.timing.phasesMs,
      gatedRunMs: gatedMs() - referenceRunMs,
      referenceRunMs,
    }) + '\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Child: the same evaluations on the original model (no gates) and on the gated model (one gate on),
 * alternated so a busy machine slows both alike; every session.run of each session is timed.
 */
async function childPlain(target: string): Promise<void> {
  const t = resolveTarget(target);
  const settings = resolveSettings({ ...settingsFor(target), profile: false });
  const runMs = timeRuns();
  const prep = await prepare(t, settings.granularity, { inputs: settings.inputs });
  // two sessions in one process: one thread each and no spinning, so the idle one cannot slow the other
  const sessionOptions = { intraOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: '0' } } } };
  const plain = await openSource({ gated: { path: t.modelPath }, originalPath: t.modelPath, gateCount: 0, settings, pipeline: t.pipeline, sessionOptions });
  const gated = await openSource({ gated: prep.evalModel, originalPath: t.modelPath, gateCount: prep.gated.length, settings, pipeline: t.pipeline, sessionOptions });
  try {
    const measure = async (src: typeof plain, gates: Uint8Array) => {
      runMs.clear();
      const s = performance.now();
      await src.evaluate(gates);
      return { wall: performance.now() - s, run: [...runMs.values()].reduce((x, y) => x + y, 0) };
    };
    const off = new Uint8Array(0);
    const gatesFor = (i: number) => {
      const g = new Uint8Array(prep.gated.length);
      g[(i * 7) % g.length] = 1;
      return g;
    };
    await measure(plain, off); // warm-up
    await measure(gated, gatesFor(0));
    const p: { wall: number; run: number }[] = [];
    const q: { wall: number; run: number }[] = [];
    for (let i = 1; i <= 7; i++) {
      // alternate which goes first, so neither always follows the other
      if (i % 2) {
        p.push(await measure(plain, off));
        q.push(await measure(gated, gatesFor(i)));
      } else {
        q.push(await measure(gated, gatesFor(i)));
        p.push(await measure(plain, off));
      }
    }
    const median = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1];
    process.stdout.write(JSON.stringify({
      runMsPerEval: median(p.map((x) => x.run)), wallMsPerEval: median(p.map((x) => x.wall)),
      gatedRunMsPerEval: median(q.map((x) => x.run)), gatedWallMsPerEval: median(q.map((x) => x.wall)),
      // neighbours in time share the machine's load: the median of their ratios is the robust one
      gatedOverPlain: median(q.map((x, i) => x.run / p[i].run)),
      callsPerEval: plain.callsPerEval,
    }) + '\n');
  } finally {
    await plain.release();
    await gated.release();
    prep.dispose();
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

interface ScoreChild {
  ms: number; evaluations: number; candidates: number; scored: number; sessionsCreated: number;
  executionProvider: string; latentShape: number[]; maxRssMB: number; phasesMs: Record<string, number>;
  /** gated session.run time of every evaluation but the (profiled) reference one, and of that one */
  gatedRunMs: number; referenceRunMs: number;
}
interface PlainChild { runMsPerEval: number; wallMsPerEval: number; gatedRunMsPerEval: number; gatedWallMsPerEval: number; gatedOverPlain: number; callsPerEval: number }

/**
 * Child: the bare loop the scoring job stands for: the ORIGINAL model, a session with the job's
 * options (provider, optimisation level, default threads), run `evaluations` times over the same
 * inputs; only session.run is timed (its first, cold run included, as the job's is).
 */
async function childBare(target: string, evaluations: number): Promise<void> {
  const t = resolveTarget(target);
  const settings = resolveSettings({ ...settingsFor(target), profile: false });
  const runMs = timeRuns();
  const src = await openSource({ gated: { path: t.modelPath }, originalPath: t.modelPath, gateCount: 0, settings, pipeline: t.pipeline });
  try {
    runMs.clear();
    const off = new Uint8Array(0);
    for (let i = 0; i < evaluations; i++) await src.evaluate(off);
    process.stdout.write(JSON.stringify({ runMs: [...runMs.values()].reduce((x, y) => x + y, 0), calls: evaluations * src.callsPerEval }) + '\n');
  } finally {
    await src.release();
  }
}

function child<T>(kind: 'score' | 'plain' | 'bare', target: string, extra: string[] = []): T {
  const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, `--child-${kind}`, target, ...extra, ...process.argv.slice(2).filter((a) => !targets().includes(resolve(a)))], {
    encoding: 'utf8', maxBuffer: 1 << 26,
  });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) throw new Error(`bench child (${kind} ${target}) failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(line);
}

async function main(): Promise<void> {
  const ci = process.argv.findIndex((a) => a === '--child-score' || a === '--child-plain' || a === '--child-bare');
  if (ci >= 0) {
    const target = process.argv[ci + 1];
    const kind = process.argv[ci];
    await (kind === '--child-score' ? childScore(target) : kind === '--child-plain' ? childPlain(target) : childBare(target, Number(process.argv[ci + 2])));
    return;
  }
  const results = [];
  for (const target of targets()) {
    const plain = child<PlainChild>('plain', target);
    const score = child<ScoreChild>('score', target);
    const bare = child<{ runMs: number; calls: number }>('bare', target, [String(score.evaluations)]);
    // The job's gated session.run time was measured in the job's own time window; the plain model's
    // runs for the same evaluations at the same moments are that divided by the gated/plain cost
    // ratio measured alternately (A/B) in another child. A busy machine slows all of it alike.
    const gatedOverPlain = plain.gatedOverPlain;
    const plainPerEval = score.gatedRunMs / (score.evaluations - 1) / gatedOverPlain;
    const plainTotal = plainPerEval * score.evaluations;
    results.push({
      target: target.startsWith(ROOT) ? target.slice(ROOT.length + 1) : target,
      settings: settingsFor(target),
      executionProvider: score.executionProvider,
      candidates: score.candidates,
      scored: score.scored,
      evaluations: score.evaluations,
      latentShape: score.latentShape,
      scoringWallMs: Math.round(score.ms),
      gatedSessionRunMs: Math.round(score.gatedRunMs + score.referenceRunMs),
      profiledReferenceRunMs: Math.round(score.referenceRunMs),
      plainSessionRunMsTotal: Math.round(plainTotal),
      ratio: Math.round((score.ms / plainTotal) * 1000) / 1000,
      // the literal baseline: the same number of runs timed in a bare loop, in its own process after
      // the job (a machine whose load changes between the two moves this one; 'ratio' is robust to that)
      bareLoopRunMs: Math.round(bare.runMs),
      bareLoopCalls: bare.calls,
      ratioToBareLoop: Math.round((score.ms / bare.runMs) * 1000) / 1000,
      // the job's wall time over its own session.run time: what the job adds around the runs, free of
      // any second measurement (gated and plain runs cost the same within noise: perEvaluation)
      wallOverOwnRunTime: Math.round((score.ms / (score.gatedRunMs + score.referenceRunMs)) * 1000) / 1000,
      candidatesPerSecond: Math.round((score.scored / (score.ms / 1000)) * 100) / 100,
      phasesMs: score.phasesMs,
      // one evaluation alternated on both models in one process (one thread each): what the gates cost
      perEvaluation: {
        plainRunMs: round1(plain.runMsPerEval), gatedRunMs: round1(plain.gatedRunMsPerEval),
        plainWallMs: round1(plain.wallMsPerEval), gatedWallMs: round1(plain.gatedWallMsPerEval),
        gatedOverPlain: Math.round(gatedOverPlain * 1000) / 1000,
      },
      sessionsCreated: score.sessionsCreated,
      peakRssMB: Math.round(score.maxRssMB),
    });
  }
  const os = await import('node:os');
  console.log(JSON.stringify({ bench: 'score', node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 10) / 10), results }, null, 1));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
