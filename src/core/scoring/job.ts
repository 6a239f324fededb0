// One scoring job: L_orig with every gate off, then one evaluation per candidate with only its gate on,
// each scored against L_orig and written to the score file at once (atomically), so a cancelled or
// killed job resumes where it stopped. Optionally, iterative (joint) scoring on top.
import { createHash } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledError, UserError } from '../errors';
import { acquireLock, describeOwner, type HeldLock } from '../job-lock';
import { selectCandidates, type Candidate } from '../surgery';
import { candidateUpdate, type ScoringEvent } from './events';
import { describeEp } from './ep';
import { overlaps, prepare } from './prepare';
import { attributeProfile, latencyShares, readGatedProfile } from './profile';
import {
  compatibilityKey, ranked, readScoreFileIfPresent, SCORE_FORMAT, toScored, writeScoreFile,
  type IterativeReport, type IterativeStep, type ScoredCandidate, type ScoreFile,
} from './score-file';
import { resolveSettings, type ScoreSettings } from './settings';
import { openSource, type EvalSource } from './sources';
import { distances, latentStats, spearman, summarize, variants, type LatentStats } from './stats';
import { defaultScoreFile, modelIdentity, resolveTarget, type ScoreTarget } from './target';

export const CREATED_BY = 'ld-surgeon 0.1.0';

/** Results arriving faster than this share one score-file write (a killed job loses at most this much). */
const SAVE_INTERVAL_MS = 1000;

export interface ScoreJobOptions {
  target: string;
  settings: Partial<ScoreSettings>;
  out?: string;
  workDir?: string;
  /** another job is writing the same score file: wait for it to end (default: refuse, naming it) */
  wait?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: ScoringEvent) => void;
}

export interface ScoreJobResult {
  state: 'done' | 'cancelled';
  scoreFile: string;
  file: ScoreFile;
}

function sha256(data: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex');
}

/** Scores `stats` against L_orig into the entry. */
function fill(entry: ScoredCandidate, orig: LatentStats, latents: Float32Array, settings: ScoreSettings): void {
  const v = variants(distances(orig, latentStats(latents, orig.n)));
  entry.status = 'scored';
  entry.variants = v;
  const s = v[settings.variant];
  if (Number.isFinite(s)) {
    entry.score = s;
    delete entry.nonFinite;
  } else {
    entry.score = null;
    entry.nonFinite = true;
  }
}

