// pruneModel: one prune from start to a checked output. Read the model (and its score file), choose
// the candidates, build the pruned graph, write it (or a whole pipeline folder) into a staging
// folder, check it — re-read, structure, shapes, weights byte for byte, onnxruntime on the original's
// inputs, the latent score of the combined prune, the pipeline's metric, measured latency — and only
// then move it into place with its record. A failed check or a cancel leaves nothing behind.
import { existsSync } from 'node:fs';
import { acquireLock, describeOwner, runningOwner } from '../job-lock';
import { basename, dirname, join, resolve } from 'node:path';
import { CancelledError, noRoomError, UserError } from '../errors';
import { analyzeModel } from '../graph';
import { readModel } from '../onnx/reader';
import type { Model } from '../onnx/types';
import { writeModel } from '../onnx/writer';
import { readPipelineLayout } from '../pipeline/layout';
import { analysisShapes } from '../scoring/prepare';
import { readScoreFile, readScoreFileIfPresent, type ScoreFile } from '../scoring/score-file';
import { defaultScoreFile, modelIdentity, resolveTarget, type ModelIdentity } from '../scoring/target';
import { findCandidates, type Candidate } from '../surgery';
import { buildPruned, type BuiltModel } from './build';
import { predictForPrune } from './calibration';
import { checkReread, checkShapes, checkStructure, checkWeights } from './checks';
import { comparePipelines, compareModels, type CompareResult, type CompareSettings } from './compare';
import { commit, discard, planOutput, recordPathFor, SAMPLES_FILE, stage } from './output';
import { figures, readPruneRecord, sha256File } from './record';
import { savingsOf, selectForPrune, type Selection } from './select';
import { PRUNE_FORMAT, type PruneCallbacks, type PruneCheckResult, type PruneOptions, type PrunePhase, type PruneRecord, type RemovedCandidate } from './types';
import { writeFileAtomic } from '../pipeline/output-files';

export const CREATED_BY = 'ld-surgeon 0.1.0';

/** A prune whose output failed a check; the output was deleted. */
export class PruneCheckError extends UserError {
  constructor(message: string, file: string, readonly checks: PruneCheckResult[]) {
    super(message, file);
    this.name = 'PruneCheckError';
  }
}

interface Scores {
  file?: ScoreFile;
  path?: string;
  /** why a score file beside the model was not used, or that its scores are partial */
  note?: string;
}

/**
 * A score file that a job is still writing (or that a stopped job left) ranks only the candidates
 * scored so far: the prune says so. The file itself is always whole (written by rename).
 */
function partialNote(path: string, file: ScoreFile): string | undefined {
  if (file.complete) return undefined;
  const scored = file.candidates.filter((c) => c.status === 'scored').length;
  const toScore = file.candidates.filter((c) => c.status === 'scored' || c.status === 'pending').length;
  const owner = runningOwner(path);
  const why = owner ? `${describeOwner(owner)} is still writing it` : 'its score job was stopped before the end; re-run it to finish';
  return `using partial scores: ${scored} of ${toScore} candidates scored in ${path} (${why}); unscored candidates are not ranked`;
}

function sameModel(a: ModelIdentity, b: ModelIdentity): boolean {
  // external data files are identified by size: a copied or hard-linked model keeps its scores
  return a.sha256 === b.sha256 && JSON.stringify(a.externalData.map((x) => [x.file, x.bytes])) === JSON.stringify(b.externalData.map((x) => [x.file, x.bytes]));
}

function loadScores(opts: PruneOptions, modelPath: string, identity: ModelIdentity): Scores {
  const explicit = opts.scores !== undefined;
  const needed = opts.selection.mode !== 'ops';
  const path = resolve(opts.scores ?? defaultScoreFile(modelPath));
  if (!existsSync(path)) {
    if (!explicit && !needed) return {};
    const flag = opts.selection.mode === 'lowest' ? '--lowest' : opts.selection.mode === 'stack' ? '--stack' : `--target-${(opts.selection as { kind: string }).kind}`;
    const why = needed ? `${flag} ranks candidates by their LD-Pruner scores` : '--scores names it';
    throw new UserError(`${path}: no score file (${why}); run \`ld-surgeon score ${opts.input}\` first, or pass --scores FILE`, path);
  }
  const file = explicit || needed ? readScoreFile(path) : readScoreFileIfPresent(path);
  if (!file) return { note: `${path} is not a readable score file; scores are not reported` };
  if (!sameModel(file.model, identity)) {
    const msg = `${path}: was written for another version of ${modelPath} (its hash differs); score this model again`;
    if (explicit || needed) throw new UserError(msg, path);
    return { note: `${msg}; its scores are not reported here` };
  }
  return { file, path, note: partialNote(path, file) };
}

