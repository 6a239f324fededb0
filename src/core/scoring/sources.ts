// Where latents come from. For a pipeline: the real sampling loop (its scheduler, T steps, N fixed-seed
// noises, a fixed set of conditions) with the gated U-Net, batched; the latents are the final denoised
// latents before decoding. For a bare model: one forward pass on N seeded random inputs, whose outputs
// are the latents. Either way ONE session of the gated model serves every evaluation: a candidate is
// switched on by its gate, passed as an extra input.
import * as ort from 'onnxruntime-node';
import { CancelledError, UserError } from '../errors';
import { resolveConditions, type ResolvedConditions } from '../pipeline/conditions';
import { GaussianStream, sampleSeed } from '../pipeline/noise';
import { PipelineRunner } from '../pipeline/runner';
import { createScheduler, resolveScheduler, type SchedulerName } from '../pipeline/schedulers';
import { floatTensor, inputInfo, outputInfo, readFloat, type IoInfo } from '../pipeline/tensors';
import { GATE_INPUT } from '../surgery/apply';
import { openRunnerWithProvider, withProvider, type EpReport } from './ep';
import { createEvalSession, inMemory, type EvalModel } from './eval-model';
import type { ScoreSettings } from './settings';

export interface EvalSource {
  readonly kind: 'pipeline' | 'model';
  /** latents of one evaluation: [N, ...] (for a bare model: [N, elements], known after the first evaluation) */
  readonly shape: number[];
  /** model calls per evaluation (U-Net calls for a pipeline) */
  readonly callsPerEval: number;
  readonly ep: EpReport;
  /** what the latents are conditioned on / fed with, for the score file */
  readonly record: Record<string, unknown>;
  /** onnxruntime sessions this source created so far */
  readonly sessionsCreated: number;
  /** gates[k] = 1 switches candidate k on */
  evaluate(gates: Uint8Array, signal?: AbortSignal): Promise<Float32Array>;
  /** the same evaluation with the unmodified model (a second session, created on demand) */
  evaluateOriginal(signal?: AbortSignal): Promise<Float32Array>;
  /** stops profiling the gated session (profiling covers its first PROFILED_CALLS model calls at most) */
  endProfiling(): Promise<void>;
  /** the pipeline runner, when the source is a pipeline (for decoding and its metric) */
  readonly runner?: PipelineRunner;
  /** per-sample class labels, when the conditions carry them */
  readonly labels?: (number | null)[];
  /** the sampler that ran (a pipeline: 'pipeline' resolved from its scheduler_config.json's class) */
  readonly scheduler?: SchedulerName;
  release(): Promise<void>;
}

/**
 * Model calls profiled at the start of the first evaluation (the reference): enough for a per-kernel
 * median past the warm-up, few enough that profiling stays a small part of a short job (onnxruntime
 * writes one trace event per kernel per call, then the trace has to be read back). With 3, the first
 * block's attention measured 27.8% of digits-cond's latency (6% over 10 calls), and --target-latency
 * −35% then removed 19 blocks (−53% measured) instead of 15 (−40%).
 */
export const PROFILED_CALLS = 10;

/** Ends the session's profiling once `PROFILED_CALLS` calls have run (or on demand), once. */
class ProfileWindow {
  private calls = 0;
  private open: boolean;
  constructor(private readonly session: () => ort.InferenceSession | undefined, profiling: boolean) {
    this.open = profiling;
  }
  called(): void {
    if (this.open && ++this.calls >= PROFILED_CALLS) this.end();
  }
  end(): void {
    if (!this.open) return;
    this.open = false;
    this.session()?.endProfiling();
  }
}