/** What identifies the file's bytes cheaply: it was not replaced or rewritten if none of these changed. */
function fingerprint(path: string): string {
  const st = statSync(path);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

export async function runScoreJob(o: ScoreJobOptions): Promise<ScoreJobResult> {
  const settings = resolveSettings(o.settings);
  const target = resolveTarget(o.target);
  const out = o.out ?? defaultScoreFile(target.modelPath, settings.shard);
  const emit = (e: ScoringEvent) => o.onEvent?.(e);
  // One job per score file: this process (the worker, when forked) holds the lock until its last write,
  // so a re-run cannot interleave with a job whose host was killed but which is still saving.
  let lock: HeldLock;
  try {
    lock = await acquireLock(out, `score ${o.target}`, {
      wait: o.wait, signal: o.signal,
      onWait: (owner) => emit({ type: 'log', text: `${out}: in use by ${describeOwner(owner)}; waiting for it to finish` }),
    });
  } catch (e) {
    if (e instanceof CancelledError) emit({ type: 'cancelled', scoreFile: out });
    throw e;
  }
  try {
    return await scoreLocked(o, settings, target, out, lock);
  } finally {
    lock.release();
  }
}

async function scoreLocked(o: ScoreJobOptions, settings: ScoreSettings, target: ScoreTarget, out: string, lock: HeldLock): Promise<ScoreJobResult> {
  const t0 = Date.now();
  const emit = (e: ScoringEvent) => o.onEvent?.(e);
  const log = (text: string) => emit({ type: 'log', text });
  const cancelled = () => o.signal?.aborted ?? false;

  // the model as it is on disk (an editor's unsaved edits are not in it); if it is replaced while being
  // read (saved from an editor), the hash in the score file might not be the bytes that were scored
  const before = fingerprint(target.modelPath);
  const prep = await prepare(target, settings.granularity, { inputs: settings.inputs, workDir: o.workDir });
  const phases = { prepare: Date.now() - t0, open: 0, reference: 0, evaluations: 0 };
  let source: EvalSource | undefined;
  try {
    const identity = await modelIdentity(prep.model);
    if (fingerprint(target.modelPath) !== before) {
      throw new UserError(`${target.modelPath}: changed on disk while it was being read for scoring (saved from an editor?); run score again`, target.modelPath);
    }
    const K = prep.gated.length;
    const gateIndex = new Map(prep.gated.map((c, i) => [c.id, i]));
    // which candidates this job scores: all modifiable ones, or --only, or this shard's round-robin slice
    const selected: Candidate[] = settings.only ? selectCandidates(prep.candidates, settings.only, target.modelPath) : prep.gated;
    const chosen = new Set(selected);
    let pool = selected;
    if (settings.shard) pool = pool.filter((c) => gateIndex.get(c.id)! % settings.shard!.count === settings.shard!.index);
    const inPool = new Set(pool);

    const profileDir = settings.profile === false ? undefined : join(prep.workDir, 'profile');
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const tOpen = Date.now();
    source = await openSource({ gated: prep.evalModel, originalPath: target.modelPath, gateCount: K, settings, profileDir, pipeline: target.pipeline });
    phases.open = Date.now() - tOpen;
    log(`execution provider: ${describeEp(source.ep)}`);
    const guidance = typeof source.record.guidance === 'number' ? source.record.guidance : undefined;
    const key = compatibilityKey(identity, settings, { guidance, batchSize: settings.batchSize ?? settings.samples, ep: source.ep.used });
    let previous = readScoreFileIfPresent(out);
    if (previous && previous.compatibilityKey !== key) {
      log(`${out}: written for another model or other settings; starting over`);
      previous = undefined;
    }

    let evals = 0;
    const progress = (phase: 'reference' | 'candidates' | 'iterative', done: number, total: number) => {
      const secs = (Date.now() - tEval) / 1000;
      const rate = evals > 0 && secs > 0 ? evals / secs : 0;
      emit({ type: 'progress', phase, done, total, evalsPerSec: rate, etaS: rate > 0 ? (total - done) / rate : null });
    };
    const tEval = Date.now();
    const gates = new Uint8Array(K);
    const evaluate = async (g: Uint8Array) => {
      if (cancelled()) throw new CancelledError();
      const t = Date.now();
      const l = await source!.evaluate(g, o.signal);
      if (evals++ === 0) phases.reference = Date.now() - t;
      else phases.evaluations += Date.now() - t;
      return l;
    };

    // entries: every candidate, with what the previous run left where it still applies
    const entries = new Map<string, ScoredCandidate>();
    let resumed = 0;
    const prevById = new Map(previous?.candidates.map((c) => [c.id, c]) ?? []);
    for (const c of prep.candidates) {
      const status = !c.modification ? 'unmodifiable' : inPool.has(c) ? 'pending' : chosen.has(c) ? 'other-shard' : 'skipped';
      entries.set(c.id, toScored(c, status));
    }

    // L_orig: every gate off (profiled: this evaluation also measures where the time goes)
    progress('reference', 0, 1 + pool.length);
    const lorigLatents = await evaluate(gates);
    if (profileDir) await source.endProfiling();
    const lorig = latentStats(lorigLatents, settings.samples);
    const lorigHash = sha256(lorigLatents);
    if (previous && previous.latents.sha256 !== lorigHash) {
      log(`${out}: L_orig does not reproduce the earlier run's (different onnxruntime or hardware?); starting over`);
      previous = undefined;
      prevById.clear();
    }
    // every earlier result stays valid (same model, settings and L_orig), in this job's pool or not
    for (const [id, e] of entries) {
      const p = prevById.get(id);
      if (e.status === 'unmodifiable' || p?.status !== 'scored') continue;
      if (e.status === 'pending') resumed++;
      e.status = 'scored';
      e.variants = p.variants;
      const v = p.variants?.[settings.variant];
      e.score = typeof v === 'number' && Number.isFinite(v) ? v : null;
      if (e.score === null) e.nonFinite = true;
    }

    // latency shares from the profile of the reference evaluation
    let latency: ScoreFile['latency'];
    if (profileDir) {
      const events = readGatedProfile(profileDir);
      if (events) {
        const times = attributeProfile(events, prep.model.graph.nodes);
        const shares = latencyShares(times, new Map(prep.candidates.map((c) => [c.id, c.nodeIndices])));
        for (const c of prep.candidates) {
          const s = shares.get(c.id);
          if (s === undefined) continue;
          c.latencyShare = s;
          entries.get(c.id)!.latencyShare = s;
        }
        latency = { profiledRuns: times.runs, kernelMs: times.totalUs / 1000, unattributedShare: times.totalUs ? times.unattributedUs / times.totalUs : 0 };
      } else log('no profile was written; latency shares are missing');
    }

    let exactCheck: ScoreFile['latents']['exactCheck'];
    if (settings.verifyExact) {
      const ref = await source.evaluateOriginal(o.signal);
      let maxAbsDiff = 0;
      for (let i = 0; i < ref.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ref[i] - lorigLatents[i]));
      exactCheck = { equal: sha256(ref) === lorigHash, maxAbsDiff };
      log(`gates-off eval model vs original model: ${exactCheck.equal ? 'bit-identical' : `max |Δ| ${maxAbsDiff}`}`);
    }

    const file: ScoreFile = {
      format: SCORE_FORMAT,
      createdBy: CREATED_BY,
      updatedAt: '',
      complete: false,
      model: identity,
      target: { kind: target.kind, pipeline: target.pipeline },
      // the sampler that ran, not the request ('pipeline': whatever the pipeline's scheduler config names); the
      // compatibility key stays on the request
      settings: source.scheduler ? { ...settings, scheduler: source.scheduler } : settings,
      compatibilityKey: key,
      executionProvider: source.ep,
      latents: { shape: source.shape, sha256: lorigHash, orig: summarize(lorig), source: source.record, exactCheck },
      latency,
      shard: settings.shard,
      timing: { evaluations: 0, seconds: 0, evalsPerSec: 0, sessionsCreated: source.sessionsCreated },
      candidates: [...entries.values()],
      iterative: previous?.iterative && settings.iterative ? previous.iterative : undefined,
    };
    let lastSave = 0;
    const save = () => {
      const secs = (Date.now() - t0) / 1000;
      file.timing = { evaluations: evals, seconds: secs, evalsPerSec: evals / Math.max(1e-9, (Date.now() - tEval) / 1000), sessionsCreated: source!.sessionsCreated, phasesMs: { ...phases } };
      lock.check();
      writeScoreFile(out, file);
      lastSave = Date.now();
    };
    // A result is written at once unless the last write was under SAVE_INTERVAL_MS ago: on a busy file
    // system one rewrite can cost as much as a small model's evaluation (cancel and the end always write)
    const saveSoon = () => Date.now() - lastSave >= SAVE_INTERVAL_MS && save();
    save();
    emit({ type: 'started', scoreFile: out, executionProvider: source.ep, candidates: prep.candidates.length, toScore: pool.length, resumed, sessionsCreated: source.sessionsCreated });
    for (const e of entries.values()) if (e.status === 'unmodifiable' || e.status === 'scored') emit({ type: 'result', candidate: candidateUpdate(e) });

    try {
      // one-shot: each candidate alone
      const todo = pool.filter((c) => entries.get(c.id)!.status === 'pending');
      let done = 1;
      const total = 1 + todo.length;
      progress('candidates', done, total);
      for (const c of todo) {
        const k = gateIndex.get(c.id)!;
        gates.fill(0);
        gates[k] = 1;
        const latents = await evaluate(gates);
        const entry = entries.get(c.id)!;
        fill(entry, lorig, latents, settings);
        saveSoon();
        emit({ type: 'result', candidate: candidateUpdate(entry) });
        progress('candidates', ++done, total);
      }
      gates.fill(0);

      if (settings.iterative) {
        file.iterative = await iterate({
          pool, entries, settings, lorig, gateIndex, K, file, save,
          evaluate, emit, progress,
        });
      }
      file.complete = !file.iterative || file.iterative.complete;
      save();
    } catch (e) {
      if (e instanceof CancelledError) {
        save();
        emit({ type: 'cancelled', scoreFile: out });
        return { state: 'cancelled', scoreFile: out, file };
      }
      throw e;
    }
    const r = ranked(file);
    emit({
      type: 'done',
      scoreFile: out,
      summary: {
        candidates: file.candidates.length,
        scored: file.candidates.filter((c) => c.status === 'scored').length,
        unmodifiable: file.candidates.filter((c) => c.status === 'unmodifiable').length,
        evaluations: evals,
        seconds: (Date.now() - t0) / 1000,
        lowest: r.slice(0, 5).map((c) => c.id),
      },
    });
    return { state: 'done', scoreFile: out, file };
  } catch (e) {
    if (e instanceof CancelledError) {
      // cancelled before anything was written: callers get the CancelledError (the event says so too)
      emit({ type: 'cancelled', scoreFile: out });
      const file = readScoreFileIfPresent(out);
      if (file) return { state: 'cancelled', scoreFile: out, file };
    }
    throw e;
  } finally {
    await source?.release();
    prep.dispose();
  }
}

