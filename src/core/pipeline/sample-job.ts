// `ld-surgeon sample` as a library call: generate N samples from a pipeline folder, decode
// them, score them with the pipeline's metric, and write the outputs. Everything is computed
// in memory first, so a cancelled or failed run writes nothing.
import { resolve } from 'node:path';
import { UserError } from '../errors';
import { encodeNpy, readNpyFloat32 } from '../npy';
import { resolveConditions, type ConditionInput, type ResolvedConditions } from './conditions';
import { samplesToPng } from './image-grid';
import { formatMetric, type MetricResult } from './metrics';
import { writeOutputs } from './output-files';
import { PipelineRunner, type Generated, type Progress } from './runner';
import { openRunnerWithProvider, type EpReport } from '../scoring/ep';
import type { EpRequest } from '../scoring/settings';
import { createScheduler, fallbackWarning, resolveScheduler, type Scheduler, type SchedulerChoice, type SchedulerName, type SchedulerSetting } from './schedulers';

export interface SampleJobOptions {
  pipeline: string;
  out: string;
  /** number of samples; default 16, or the count in `noiseFile` */
  n?: number;
  seed?: number;
  steps?: number;
  /** default 'pipeline': the class scheduler_config.json names (DDIM, with a warning, for classes we do not run) */
  scheduler?: SchedulerSetting;
  eta?: number;
  guidance?: number;
  conditions?: ConditionInput;
  /** initial latents x_T [n, C, H, W] as .npy, instead of seeded noise */
  noiseFile?: string;
  batchSize?: number;
  /** onnxruntime provider names as given (no fallback); when absent, `ep` chooses */
  executionProviders?: string[];
  /** the execution provider ('auto': the first that loads the U-Net); default 'auto' */
  ep?: EpRequest;
  height?: number;
  width?: number;
  /** skip the metric even when the pipeline has one */
  noMetrics?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** told a warning line before sampling starts (a scheduler fallback) */
  onWarning?: (line: string) => void;
  /** an open runner to reuse (its sessions stay open); otherwise one is opened and released */
  runner?: PipelineRunner;
}

export interface SampleJobResult {
  files: string[];
  latentShape: number[];
  sampleShape: number[];
  metrics?: MetricResult;
  /** one line for a terminal, when there is a metric */
  metricLine?: string;
  /** the sampler that ran */
  schedulerName: SchedulerName;
  /** warning lines (a scheduler fallback), also told to onWarning */
  warnings: string[];
  seconds: number;
  /** the provider that ran, when this job chose it (no runner or provider list given) */
  executionProvider?: EpReport;
}

const isAudio = (task: unknown) => typeof task === 'string' && /audio/i.test(task);

/** What drawSamples needs: the sampling settings of a sample job, without its output folder. */
export type DrawOptions = Omit<SampleJobOptions, 'pipeline' | 'out' | 'runner'> & {
  /** conditions already resolved (by the other pipeline of a paired comparison); replaces `conditions` */
  resolved?: ResolvedConditions;
};

/** Samples drawn, decoded and scored in memory: what `sample` writes and `measure` compares. */
export interface DrawnSamples {
  n: number;
  seed: number;
  steps: number;
  eta: number;
  guidance: number;
  choice: SchedulerChoice;
  scheduler: Scheduler;
  warning?: string;
  noise?: Float32Array;
  resolved: ResolvedConditions;
  /** the class of each sample, when its condition has a known label */
  sampleLabels?: (number | null)[];
  gen: Generated;
  dec: { samples: Float32Array; shape: number[] };
  metrics?: MetricResult;
}

/**
 * The sampling part of a sample job on an open runner: seeded noise (or given latents) through the
 * scheduler, the VAE decoder and the pipeline's metric. The same options on two pipelines draw the
 * same noise and conditions, which is what makes a before/after measurement paired.
 */