export interface SourceOptions {
  /** the gated model (or, for baselines, the original one) */
  gated: EvalModel;
  originalPath: string;
  /** gates of the gated model (0: a model without gates, e.g. the original, for baselines) */
  gateCount: number;
  settings: ScoreSettings;
  /** profile the gated session's first PROFILED_CALLS calls (or until endProfiling()); files go to this folder */
  profileDir?: string;
  /** pipeline folder; undefined for a bare model */
  pipeline?: string;
  /** extra onnxruntime session options (threads, spinning…) for every session the source creates */
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

function gateFeed(gates: Uint8Array, count: number): ort.Tensor {
  if (gates.length !== count) throw new Error(`expected ${count} gate values, got ${gates.length}`);
  return new ort.Tensor('bool', gates, [count]);
}

function sessionOptions(o: SourceOptions): ort.InferenceSession.SessionOptions {
  const so: ort.InferenceSession.SessionOptions = { ...o.sessionOptions, graphOptimizationLevel: o.settings.optLevel };
  if (o.profileDir) {
    so.enableProfiling = true;
    so.profileFilePrefix = `${o.profileDir}/profile`;
  }
  return so;
}

export async function openSource(o: SourceOptions): Promise<EvalSource> {
  return o.pipeline ? openPipelineSource(o, o.pipeline) : openModelSource(o);
}

async function openPipelineSource(o: SourceOptions, folder: string): Promise<EvalSource> {
  const s = o.settings;
  const { value: runner, ep } = await openRunnerWithProvider(s.ep, o.gated.path, folder, (name) => ({ unetPath: o.gated.path, unetModel: inMemory(o.gated), executionProviders: [name], sessionOptions: sessionOptions(o) }));
  let sessions = 1;
  try {
    const gatedSession = await runner.unet();
    const profile = new ProfileWindow(() => gatedSession, !!o.profileDir);
    const layout = runner.layout;
    const conditional = await runner.isConditional();
    if (!conditional && s.guidance !== undefined && s.guidance !== 1) throw new UserError(`${folder}: guidance needs a conditional pipeline; this U-Net has no encoder_hidden_states input`, folder);
    const guidance = s.guidance ?? (conditional ? layout.ldSurgeon.guidanceScale ?? 7.5 : 1);
    const resolved: ResolvedConditions = await resolveConditions(runner, s.conditions, guidance);
    if (resolved.conditioning && layout.textEncoderPath && (s.conditions.kind !== 'embeddings' || guidance !== 1)) sessions++;
    const latentShape = await runner.latentShape();
    const n = s.samples;
    const batchSize = s.batchSize ?? n;
    const choice = resolveScheduler(s.scheduler, layout.schedulerConfig);
    const scheduler = () => createScheduler(choice.name, layout.schedulerConfig, { steps: s.steps, eta: s.eta });
    const T = scheduler().timesteps.length;
    const rowsPerSample = conditional && guidance !== 1 ? 2 : 1;
    const condCount = resolved.conditioning?.count ?? 0;
    const labels = resolved.labels && condCount ? Array.from({ length: n }, (_, i) => resolved.labels![i % condCount]) : undefined;
    const generate = async (unet: ort.InferenceSession | undefined, gates: Uint8Array | undefined, signal?: AbortSignal) => (await runner.generate({
      n, seed: s.seed, scheduler: scheduler(), guidance, conditioning: resolved.conditioning, batchSize, latentShape,
      unet, extraUnetFeeds: gates && o.gateCount ? { [GATE_INPUT]: gateFeed(gates, o.gateCount) } : undefined, signal,
      onProgress: unet ? undefined : (p) => p.phase === 'denoise' && profile.called(),
    })).latents;
    let original: ort.InferenceSession | undefined;
    return {
      kind: 'pipeline',
      shape: [n, ...latentShape],
      callsPerEval: T * Math.ceil(n / batchSize),
      ep,
      runner,
      labels,
      scheduler: choice.name,
      record: {
        pipeline: folder,
        scheduler: choice.name,
        ...(layout.schedulerConfig.className ? { schedulerClass: layout.schedulerConfig.className } : {}),
        ...(choice.fallback ? { schedulerFallback: { from: choice.fallback.from, to: 'ddim', reason: choice.fallback.reason } } : {}),
        steps: s.steps,
        timesteps: scheduler().timesteps,
        eta: s.eta,
        guidance,
        unetRowsPerCall: Math.min(batchSize, n) * rowsPerSample,
        conditions: resolved.record,
        noise: 'MT19937 per sample, seed + i (see pipeline/noise.ts)',
      },
      get sessionsCreated() {
        return sessions;
      },
      evaluate: (gates, signal) => generate(undefined, gates, signal),
      async evaluateOriginal(signal) {
        if (!original) {
          // the original U-Net with the same provider and optimisation level as the gated one, unprofiled
          original = await ort.InferenceSession.create(layout.unetPath, { ...o.sessionOptions, graphOptimizationLevel: s.optLevel, executionProviders: [ep.used] });
          sessions++;
        }
        return generate(original, undefined, signal);
      },
      async endProfiling() {
        profile.end();
      },
      async release() {
        await original?.release();
        await runner.release();
      },
    };
  } catch (e) {
    await runner.release();
    throw e;
  }
}

export interface FeedSpec {
  name: string;
  type: string;
  dims: number[];
}

/**
 * Inputs of a bare model: declared dims, --input overrides; a free first dim carries the samples.
 * Shared with prune's checks so a model and its score file see the same inputs.
 */
export function feedSpecs(inputs: IoInfo[], path: string, given: Record<string, number[]> | undefined, n: number): { specs: FeedSpec[]; perPass: number } {
  for (const name of Object.keys(given ?? {})) {
    if (!inputs.some((i) => i.name === name)) throw new UserError(`${path}: has no input '${name}' (inputs: ${inputs.map((i) => i.name).join(', ')})`, path);
  }
  let perPass: number | undefined;
  const specs = inputs.map((i) => {
    const g = given?.[i.name];
    if (i.type === 'non-tensor') throw new UserError(`${path}: input '${i.name}' is not a tensor; only tensor inputs can be fed random values`, path);
    const shape = i.shape ?? (g ? g.map(() => null) : undefined);
    if (!shape) throw new UserError(`${path}: the rank of input '${i.name}' is unknown; give --input ${i.name}=D1,D2,...`, path);
    let dims: number[];
    if (g) {
      if (g.length !== shape.length) throw new UserError(`${path}: input '${i.name}' has rank ${shape.length}, --input gave ${g.length} dims`, path);
      dims = g;
    } else {
      dims = shape.map((d, k) => {
        if (d !== null) return d;
        if (k === 0) return n;
        throw new UserError(`${path}: input '${i.name}' dim ${k} is not fixed; give --input ${i.name}=${shape.map((x) => x ?? 'D').join(',')}`, path);
      });
    }
    const b = dims.length ? dims[0] : 1;
    perPass = perPass === undefined ? b : Math.min(perPass, b);
    return { name: i.name, type: i.type, dims };
  });
  return { specs, perPass: Math.max(1, perPass ?? 1) };
}

/** Seeded random feed values: sample j of pass p draws from stream seed + (p·b + j). */
export function randomFeeds(specs: FeedSpec[], seed: number, pass: number, perPass: number, where: string): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, spec] of specs.entries()) {
    const total = spec.dims.reduce((a, b) => a * b, 1);
    const rows = spec.dims.length ? spec.dims[0] : 1;
    const per = rows ? total / rows : 0;
    const values = new Float32Array(total);
    for (let r = 0; r < rows; r++) {
      // each input gets its own offset of the stream so inputs are independent
      const g = new GaussianStream(sampleSeed(seed + k * 1000003, pass * perPass + r));
      g.fill(values, r * per, per);
    }
    if (spec.type.startsWith('float')) feeds[spec.name] = floatTensor(spec.type, values, spec.dims, `${where} input '${spec.name}'`);
    else if (spec.type === 'int64') feeds[spec.name] = new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(Math.min(9, Math.floor(Math.abs(v) * 4)))), spec.dims);
    else if (spec.type === 'int32') feeds[spec.name] = new ort.Tensor('int32', Int32Array.from(values, (v) => Math.min(9, Math.floor(Math.abs(v) * 4))), spec.dims);
    else if (spec.type === 'bool') feeds[spec.name] = new ort.Tensor('bool', Uint8Array.from(values, (v) => (v > 0 ? 1 : 0)), spec.dims);
    else throw new UserError(`${where}: input '${spec.name}' has element type ${spec.type}; random inputs cover float, int32, int64 and bool`);
  }
  return feeds;
}