function compareSettings(opts: PruneOptions, scores: Scores, pipeline: string | undefined, inputs: Record<string, number[]> | undefined): CompareSettings {
  const sf = scores.file?.settings;
  const recorded = scores.file?.latents.source.guidance;
  const steps = opts.steps ?? sf?.steps ?? (pipeline ? readPipelineLayout(pipeline).ldSurgeon.numInferenceSteps : undefined) ?? 25;
  const samples = opts.samples ?? sf?.samples ?? 16;
  if (!Number.isInteger(samples) || samples < 1) throw new UserError(`samples must be an integer ≥ 1, got ${samples}`);
  if (!Number.isInteger(steps) || steps < 1) throw new UserError(`steps must be an integer ≥ 1, got ${steps}`);
  return {
    samples,
    seed: sf?.seed ?? 0,
    variant: sf?.variant ?? 'avg+std',
    steps,
    scheduler: sf?.scheduler ?? 'ddim',
    eta: sf?.eta ?? 0,
    guidance: typeof recorded === 'number' ? recorded : sf?.guidance,
    conditions: sf?.conditions ?? { kind: 'default' },
    batchSize: sf?.batchSize,
    inputs,
    // the score file's rule is all samples in one pass; without one, one sample per pass bounds memory
    samplesPerPass: scores.file ? undefined : 1,
  };
}

function removedEntry(c: Candidate, scores: Scores, savings: ReturnType<typeof savingsOf>): RemovedCandidate {
  const e = scores.file?.candidates.find((x) => x.id === c.id);
  const plan = c.modification!;
  const out: RemovedCandidate = {
    id: c.id, level: c.level, kind: c.kind, action: plan.action, method: plan.method, description: plan.description,
    score: e && e.status === 'scored' ? e.score : null,
    params: savings.params, flops: savings.flops,
  };
  const share = e?.latencyShare ?? c.latencyShare;
  if (share !== undefined) out.latencyShare = share;
  return out;
}

function failed(checks: PruneCheckResult[]): PruneCheckResult[] {
  return checks.filter((c) => c.status === 'failed');
}

/**
 * Prunes a model or pipeline and returns the record written beside the output. Throws UserError on
 * a bad selection (nothing is written), PruneCheckError when the output fails a check (it is deleted),
 * CancelledError when `signal` aborts (nothing is left).
 */