export async function drawSamples(runner: PipelineRunner, o: DrawOptions): Promise<DrawnSamples> {
  const layout = runner.layout;
  const sCfg = layout.schedulerConfig;
  const choice = resolveScheduler(o.scheduler, sCfg);
  const schedulerName = choice.name;
  const warning = fallbackWarning(choice, layout.schedulerConfigFile);
  if (warning) o.onWarning?.(warning);
  const steps = o.steps ?? layout.ldSurgeon.numInferenceSteps ?? 25;
  const eta = o.eta ?? 0;
  if (schedulerName !== 'ddim' && o.eta !== undefined) throw new UserError('--eta applies to the DDIM scheduler only');
  const scheduler = createScheduler(schedulerName, sCfg, { steps, eta });
  const conditional = await runner.isConditional();
  const guidance = o.guidance ?? (conditional ? layout.ldSurgeon.guidanceScale ?? 7.5 : 1);
  if (!conditional && o.guidance !== undefined && o.guidance !== 1) throw new UserError(`${layout.folder}: --guidance needs a conditional pipeline; this U-Net has no encoder_hidden_states input`);
  const latentShape = await runner.latentShape({ height: o.height, width: o.width });

  let noise: Float32Array | undefined;
  let n = o.n;
  if (o.noiseFile) {
    const a = readNpyFloat32(o.noiseFile);
    const [count, ...rest] = a.shape;
    if (a.shape.length !== 4 || rest.join(',') !== latentShape.join(',')) {
      throw new UserError(`${o.noiseFile}: initial noise must be [N, ${latentShape}], it is [${a.shape}]`, o.noiseFile);
    }
    if (n !== undefined && n !== count) throw new UserError(`${o.noiseFile}: holds ${count} latents but --n is ${n}`, o.noiseFile);
    n = count;
    noise = a.data;
  }
  n ??= 16;
  const seed = o.seed ?? 0;
  const resolved = o.resolved ?? (await resolveConditions(runner, o.conditions ?? { kind: 'default' }, guidance));

  const gen = await runner.generate({
    n, seed, noise, scheduler, guidance,
    conditioning: resolved.conditioning,
    batchSize: o.batchSize,
    latentShape,
    signal: o.signal,
    onProgress: o.onProgress,
  });
  const dec = await runner.decode(gen.latents, gen.shape, { batchSize: o.batchSize, signal: o.signal, onProgress: o.onProgress });

  const condCount = resolved.conditioning?.count ?? 0;
  const sampleLabels = resolved.labels && condCount ? Array.from({ length: n }, (_, i) => resolved.labels![i % condCount]) : undefined;
  let metrics: MetricResult | undefined;
  if (!o.noMetrics && n >= 2) metrics = await runner.evaluate(dec.samples, dec.shape, sampleLabels);
  return { n, seed, steps, eta, guidance, choice, scheduler, warning, noise, resolved, sampleLabels, gen, dec, metrics };
}

export async function runSampleJob(o: SampleJobOptions): Promise<SampleJobResult> {
  const t0 = Date.now();
  let runner: PipelineRunner;
  let executionProvider: EpReport | undefined;
  if (o.runner) runner = o.runner;
  else if (o.executionProviders) runner = PipelineRunner.open(o.pipeline, { executionProviders: o.executionProviders });
  else ({ value: runner, ep: executionProvider } = await openRunnerWithProvider(o.ep ?? 'auto', o.pipeline, o.pipeline, (name) => ({ executionProviders: [name] })));
  try {
    const layout = runner.layout;
    const sCfg = layout.schedulerConfig;
    const { n, seed, steps, eta, guidance, choice, scheduler, warning, noise, resolved, sampleLabels, gen, dec, metrics } = await drawSamples(runner, o);
    const schedulerName = choice.name;
    const condCount = resolved.conditioning?.count ?? 0;

    const record = {
      createdBy: 'ld-surgeon sample',
      pipeline: layout.folder,
      unet: runner.unetPath,
      executionProviders: runner.executionProviders,
      ...(executionProvider ? { executionProvider } : {}),
      n,
      seed,
      noise: noise ? { file: resolve(o.noiseFile!) } : { generator: 'MT19937 (init_genrand) → 53-bit uniforms → Box-Muller, float32', perSampleSeed: 'seed + i' },
      seeds: gen.seeds,
      scheduler: {
        name: schedulerName,
        steps,
        ...(schedulerName === 'ddim' ? { eta } : {}),
        timesteps: scheduler.timesteps,
        initNoiseSigma: scheduler.initNoiseSigma,
        ...(choice.fallback ? { fallback: { from: choice.fallback.from, to: 'ddim', reason: choice.fallback.reason } } : {}),
        config: layout.schedulerConfigFile,
        predictionType: sCfg.predictionType,
        timestepSpacing: sCfg.timestepSpacing,
      },
      guidance,
      batchSize: o.batchSize ?? 8,
      latentShape: gen.shape,
      sampleShape: dec.shape,
      scalingFactor: layout.scalingFactor,
      conditions: resolved.record,
      samples: Array.from({ length: n }, (_, i) => ({
        index: i,
        seed: gen.seeds[i],
        ...(condCount ? { condition: i % condCount } : {}),
        ...(resolved.record.prompts ? { prompt: resolved.record.prompts[i % condCount] } : {}),
        ...(sampleLabels ? { label: sampleLabels[i] } : {}),
      })),
    };
    const files: Record<string, Uint8Array | string> = {
      'samples.png': samplesToPng(dec.samples, dec.shape, { flipVertical: isAudio(layout.ldSurgeon.raw.task) }),
      'samples.npy': encodeNpy(dec.samples, dec.shape),
      'latents.npy': encodeNpy(gen.latents, gen.shape),
      'conditions.json': JSON.stringify(record, null, 1) + '\n',
    };
    if (metrics) files['metrics.json'] = JSON.stringify({ ...metrics, pipeline: layout.folder, metricFile: layout.metricFile, scheduler: record.scheduler.name, ...(record.scheduler.fallback ? { schedulerFallback: record.scheduler.fallback } : {}) }, null, 1) + '\n';
    const written = writeOutputs(o.out, files);
    return {
      files: written,
      latentShape: gen.shape,
      sampleShape: dec.shape,
      metrics,
      metricLine: metrics ? formatMetric(metrics) : undefined,
      schedulerName,
      warnings: warning ? [warning] : [],
      seconds: (Date.now() - t0) / 1000,
      ...(executionProvider ? { executionProvider } : {}),
    };
  } finally {
    if (!o.runner) await runner.release();
  }
}