async function openModelSource(o: SourceOptions): Promise<EvalSource> {
  const s = o.settings;
  const { value: session, ep } = await withProvider(s.ep, o.gated.path, (name) =>
    createEvalSession(o.gated, { ...sessionOptions(o), executionProviders: [name] }));
  let sessions = 1;
  const profile = new ProfileWindow(() => session, !!o.profileDir);
  const where = o.originalPath;
  try {
    const n = s.samples;
    const { specs, perPass } = feedSpecs(inputInfo(session).filter((i) => i.name !== GATE_INPUT), where, s.inputs, n);
    const passes = Math.ceil(n / perPass);
    const outputs = outputInfo(session).map((x) => x.name);
    const feeds = Array.from({ length: passes }, (_, p) => randomFeeds(specs, s.seed, p, perPass, where));
    let perSample = 0;
    const run = async (sess: ort.InferenceSession, gates: Uint8Array | undefined, signal?: AbortSignal) => {
      const rows: Float32Array[] = [];
      for (let p = 0; p < passes; p++) {
        if (signal?.aborted) throw new CancelledError();
        const out = await sess.run(gates && o.gateCount ? { ...feeds[p], [GATE_INPUT]: gateFeed(gates, o.gateCount) } : feeds[p], outputs);
        if (sess === session) profile.called();
        const parts = outputs.map((name) => {
          const t = out[name] as ort.Tensor;
          if (t.dims[0] !== perPass) throw new UserError(`${where}: output '${name}' has shape [${t.dims}]; its first axis must be the samples (${perPass} per pass)`, where);
          return readFloat(t, `${where} output '${name}'`);
        });
        for (let j = 0; j < perPass && p * perPass + j < n; j++) {
          const sizes = parts.map((d) => d.length / perPass);
          const row = new Float32Array(sizes.reduce((a, b) => a + b, 0));
          let off = 0;
          parts.forEach((d, k) => {
            row.set(d.subarray(j * sizes[k], (j + 1) * sizes[k]), off);
            off += sizes[k];
          });
          rows.push(row);
        }
      }
      perSample = rows[0].length;
      const all = new Float32Array(n * perSample);
      rows.forEach((r, i) => all.set(r, i * perSample));
      return all;
    };
    let original: ort.InferenceSession | undefined;
    return {
      kind: 'model',
      get shape() {
        return [n, perSample];
      },
      callsPerEval: passes,
      ep,
      record: { inputs: Object.fromEntries(specs.map((x) => [x.name, { type: x.type, dims: x.dims }])), perPass, passes, values: 'standard normal floats (MT19937, seed + i per sample); integers 0..9; booleans' },
      get sessionsCreated() {
        return sessions;
      },
      evaluate: (gates, signal) => run(session, gates, signal),
      async evaluateOriginal(signal) {
        if (!original) {
          original = await ort.InferenceSession.create(o.originalPath, { ...o.sessionOptions, graphOptimizationLevel: s.optLevel, executionProviders: [ep.used] });
          sessions++;
        }
        return run(original, undefined, signal);
      },
      async endProfiling() {
        profile.end();
      },
      async release() {
        await original?.release();
        await session.release();
      },
    };
  } catch (e) {
    await session.release();
    throw e;
  }
}