export async function pruneModel(opts: PruneOptions, cb: PruneCallbacks = {}): Promise<PruneRecord> {
  const t0 = Date.now();
  const { signal } = cb;
  const progress = (phase: PrunePhase, message: string, done?: number, total?: number) => cb.onProgress?.({ phase, message, done, total });
  const step = () => { if (signal?.aborted) throw new CancelledError(); };

  step();
  const target = resolveTarget(opts.input);
  progress('read', `reading ${target.modelPath}`);
  const model = await readModel(target.modelPath);
  const identity = await modelIdentity(model);
  const scores = loadScores(opts, target.modelPath, identity);
  const inputs = opts.inputs ?? scores.file?.settings.inputs;
  const shapes = analysisShapes(model, target, inputs);
  const analysis = await analyzeModel(model, { inputShapes: shapes });
  const candidates = findCandidates(analysis, { granularity: opts.selection.mode === 'ops' ? 'both' : scores.file!.settings.granularity });
  const before = figures(analysis, model);
  const plan = planOutput(target, model, opts.out, opts.force);
  // one prune per output: a second one refuses, naming the first, rather than mixing their files
  const lock = await acquireLock(plan.finalPipeline ?? plan.finalModel, `prune ${opts.input}`, { signal });
  try {
    const settings = compareSettings(opts, scores, target.pipeline, inputs);

    step();
    progress('select', 'choosing candidates');
    const sel = opts.selection;
    const { selection, built } = await selectAndBuild(opts, analysis, candidates, scores, target.modelPath, model, shapes, before, target.kind === 'pipeline', progress);
    const after0 = figures(built.analysis, built.model, []);
    const achieved = sel.mode === 'target' && sel.kind !== 'latency' ? 1 - after0[sel.kind] / before[sel.kind] : undefined;

    step();
    const checks: PruneCheckResult[] = [];
    let compared: CompareResult | undefined;
    let record: PruneRecord;
    try {
      progress('write', plan.kind === 'pipeline' ? `staging the pipeline folder for ${plan.finalPipeline}` : `writing ${plan.finalModel}`);
      stage(plan, target, model, signal);
      step();
      const sourceExternal = model.graph.initializers.some((t) => t.location.kind === 'external');
      // weights are copied tensor by tensor (never the whole model in memory): the bar counts MiB of them
      const mib = (n: number) => Math.round(n / 2 ** 20);
      const written = await writeModel(built.model, plan.stagedModel, {
        externalData: sourceExternal ? 'always' : 'auto', signal,
        onProgress: (done, total) => progress('write', 'writing the pruned model (MiB)', mib(done), mib(total)),
      });

      progress('check', 're-reading the written model');
      const reread = await checkReread(plan.stagedModel, built.model);
      checks.push(reread.check);
      if (reread.model) {
        checks.push(checkStructure(reread.model, new Set(target.kind === 'pipeline' ? model.graph.inputs.map((v) => v.name) : [])));
        checks.push(await checkShapes(reread.model, shapes));
        step();
        progress('check', 'comparing kept weights with the source, byte for byte');
        checks.push(await checkWeights(model, reread.model, signal, (done, total) => progress('check', 'comparing kept weights', done, total)));
      }
      step();
      if (!failed(checks).length) {
        const onPhase = (phase: 'latents' | 'metric' | 'latency', message: string) => progress(phase, message);
        const latency = { seconds: opts.latencySeconds ?? 20, minRuns: opts.minRuns ?? 5 };
        compared = plan.kind === 'pipeline'
          ? await comparePipelines(target.pipeline!, plan.staging, { settings, ep: opts.ep ?? 'auto', latency, metric: opts.metric !== false, signal, onPhase })
          : await compareModels(target.modelPath, plan.stagedModel, { settings, ep: opts.ep ?? 'auto', latency, metric: false, signal, onPhase });
        checks.push(...compared.checks);
      }

      const afterFigures = { ...after0, fileBytes: written.bytes + (written.dataBytes ?? 0) };
      const chosenSavings = selection.chosen.map((c) => removedEntry(c, scores, savingsOf(analysis, c, c.latencyShare)));
      const latencyAchieved = compared?.latency ? -compared.latency.changePercent / 100 : undefined;
      record = {
        format: PRUNE_FORMAT,
        createdBy: CREATED_BY,
        createdAt: new Date().toISOString(),
        source: { kind: target.kind, model: target.modelPath, pipeline: target.pipeline, sha256: identity.sha256, fileBytes: before.fileBytes },
        output: {
          model: plan.finalModel,
          pipeline: plan.finalPipeline,
          sha256: await sha256File(plan.stagedModel),
          fileBytes: afterFigures.fileBytes,
          externalData: written.dataPath ? join(dirname(plan.finalModel), basename(written.dataPath)) : undefined,
          record: plan.finalRecord,
        },
        selection: {
          mode: sel.mode,
          ...(sel.mode === 'ops' ? { ids: sel.ids } : {}),
          ...(sel.mode === 'lowest' ? { count: sel.count } : {}),
          ...(sel.mode === 'stack' ? { stack: selection.stack ?? sel.stack, count: sel.count } : {}),
          ...(sel.mode === 'target'
            ? { target: { kind: sel.kind, fraction: sel.fraction, estimatedFraction: selection.estimatedFraction ?? 0, achievedFraction: sel.kind === 'latency' ? latencyAchieved : achieved } }
            : {}),
          ...(scores.path ? { scoreFile: scores.path, scoreVariant: scores.file!.settings.variant } : {}),
        },
        removed: chosenSavings,
        subsumed: selection.subsumed,
        graph: { removedNodes: built.removedNodes, addedNodes: built.addedNodes, removedInitializers: built.removedInitializers, removedInputs: built.removedInputs, fixedValueInfo: built.fixedValueInfo },
        before,
        after: afterFigures,
        executionProvider: compared?.ep,
        latents: compared?.latents,
        ...(scores.file ? { predicted: predictForPrune(chosenSavings, target.pipeline, scores.file.settings.variant) } : {}),
        metric: compared?.metric,
        latency: compared?.latency,
        ...(compared?.samplesPng && plan.finalPipeline ? { samples: { file: join(plan.finalPipeline, SAMPLES_FILE), count: compared.samplesPng.count } } : {}),
        checks,
        ...(scores.note ? { notes: [scores.note] } : {}),
        seconds: (Date.now() - t0) / 1000,
      };
      const parent = readPruneRecord(recordPathFor(target.modelPath));
      if (parent) record.parent = parent;

      const bad = failed(checks);
      if (bad.length) {
        throw new PruneCheckError(
          `${plan.finalPipeline ?? plan.finalModel}: the pruned model failed ${bad.length === 1 ? 'a check' : `${bad.length} checks`}, so nothing was written: ${bad.map((c) => `${c.name}: ${c.detail}`).join('; ')}`,
          target.modelPath, checks);
      }
      step();
      progress('commit', `moving the output into place: ${plan.finalPipeline ?? plan.finalModel}`);
      writeFileAtomic(plan.stagedRecord, JSON.stringify(record, null, 1) + '\n');
      if (compared?.samplesPng && plan.kind === 'pipeline') writeFileAtomic(join(plan.staging, SAMPLES_FILE), compared.samplesPng.png);
      lock.check();
      commit(plan, model);
    } catch (e) {
      discard(plan);
      // a full disk while staging names the output asked for, not the hidden staging folder
      throw noRoomError(e, plan.finalPipeline ?? plan.finalModel);
    }
    return record;
  } finally {
    lock.release();
  }
}