interface IterateArgs {
  pool: Candidate[];
  entries: Map<string, ScoredCandidate>;
  settings: ScoreSettings;
  lorig: LatentStats;
  gateIndex: Map<string, number>;
  K: number;
  file: ScoreFile;
  save: () => void;
  evaluate: (g: Uint8Array) => Promise<Float32Array>;
  emit: (e: ScoringEvent) => void;
  progress: (phase: 'iterative', done: number, total: number) => void;
}

/**
 * Greedy joint scoring: pick the lowest-scored candidate, switch it on, re-score every remaining
 * (non-overlapping) candidate together with the picks so far, repeat up to the budget. Each step is
 * saved, so a cancelled run resumes at the step it was in.
 */
async function iterate(a: IterateArgs): Promise<IterativeReport> {
  const { pool, entries, settings } = a;
  const oneShot = (c: Candidate) => {
    const e = entries.get(c.id)!;
    return e.nonFinite ? Infinity : e.score ?? Infinity;
  };
  const byOneShot = [...pool].sort((p, q) => oneShot(p) - oneShot(q) || (p.id < q.id ? -1 : 1));
  const oneShotRank = new Map(byOneShot.map((c, i) => [c.id, i + 1]));
  const budget = Math.min(pool.length, settings.iterative!.count ?? Math.max(1, Math.round(settings.iterative!.fraction! * pool.length)));
  const report: IterativeReport = a.file.iterative?.budget === budget ? a.file.iterative : { budget, steps: [], complete: false };
  a.file.iterative = report;
  const byId = new Map(pool.map((c) => [c.id, c]));
  const picks: Candidate[] = report.steps.map((s) => byId.get(s.picked)).filter((c): c is Candidate => !!c);
  if (picks.length !== report.steps.length) report.steps = [];
  const remainingAfter = (chosen: readonly Candidate[]) => pool.filter((c) => !chosen.some((p) => overlaps(p, c)));
  // evaluations still needed, for progress: a step re-scores every remaining candidate
  let need = 0;
  {
    const sim = [...picks];
    for (let s = sim.length; s < budget; s++) {
      const rest = remainingAfter(sim);
      if (!rest.length) break;
      if (s > 0) need += rest.length;
      sim.push(rest[0]);
    }
  }
  let done = 0;
  const gates = new Uint8Array(a.K);
  while (report.steps.length < budget) {
    const rest = remainingAfter(picks);
    if (!rest.length) break;
    let pick: Candidate;
    let score: number;
    let corr: number | null = null;
    if (!picks.length) {
      pick = [...rest].sort((p, q) => oneShot(p) - oneShot(q) || (p.id < q.id ? -1 : 1))[0];
      score = oneShot(pick);
    } else {
      const joint: number[] = [];
      for (const c of rest) {
        gates.fill(0);
        for (const p of picks) gates[a.gateIndex.get(p.id)!] = 1;
        gates[a.gateIndex.get(c.id)!] = 1;
        const l = await a.evaluate(gates);
        const v = variants(distances(a.lorig, latentStats(l, a.lorig.n)))[settings.variant];
        joint.push(Number.isFinite(v) ? v : Infinity);
        a.progress('iterative', ++done, need);
      }
      let best = 0;
      for (let i = 1; i < rest.length; i++) if (joint[i] < joint[best] || (joint[i] === joint[best] && rest[i].id < rest[best].id)) best = i;
      pick = rest[best];
      score = joint[best];
      const finite = rest.map((c, i) => [oneShot(c), joint[i]]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
      const r = spearman(finite.map((x) => x[0]), finite.map((x) => x[1]));
      corr = Number.isNaN(r) ? null : r;
    }
    picks.push(pick);
    const step: IterativeStep = {
      step: report.steps.length + 1,
      picked: pick.id,
      score: Number.isFinite(score) ? score : Number.MAX_VALUE,
      oneShotScore: oneShot(pick),
      oneShotRank: oneShotRank.get(pick.id)!,
      rankCorrelation: corr,
      remaining: rest.length - 1,
    };
    report.steps.push(step);
    a.save();
    a.emit({ type: 'iteration', step });
  }
  // how the ranking changed: the picks' order vs their one-shot order, and who entered/left the top-k
  const k = report.steps.length;
  const pickedIds = report.steps.map((s) => s.picked);
  const topK = byOneShot.filter((c, i, arr) => !arr.slice(0, i).some((p) => overlaps(p, c))).slice(0, k).map((c) => c.id);
  const r = spearman(report.steps.map((s) => s.step), report.steps.map((s) => s.oneShotRank));
  report.orderCorrelation = Number.isNaN(r) ? null : r;
  report.entered = pickedIds.filter((id) => !topK.includes(id));
  report.left = topK.filter((id) => !pickedIds.includes(id));
  const oneShotOrder = [...pickedIds].sort((p, q) => oneShotRank.get(p)! - oneShotRank.get(q)!);
  report.moved = pickedIds
    .map((id, i) => ({ id, oneShotRank: oneShotOrder.indexOf(id) + 1, iterativeRank: i + 1 }))
    .filter((m) => m.oneShotRank !== m.iterativeRank);
  report.complete = true;
  return report;
}
