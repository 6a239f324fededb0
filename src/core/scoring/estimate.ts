// What a scoring run will cost, said before it starts: the number of evaluations (one reference run
// plus one per candidate) and the time they take here, from the median of a few timed U-Net calls of
// the original model with the rows one call of the run has, plus the time reading the model and opening
// a session took (the job does both again). An estimate ("about"), not a promise: the job evaluates the
// gated model and runs the sampler around each call (EVAL_OVERHEAD).
import * as ort from 'onnxruntime-node';
import { analyzeModel } from '../graph';
import { readModel } from '../onnx/reader';
import { resolveConditions } from '../pipeline/conditions';
import { createScheduler } from '../pipeline/schedulers';
import { inputInfo } from '../pipeline/tensors';
import { unetFeeds } from '../prune/compare';
import { findCandidates } from '../surgery';
import { openRunnerWithProvider, withProvider } from './ep';
import { analysisShapes } from './prepare';
import { resolveSettings, type ScoreSettings } from './settings';
import { feedSpecs, randomFeeds } from './sources';
import { resolveTarget, type ScoreTarget } from './target';
import type { Granularity } from '../surgery/types';

export interface ScoreEstimate {
  kind: 'pipeline' | 'model';
  candidates: number;
  /** 1 (the reference latents) + one per candidate */
  evaluations: number;
  /** U-Net calls (a pipeline) or forward passes (a bare model) per evaluation */
  callsPerEvaluation: number;
  /** median time of one call on `ep` */
  callMs: number;
  ep: string;
  seconds: number;
  settings: Pick<ScoreSettings, 'samples' | 'steps' | 'granularity'>;
}

const TIMED_CALLS = 3;
/**
 * One evaluation of the gated model (gates, scheduler steps, guidance) against the bare U-Net calls it
 * makes: 1.2–1.45× on digits-cond (block, 8 samples × 10 steps, 2 CPU cores), so 1.3.
 */
const EVAL_OVERHEAD = 1.3;

async function medianMs(call: () => Promise<unknown>): Promise<number> {
  await call();
  const t: number[] = [];
  for (let i = 0; i < TIMED_CALLS; i++) {
    const t0 = performance.now();
    await call();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[t.length >> 1];
}

async function modifiable(targetPath: string, s: ScoreSettings): Promise<{ target: ScoreTarget; count: (g: Granularity) => number }> {
  const target = resolveTarget(targetPath);
  const model = await readModel(target.modelPath);
  const analysis = await analyzeModel(model, { inputShapes: analysisShapes(model, target, s.inputs) });
  return { target, count: (granularity) => findCandidates(analysis, { granularity }).filter((c) => c.modification).length };
}

/**
 * A preset's granularity for this model: the quick preset scores blocks, but a graph without module
 * scopes (a bare test model, some exporters) has none, so it scores layers there; a run limited to
 * named candidates (--only) takes them at either level. An explicit
 * --granularity / setting is kept as given (and fails in the job with its own message).
 */
export async function fitPresetGranularity(targetPath: string, partial: Partial<ScoreSettings>, granularityGiven: boolean): Promise<{ granularity: Granularity; note?: string }> {
  const s = resolveSettings(partial);
  if (granularityGiven || s.granularity !== 'block') return { granularity: s.granularity };
  // --only names the candidates: blocks or layers, whichever they are
  if (s.only) return { granularity: 'both' };
  const { count } = await modifiable(targetPath, s);
  if (count('block') > 0) return { granularity: 'block' };
  return { granularity: 'layer', note: 'the model has no blocks (module scopes) to score, so its layers are scored' };
}

export async function estimateScoring(targetPath: string, partial: Partial<ScoreSettings>): Promise<ScoreEstimate> {
  const t0 = performance.now();
  const s = resolveSettings(partial);
  const { target, count } = await modifiable(targetPath, s);
  const candidates = count(s.granularity);
  const scored = s.only ? s.only.length : s.shard ? Math.ceil(candidates / s.shard.count) : candidates;
  const settings = { samples: s.samples, steps: s.steps, granularity: s.granularity };
  const opts = (ep: string): ort.InferenceSession.SessionOptions => ({ graphOptimizationLevel: s.optLevel, executionProviders: [ep] });
  let callMs: number;
  let calls: number;
  let used: string;
  let setupMs: number;
  if (target.kind === 'pipeline') {
    const { value: runner, ep } = await openRunnerWithProvider(s.ep, target.modelPath, target.pipeline!, (name) => ({ executionProviders: [name], sessionOptions: opts(name) }));
    used = ep.used;
    try {
      const unet = await runner.unet();
      const conditional = await runner.isConditional();
      const guidance = s.guidance ?? (conditional ? runner.layout.ldSurgeon.guidanceScale ?? 7.5 : 1);
      const resolved = await resolveConditions(runner, s.conditions, guidance);
      const shape = await runner.latentShape();
      const scheduler = createScheduler(s.scheduler, runner.layout.schedulerConfig, { steps: s.steps, eta: s.eta });
      const batch = Math.min(s.batchSize ?? s.samples, s.samples);
      const guided = conditional && guidance !== 1;
      const feeds = unetFeeds(runner, unet, batch * (guided ? 2 : 1), shape, scheduler.timesteps[0], resolved.conditioning, guided);
      const out = runner.unetIo(unet).output;
      setupMs = performance.now() - t0;
      callMs = await medianMs(() => unet.run(feeds, [out]));
      calls = scheduler.timesteps.length * Math.ceil(s.samples / batch);
    } finally {
      await runner.release();
    }
  } else {
    const { value: session, ep } = await withProvider(s.ep, target.modelPath, (name) => ort.InferenceSession.create(target.modelPath, opts(name)));
    used = ep.used;
    try {
      const { specs, perPass } = feedSpecs(inputInfo(session), target.modelPath, s.inputs, s.samples);
      const feeds = randomFeeds(specs, s.seed, 0, perPass, target.modelPath);
      setupMs = performance.now() - t0;
      callMs = await medianMs(() => session.run(feeds));
      calls = Math.ceil(s.samples / perPass);
    } finally {
      await session.release();
    }
  }
  const evaluations = 1 + scored;
  return { kind: target.kind === 'pipeline' ? 'pipeline' : 'model', candidates: scored, evaluations, callsPerEvaluation: calls, callMs, ep: used, seconds: (setupMs + evaluations * calls * callMs * EVAL_OVERHEAD) / 1000, settings };
}

/** '33 evaluations (32 block candidates, 8 samples × 10 steps), about 40 s on cpu' */
export function describeEstimate(e: ScoreEstimate): string {
  const g = e.settings.granularity === 'both' ? 'block and layer' : e.settings.granularity;
  const work = e.kind === 'model' ? `${e.settings.samples} samples` : `${e.settings.samples} samples × ${e.settings.steps} steps`;
  return `${e.evaluations} evaluations (${e.candidates} ${g} candidates, ${work}), about ${humanSeconds(e.seconds)} on ${e.ep}`;
}

export function humanSeconds(s: number): string {
  if (s < 90) return `${Math.max(1, Math.round(s))} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