/**
 * Chooses the candidates and builds the pruned graph. For a params or FLOPs target the figures of
 * the built model decide: when the estimate fell short (a kept shortcut, a weight shared between
 * regions), the aim is raised and the selection extended until the measured reduction meets it.
 */
async function selectAndBuild(
  opts: PruneOptions, analysis: Awaited<ReturnType<typeof analyzeModel>>, candidates: Candidate[], scores: Scores, modelPath: string,
  model: Model, shapes: Record<string, number[]>, before: ReturnType<typeof figures>, pipeline: boolean,
  progress: (phase: PrunePhase, message: string) => void,
): Promise<{ selection: Selection; built: BuiltModel }> {
  const sel = opts.selection;
  let boost = 1;
  for (let attempt = 0; ; attempt++) {
    const selection = selectForPrune({ selection: sel, analysis, candidates, scoreFile: scores.file, scorePath: scores.path, modelPath, targetBoost: boost });
    progress('build', `building the pruned graph without ${selection.chosen.length} candidate${selection.chosen.length === 1 ? '' : 's'}`);
    const built = await buildPruned(model, selection.chosen, shapes, pipeline);
    if (sel.mode !== 'target' || sel.kind === 'latency') return { selection, built };
    const after = built.analysis.total.get(built.analysis.tree.root)!;
    const achieved = 1 - after[sel.kind] / before[sel.kind];
    if (achieved >= sel.fraction - 1e-9) return { selection, built };
    const aim = sel.fraction * boost + (sel.fraction - achieved) + 1e-6;
    if (aim >= 1 || attempt >= 10) {
      throw new UserError(`${modelPath}: the ${sel.kind} target −${(100 * sel.fraction).toFixed(1)}% cannot be reached: the largest selection that could be built saves ${(100 * achieved).toFixed(1)}%; nothing was written`, modelPath);
    }
    boost = aim / sel.fraction;
  }
}

