// PipelineRunner: one onnxruntime session per pipeline component, created on first use and
// reused across steps, batches and calls (session creation dominates small runs). Scoring
// keeps a runner open and swaps U-Nets or feeds extra U-Net inputs per candidate.
import * as ort from 'onnxruntime-node';
import { CancelledError, UserError } from '../errors';
import { readPipelineLayout, vaeScaleFactor, type PipelineLayout } from './layout';
import { GaussianStream, sampleSeed } from './noise';
import type { Scheduler } from './schedulers/types';
import { filledTensor, floatTensor, idsTensor, inputInfo, outputInfo, readFloat, type IoInfo } from './tensors';
import { loadTokenizer, type Tokenizer } from './tokenizers';
import { classify, readMetricSpec, scoreOutputs, type MetricResult, type MetricSpec } from './metrics';
import { addTimeIds, encodeSdxlPrompts, sdxlParts, type AddedConditions } from './sdxl-conditions';

export interface RunnerOptions {
  /** onnxruntime execution providers in preference order ('cpu', 'cuda', 'webgpu', 'dml', ...); default ['cpu'] */
  executionProviders?: string[];
  /** extra session options for every component (threads, optimisation level, ...) */
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** load the U-Net from this file instead of unet/model.onnx (a pruned or modified copy) */
  unetPath?: string;
  /** load the U-Net from these encoded bytes instead (unetPath then only names it in messages) */
  unetModel?: InMemoryModel;
}

/** An encoded model held in memory; its external-data locations are relative to `externalDataFolder`. */
export interface InMemoryModel {
  bytes: Uint8Array;
  externalDataFolder: string;
}

/** Session options that let onnxruntime find the external data of a model created from bytes. */
export function inMemoryOptions(so: ort.InferenceSession.SessionOptions, folder: string): ort.InferenceSession.SessionOptions {
  const extra = (so.extra ?? {}) as Record<string, unknown> & { session?: Record<string, unknown> };
  return { ...so, extra: { ...extra, session: { ...extra.session, model_external_initializers_file_folder_path: folder } } };
}

/** Encoder hidden states for K conditions, plus the unconditional row for guidance. */
export interface Conditioning {
  /** [count, seqLen, dim], row-major */
  embeddings: Float32Array;
  count: number;
  seqLen: number;
  dim: number;
  /** [seqLen, dim]: the empty prompt's embedding; needed when guidance ≠ 1 */
  uncond?: Float32Array;
  /** SDXL's pooled text embeddings, fed to a U-Net's `text_embeds` input (see sdxl-conditions.ts) */
  added?: AddedConditions;
}

export interface Progress {
  phase: 'denoise' | 'decode';
  /** 1-based step within the batch (denoise), or 0 */
  step: number;
  steps: number;
  /** 1-based batch index */
  batch: number;
  batches: number;
}

export interface GenerateOptions {
  n: number;
  scheduler: Scheduler;
  /** run seed: sample i draws from stream seed + i (see noise.ts); default 0 */
  seed?: number;
  /** given initial latents x_T, [n, C, H, W] row-major; replaces the seeded draw of x_T */
  noise?: Float32Array;
  /**
   * supplies the per-step noise z of sample `index` at the step-th timestep (0-based) into `out`,
   * instead of the seeded streams (replaying a reference run)
   */
  stepNoise?: (step: number, index: number, out: Float32Array) => void;
  /** sample i is conditioned on row i mod count; required for a conditional U-Net */
  conditioning?: Conditioning;
  /** classifier-free guidance scale G: ε = ε_u + G·(ε_c − ε_u); 1 runs the conditional branch only */
  guidance?: number;
  /** samples per U-Net call (each is two U-Net rows under guidance); default 8 */
  batchSize?: number;
  /** [C, H, W]; default latentShape() */
  latentShape?: number[];
  /** run this U-Net session instead of the pipeline's (e.g. a modified copy under scoring) */
  unet?: ort.InferenceSession;
  /** extra inputs fed to every U-Net call (e.g. per-candidate gate inputs of a modified U-Net) */
  extraUnetFeeds?: Record<string, ort.Tensor>;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export interface Generated {
  /** the final latents x_0, [n, C, H, W] */
  latents: Float32Array;
  shape: number[];
  /** per-sample seeds used (seed + i) */
  seeds: number[];
}

interface UnetIo {
  sample: IoInfo;
  timestep: IoInfo;
  encoderHiddenStates?: IoInfo;
  /** SDXL's added conditions (addition_embed_type "text_time") */
  textEmbeds?: IoInfo;
  timeIds?: IoInfo;
  output: string;
  /** inputs the pipeline does not know how to fill (must come from extraUnetFeeds) */
  others: string[];
  /** static batch size of `sample`, if the export fixed it */
  staticBatch?: number;
}

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}

export function describeUnet(session: ort.InferenceSession, path: string): UnetIo {
  const inputs = inputInfo(session);
  const byName = (n: string) => inputs.find((i) => i.name === n);
  const sample = byName('sample') ?? inputs[0];
  const timestep = byName('timestep') ?? inputs.find((i) => i !== sample && /time/i.test(i.name));
  if (!sample || !timestep) throw new UserError(`${path}: the U-Net needs 'sample' and 'timestep' inputs; it has ${inputs.map((i) => i.name).join(', ')}`, path);
  if (sample.shape && sample.shape.length !== 4) throw new UserError(`${path}: U-Net input '${sample.name}' has rank ${sample.shape.length}; expected [B, C, H, W]`, path);
  if (timestep.shape && timestep.shape.length > 1) throw new UserError(`${path}: U-Net input '${timestep.name}' must be a scalar or 1-D, its shape is [${timestep.shape}]`, path);
  const encoderHiddenStates = byName('encoder_hidden_states');
  const textEmbeds = byName('text_embeds');
  const timeIds = byName('time_ids');
  const known = new Set([sample.name, timestep.name, encoderHiddenStates?.name, textEmbeds?.name, timeIds?.name]);
  const outputs = outputInfo(session);
  const output = outputs.find((o) => o.name === 'out_sample')?.name ?? outputs[0]?.name;
  if (!output) throw new UserError(`${path}: the U-Net has no outputs`, path);
  const b = sample.shape?.[0];
  return {
    sample,
    timestep,
    encoderHiddenStates,
    textEmbeds,
    timeIds,
    output,
    others: inputs.filter((i) => !known.has(i.name)).map((i) => i.name),
    staticBatch: typeof b === 'number' ? b : undefined,
  };
}

export class PipelineRunner {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  private tokenizerCache: Tokenizer | undefined;
  private unetIoCache = new WeakMap<ort.InferenceSession, UnetIo>();
  private metricSpecCache: MetricSpec | undefined;

  private constructor(readonly layout: PipelineLayout, private readonly opts: RunnerOptions) {}

  /** Reads the pipeline folder (no session is created until a component is used). */
  static open(folder: string, opts: RunnerOptions = {}): PipelineRunner {
    return new PipelineRunner(readPipelineLayout(folder), opts);
  }

  get executionProviders(): string[] {
    return this.opts.executionProviders ?? ['cpu'];
  }

  /** Creates a session for any model file (or that model held in memory) with this runner's providers and options. */
  async createSession(path: string, inMemory?: InMemoryModel): Promise<ort.InferenceSession> {
    const so: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      // onnxruntime's own warnings (e.g. "only guarantees support for opset 7 or above") go straight to
      // stderr from native code, around the one clear line a refused model must give: errors only
      logSeverityLevel: 3,
      ...this.opts.sessionOptions,
      executionProviders: this.executionProviders,
    };
    try {
      return await (inMemory ? ort.InferenceSession.create(inMemory.bytes, inMemoryOptions(so, inMemory.externalDataFolder)) : ort.InferenceSession.create(path, so));
    } catch (e) {
      const eps = this.executionProviders;
      const hint = eps.some((p) => p !== 'cpu') ? ' (is that execution provider available on this machine? --ep cpu always is)' : '';
      throw new UserError(`${path}: onnxruntime could not create a session with execution providers [${eps.join(', ')}]: ${(e as Error).message.trim()}${hint}`, path);
    }
  }

  private session(key: string, path: string, inMemory?: InMemoryModel): Promise<ort.InferenceSession> {
    let s = this.sessions.get(key);
    if (!s) {
      s = this.createSession(path, inMemory);
      this.sessions.set(key, s);
      // a failed load must not poison the cache for a later retry
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  get unetPath(): string {
    return this.opts.unetPath ?? this.layout.unetPath;
  }

  unet(): Promise<ort.InferenceSession> {
    return this.session('unet', this.unetPath, this.opts.unetModel);
  }

  vaeDecoder(): Promise<ort.InferenceSession> {
    return this.session('vae_decoder', this.layout.vaeDecoderPath);
  }

  vaeEncoder(): Promise<ort.InferenceSession> {
    const p = this.layout.vaeEncoderPath;
    if (!p) return Promise.reject(new UserError(`${this.layout.folder}: vae_encoder/model.onnx is missing (needed to encode images into latents)`, this.layout.folder));
    return this.session('vae_encoder', p);
  }

  textEncoder(): Promise<ort.InferenceSession> {
    const p = this.layout.textEncoderPath;
    if (!p) return Promise.reject(new UserError(`${this.layout.folder}: text_encoder/model.onnx is missing (needed to encode prompts)`, this.layout.folder));
    return this.session('text_encoder', p);
  }

  /** SDXL's second text encoder (text_encoder_2/model.onnx). */
  textEncoder2(): Promise<ort.InferenceSession> {
    const parts = sdxlParts(this.layout);
    if (!parts) return Promise.reject(new UserError(`${this.layout.folder}: text_encoder_2/model.onnx is missing (an SDXL pipeline needs it)`, this.layout.folder));
    return this.session('text_encoder_2', parts.textEncoder2Path);
  }

  tokenizer(): Tokenizer {
    if (!this.tokenizerCache) {
      const f = this.layout.tokenizerFolder;
      if (!f) throw new UserError(`${this.layout.folder}: no tokenizer/ with tokenizer.json (Hugging Face fast layout), vocab.json + merges.txt (CLIP) or a word-level tokenizer_config.json (needed to encode prompts)`, this.layout.folder);
      this.tokenizerCache = loadTokenizer(f);
    }
    return this.tokenizerCache;
  }

  unetIo(session: ort.InferenceSession, where = this.unetPath): UnetIo {
    let io = this.unetIoCache.get(session);
    if (!io) {
      io = describeUnet(session, where);
      this.unetIoCache.set(session, io);
    }
    return io;
  }

  /** Whether the pipeline's U-Net takes encoder_hidden_states. */
  async isConditional(): Promise<boolean> {
    return this.unetIo(await this.unet()).encoderHiddenStates !== undefined;
  }

  /**
   * [C, H, W] of the latents: the U-Net's static input dims; else height/width (pixels, divided
   * by the VAE's scale factor); else model_index.json's ld_surgeon.latent_shape; else unet/config.json's
   * sample_size; else the VAE decoder's static input dims.
   */
  async latentShape(size: { height?: number; width?: number } = {}, unet?: ort.InferenceSession): Promise<number[]> {
    const io = this.unetIo(unet ?? (await this.unet()), unet ? 'the substituted U-Net' : this.unetPath);
    const dims = io.sample.shape ?? [null, null, null, null];
    const cfg = this.layout.unetConfig;
    const hint = this.layout.ldSurgeon.latentShape;
    const scale = vaeScaleFactor(this.layout);
    const sampleSize = cfg.sample_size;
    const fromConfig = typeof sampleSize === 'number' ? [sampleSize, sampleSize] : Array.isArray(sampleSize) ? sampleSize : undefined;
    let decoderDims: (number | null)[] | undefined;
    const need = dims.slice(1).some((d) => d === null);
    if (need && !(size.height && size.width) && !hint && !fromConfig) {
      decoderDims = inputInfo(await this.vaeDecoder())[0]?.shape;
    }
    const pick = (i: number, fromSize: number | undefined): number | undefined =>
      dims[i + 1] ?? fromSize ?? hint?.[i] ?? (i === 0 ? (cfg.in_channels as number | undefined) : fromConfig?.[i - 1]) ?? decoderDims?.[i + 1] ?? undefined;
    const px = (v: number | undefined, what: string) => {
      if (v === undefined) return undefined;
      if (!Number.isInteger(v) || v <= 0 || v % scale !== 0) throw new UserError(`${what} must be a positive multiple of ${scale} (the VAE's down-sampling factor), got ${v}`);
      return v / scale;
    };
    const shape = [pick(0, undefined), pick(1, px(size.height, 'height')), pick(2, px(size.width, 'width'))];
    for (const [i, d] of [size.height, size.width].entries()) {
      const fixed = dims[i + 2];
      if (d !== undefined && fixed !== null && fixed !== undefined && fixed * scale !== d) {
        throw new UserError(`${this.unetPath}: the U-Net's latent ${i ? 'width' : 'height'} is fixed at ${fixed} (${fixed * scale} px); ${d} px was asked for`);
      }
    }
    if (shape.some((d) => d === undefined || !(d > 0))) {
      throw new UserError(`${this.layout.folder}: cannot tell the latent size (the U-Net's input is dynamic and neither unet/config.json sample_size nor model_index.json ld_surgeon.latent_shape is set); pass --height and --width`);
    }
    return shape as number[];
  }

  /** Token rows → encoder hidden states [rows, L, D] through the text encoder. */
  async encodeIds(ids: number[][]): Promise<{ embeddings: Float32Array; seqLen: number; dim: number }> {
    const session = await this.textEncoder();
    const path = this.layout.textEncoderPath!;
    const inputs = inputInfo(session);
    const input = inputs.find((i) => i.name === 'input_ids') ?? inputs[0];
    const outputs = outputInfo(session);
    const output = outputs.find((o) => o.name === 'last_hidden_state')?.name ?? outputs[0].name;
    const len = ids[0]?.length ?? 0;
    if (ids.some((r) => r.length !== len)) throw new UserError('condition id rows must all have the same length');
    const fixedLen = input.shape?.[1];
    if (typeof fixedLen === 'number' && fixedLen !== len) throw new UserError(`${path}: the text encoder takes ${fixedLen} token ids per row, got ${len}`, path);
    const fixedBatch = input.shape?.[0];
    const chunk = typeof fixedBatch === 'number' ? fixedBatch : ids.length;
    const parts: Float32Array[] = [];
    let seqLen = 0;
    let dim = 0;
    for (let s = 0; s < ids.length; s += chunk) {
      const rows = ids.slice(s, s + chunk);
      while (rows.length < chunk) rows.push(rows[rows.length - 1]); // pad a fixed-batch export
      const feeds = { [input.name]: idsTensor(input.type, rows.flat(), [chunk, len], `${path} input '${input.name}'`) };
      const out = (await session.run(feeds, [output]))[output] as ort.Tensor;
      if (out.dims.length !== 3) throw new UserError(`${path}: output '${output}' has shape [${out.dims}]; expected [B, L, D]`, path);
      seqLen = out.dims[1];
      dim = out.dims[2];
      const data = readFloat(out, `${path} output '${output}'`);
      parts.push(data.subarray(0, Math.min(chunk, ids.length - s) * seqLen * dim));
    }
    const embeddings = new Float32Array(ids.length * seqLen * dim);
    let off = 0;
    for (const p of parts) {
      embeddings.set(p, off);
      off += p.length;
    }
    return { embeddings, seqLen, dim };
  }

  /** The empty prompt's embedding [L, D], the unconditional input of classifier-free guidance. */
  async encodeUncond(): Promise<Float32Array> {
    return (await this.encodeIds([this.tokenizer().encode('')])).embeddings;
  }

  /** Prompts → conditioning (with the unconditional row). */
  async encodePrompts(prompts: string[]): Promise<Conditioning> {
    if (sdxlParts(this.layout)) {
      return encodeSdxlPrompts(this.layout, { textEncoder: () => this.textEncoder(), textEncoder2: () => this.textEncoder2(), tokenizer: () => this.tokenizer() }, prompts, true);
    }
    const tok = this.tokenizer();
    const rows = [...prompts.map((p) => tok.encode(p)), tok.encode('')];
    const { embeddings, seqLen, dim } = await this.encodeIds(rows);
    const k = prompts.length;
    return { embeddings: embeddings.subarray(0, k * seqLen * dim), count: k, seqLen, dim, uncond: embeddings.slice(k * seqLen * dim) };
  }

  /**
   * Runs the sampling loop and returns the final latents (what LD-Pruner scores). Samples are
   * processed in batches; each batch's latents live in one Float32Array updated in place.
   */
  async generate(o: GenerateOptions): Promise<Generated> {
    const unet = o.unet ?? (await this.unet());
    const io = this.unetIo(unet, o.unet ? 'the substituted U-Net' : this.unetPath);
    const where = o.unet ? 'the substituted U-Net' : this.unetPath;
    const shape = o.latentShape ?? (await this.latentShape({}, o.unet));
    const per = shape[0] * shape[1] * shape[2];
    const n = o.n;
    if (!Number.isInteger(n) || n < 1) throw new UserError(`the number of samples must be a positive integer, got ${n}`);
    const batchSize = o.batchSize ?? 8;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`batch size must be a positive integer, got ${batchSize}`);
    const guidance = o.guidance ?? 1;
    if (!Number.isFinite(guidance)) throw new UserError(`guidance must be a number, got ${o.guidance}`);
    const seed = o.seed ?? 0;
    const missing = io.others.filter((name) => !(o.extraUnetFeeds && name in o.extraUnetFeeds));
    if (missing.length) throw new UserError(`${where}: U-Net inputs ${missing.map((m) => `'${m}'`).join(', ')} are not pipeline inputs; supply them as extra U-Net feeds`);
    if (o.noise && o.noise.length !== n * per) throw new UserError(`the initial noise has ${o.noise.length} values; ${n} samples of [${shape}] need ${n * per}`);

    const cond = o.conditioning;
    const ehs = io.encoderHiddenStates;
    if (ehs && !cond) throw new UserError(`${where}: the U-Net is conditional (it takes encoder_hidden_states); give prompts, condition ids or embeddings`);
    if (!ehs && cond) throw new UserError(`${where}: the U-Net is unconditional (no encoder_hidden_states input); conditions cannot be used`);
    const guided = !!ehs && guidance !== 1;
    if (guided && !cond!.uncond) throw new UserError('classifier-free guidance (guidance ≠ 1) needs the unconditional (empty prompt) embedding: the pipeline needs a tokenizer and text encoder');
    const takesAdded = io.textEmbeds ?? io.timeIds;
    if (takesAdded && ehs && !cond?.added) {
      throw new UserError(
        sdxlParts(this.layout) || o.unet
          ? `${where}: the U-Net takes '${takesAdded.name}' (SDXL's added conditions), which only prompts encoded through both text encoders give; token ids and embeddings .npy files carry no pooled text embedding`
          : `${where}: the U-Net takes '${takesAdded.name}' (SDXL's added conditions), but ${this.layout.folder} has no text_encoder_2/ + tokenizer_2/ to make them`,
      );
    }
    if (ehs && cond) {
      const [, L, D] = ehs.shape ?? [];
      if ((typeof L === 'number' && L !== cond.seqLen) || (typeof D === 'number' && D !== cond.dim)) {
        throw new UserError(`${where}: encoder_hidden_states must be [B, ${L ?? 'L'}, ${D ?? 'D'}], the conditions are [${cond.count}, ${cond.seqLen}, ${cond.dim}]`);
      }
    }

    const latents = new Float32Array(n * per);
    const seeds = Array.from({ length: n }, (_, i) => sampleSeed(seed, i));
    const batches = Math.ceil(n / batchSize);
    const T = o.scheduler.timesteps.length;
    for (let bi = 0; bi < batches; bi++) {
      checkAbort(o.signal);
      const start = bi * batchSize;
      const b = Math.min(batchSize, n - start);
      const x = latents.subarray(start * per, (start + b) * per);
      const streams = seeds.slice(start, start + b).map((s) => new GaussianStream(s));
      if (o.noise) x.set(o.noise.subarray(start * per, (start + b) * per));
      else streams.forEach((g, j) => g.fill(x, j * per, per));
      if (o.scheduler.initNoiseSigma !== 1) for (let i = 0; i < x.length; i++) x[i] *= o.scheduler.initNoiseSigma;

      const rows = guided ? 2 * b : b;
      // a copy when guided (two halves) or when the scheduler scales the input (Euler's 1/√(σ²+1))
      const scales = o.scheduler.timesteps.some((t) => o.scheduler.inputScale(t) !== 1);
      const unetIn = guided || scales ? new Float32Array(rows * per) : x;
      let ehsBuf: Float32Array | undefined;
      if (ehs && cond) {
        const rowLen = cond.seqLen * cond.dim;
        ehsBuf = new Float32Array(rows * rowLen);
        // diffusers' order: the unconditional half first, then the conditional one
        const off = guided ? b * rowLen : 0;
        for (let j = 0; j < b; j++) {
          const k = (start + j) % cond.count;
          ehsBuf.set(cond.embeddings.subarray(k * rowLen, (k + 1) * rowLen), off + j * rowLen);
          if (guided) ehsBuf.set(cond.uncond!, j * rowLen);
        }
      }
      const added = io.textEmbeds || io.timeIds ? this.addedUnetFeeds(io, cond!, shape, start, b, guided) : undefined;
      const eps = guided ? new Float32Array(b * per) : undefined;
      const stepNoise = new Float32Array(b * per);
      for (let si = 0; si < T; si++) {
        checkAbort(o.signal);
        const t = o.scheduler.timesteps[si];
        const scale = o.scheduler.inputScale(t);
        if (scale !== 1) {
          for (let i = 0; i < x.length; i++) unetIn[i] = x[i] * scale;
          if (guided) unetIn.copyWithin(b * per, 0, b * per);
        } else if (guided) {
          unetIn.set(x, 0);
          unetIn.set(x, b * per);
        }
        const out = await this.callUnet(unet, io, unetIn, rows, shape, t, ehsBuf, cond && [cond.seqLen, cond.dim], o.extraUnetFeeds, where, added);
        let modelOut = out;
        if (guided) {
          const half = b * per;
          for (let i = 0; i < half; i++) eps![i] = out[i] + guidance * (out[half + i] - out[i]);
          modelOut = eps!;
        }
        const needs = o.scheduler.needsNoise(t);
        if (needs) {
          for (let j = 0; j < b; j++) {
            if (o.stepNoise) o.stepNoise(si, start + j, stepNoise.subarray(j * per, (j + 1) * per));
            else streams[j].fill(stepNoise, j * per, per);
          }
        }
        o.scheduler.step(modelOut, t, x, { noise: needs ? stepNoise : undefined, out: x, batch: b });
        o.onProgress?.({ phase: 'denoise', step: si + 1, steps: T, batch: bi + 1, batches });
      }
    }
    return { latents, shape: [n, ...shape], seeds };
  }

  /**
   * Decodes latents [n, C, H, W] with the VAE decoder (after dividing by scaling_factor and
   * adding shift_factor, as diffusers does) into samples [n, C', H', W'] in the decoder's range.
   */
  async decode(
    latents: Float32Array,
    shape: number[],
    o: { batchSize?: number; signal?: AbortSignal; onProgress?: (p: Progress) => void } = {},
  ): Promise<{ samples: Float32Array; shape: number[] }> {
    const session = await this.vaeDecoder();
    const path = this.layout.vaeDecoderPath;
    const inputs = inputInfo(session);
    const input = inputs.find((i) => i.name === 'latent_sample') ?? inputs[0];
    const outputs = outputInfo(session);
    const output = outputs.find((i) => i.name === 'sample')?.name ?? outputs[0].name;
    const [n, ...lat] = shape;
    const per = lat[0] * lat[1] * lat[2];
    const fixed = input.shape?.[0];
    const batch = typeof fixed === 'number' ? fixed : Math.max(1, o.batchSize ?? 8);
    const { scalingFactor: sf, shiftFactor: shift } = this.layout;
    const buf = new Float32Array(batch * per);
    let samples: Float32Array | undefined;
    let outShape: number[] = [];
    const batches = Math.ceil(n / batch);
    for (let bi = 0; bi < batches; bi++) {
      checkAbort(o.signal);
      const s = bi * batch;
      const c = Math.min(batch, n - s);
      for (let j = 0; j < batch; j++) {
        const src = (s + Math.min(j, c - 1)) * per;
        for (let i = 0; i < per; i++) buf[j * per + i] = latents[src + i] / sf + shift;
      }
      const rows = typeof fixed === 'number' ? batch : c;
      const x = rows === batch ? buf : buf.subarray(0, rows * per);
      const out = (await session.run({ [input.name]: floatTensor(input.type, x, [rows, ...lat], `${path} input '${input.name}'`) }, [output]))[output] as ort.Tensor;
      const data = readFloat(out, `${path} output '${output}'`);
      const outPer = data.length / rows;
      if (!samples) {
        samples = new Float32Array(n * outPer);
        outShape = [n, ...out.dims.slice(1)];
      }
      samples.set(data.subarray(0, c * outPer), s * outPer);
      o.onProgress?.({ phase: 'decode', step: 0, steps: 0, batch: bi + 1, batches });
    }
    return { samples: samples!, shape: outShape };
  }

  /** Encodes samples [n, C, H, W] into latents with the VAE encoder, times scaling_factor. */
  async encodeSamples(samples: Float32Array, shape: number[]): Promise<{ latents: Float32Array; shape: number[] }> {
    const session = await this.vaeEncoder();
    const path = this.layout.vaeEncoderPath!;
    const inputs = inputInfo(session);
    const input = inputs.find((i) => i.name === 'sample') ?? inputs[0];
    const outputs = outputInfo(session);
    const output = outputs.find((i) => i.name === 'latent_sample')?.name ?? outputs[0].name;
    const out = (await session.run({ [input.name]: floatTensor(input.type, samples, shape, `${path} input '${input.name}'`) }, [output]))[output] as ort.Tensor;
    const data = readFloat(out, `${path} output '${output}'`);
    const { scalingFactor: sf, shiftFactor: shift } = this.layout;
    return { latents: Float32Array.from(data, (v) => (v - shift) * sf), shape: [...out.dims] };
  }

  /** The pipeline's metric (metrics/metric.json), or undefined when it ships none. */
  metricSpec(): MetricSpec | undefined {
    if (!this.layout.metricFile) return undefined;
    this.metricSpecCache ??= readMetricSpec(this.layout.metricFile);
    return this.metricSpecCache;
  }

  /**
   * Scores decoded samples [n, ...] with the pipeline's metric; labels[i] is sample i's class
   * (null when unknown). Undefined when the pipeline has no metric.
   */
  async evaluate(samples: Float32Array, shape: number[], labels?: (number | null)[]): Promise<MetricResult | undefined> {
    const spec = this.metricSpec();
    if (!spec) return undefined;
    const session = await this.session('metric_classifier', spec.classifierPath);
    return scoreOutputs(spec, await classify(spec, session, samples, shape), shape[0], labels);
  }

  /**
   * The `text_embeds` [rows, P] and `time_ids` [rows, 6] of one batch, rows ordered like encoder_hidden_states
   * (unconditional half first under guidance); time_ids are the same for both halves, as diffusers repeats them.
   */
  addedUnetFeeds(io: UnetIo, cond: Conditioning, shape: number[], start: number, b: number, guided: boolean): Record<string, ort.Tensor> {
    const rows = guided ? 2 * b : b;
    const feeds: Record<string, ort.Tensor> = {};
    const a = cond.added!;
    if (io.textEmbeds) {
      const P = a.pooledDim;
      const fixedP = io.textEmbeds.shape?.[1];
      if (typeof fixedP === 'number' && fixedP !== P) throw new UserError(`${this.unetPath}: text_embeds must be [B, ${fixedP}], the pooled text embeddings are [${cond.count}, ${P}]`);
      if (guided && !a.uncondTextEmbeds) throw new UserError('classifier-free guidance needs the negative pooled text embedding (encode the prompts with guidance)');
      const buf = new Float32Array(rows * P);
      const off = guided ? b * P : 0;
      for (let j = 0; j < b; j++) {
        const k = (start + j) % cond.count;
        buf.set(a.textEmbeds.subarray(k * P, (k + 1) * P), off + j * P);
        if (guided) buf.set(a.uncondTextEmbeds!, j * P);
      }
      feeds[io.textEmbeds.name] = floatTensor(io.textEmbeds.type, buf, [rows, P], `${this.unetPath} input '${io.textEmbeds.name}'`);
    }
    if (io.timeIds) {
      const ids = addTimeIds(this.layout, shape);
      const buf = new Float32Array(rows * ids.length);
      for (let r = 0; r < rows; r++) buf.set(ids, r * ids.length);
      feeds[io.timeIds.name] = floatTensor(io.timeIds.type, buf, [rows, ids.length], `${this.unetPath} input '${io.timeIds.name}'`);
    }
    return feeds;
  }

  /** Releases every session this runner created. */
  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) {
      try {
        await (await s).release();
      } catch {
        // a session that failed to load has nothing to release
      }
    }
  }

  /** One U-Net evaluation over `rows` latent rows, split to the export's fixed batch if it has one. */
  private async callUnet(
    unet: ort.InferenceSession,
    io: UnetIo,
    input: Float32Array,
    rows: number,
    shape: number[],
    t: number,
    ehsBuf: Float32Array | undefined,
    ehsDims: [number, number] | undefined,
    extra: Record<string, ort.Tensor> | undefined,
    where: string,
    /** per-row feeds (SDXL's text_embeds, time_ids): split with the rows when the export's batch is fixed */
    perRow?: Record<string, ort.Tensor>,
  ): Promise<Float32Array> {
    const per = shape[0] * shape[1] * shape[2];
    const chunk = io.staticBatch ?? rows;
    const ehsRow = ehsBuf ? ehsBuf.length / rows : 0;
    const run = async (x: Float32Array, count: number, e?: Float32Array, rowFeeds?: Record<string, ort.Tensor>): Promise<Float32Array> => {
      const tsShape = io.timestep.shape;
      const tsDims = !tsShape || tsShape.length === 0 ? [] : tsShape[0] === 1 ? [1] : [count];
      const feeds: Record<string, ort.Tensor> = {
        ...extra,
        [io.sample.name]: floatTensor(io.sample.type, x, [count, ...shape], `${where} input '${io.sample.name}'`),
        [io.timestep.name]: filledTensor(io.timestep.type, t, tsDims, `${where} input '${io.timestep.name}'`),
        ...rowFeeds,
      };
      if (io.encoderHiddenStates && e) {
        const ehsName = io.encoderHiddenStates.name;
        feeds[ehsName] = floatTensor(io.encoderHiddenStates.type, e, [count, ehsDims![0], ehsDims![1]], `${where} input '${ehsName}'`);
      }
      const out = (await unet.run(feeds, [io.output]))[io.output] as ort.Tensor;
      const data = readFloat(out, `${where} output '${io.output}'`);
      if (data.length !== count * per) {
        throw new UserError(`${where}: output '${io.output}' has shape [${out.dims}]; expected [${count}, ${shape}] like the sample`);
      }
      return data;
    };
    if (chunk === rows) return run(input, rows, ehsBuf, perRow);
    const result = new Float32Array(rows * per);
    const xs = new Float32Array(chunk * per);
    const es = ehsBuf ? new Float32Array(chunk * ehsRow) : undefined;
    for (let s = 0; s < rows; s += chunk) {
      const c = Math.min(chunk, rows - s);
      for (let j = 0; j < chunk; j++) {
        const src = s + Math.min(j, c - 1); // repeat the last row to fill a fixed batch
        xs.set(input.subarray(src * per, (src + 1) * per), j * per);
        if (es) es.set(ehsBuf!.subarray(src * ehsRow, (src + 1) * ehsRow), j * ehsRow);
      }
      const rowFeeds: Record<string, ort.Tensor> = {};
      for (const [name, tensor] of Object.entries(perRow ?? {})) {
        // float32 or float16 (Uint16Array) data: copied row by row whatever the element type
        const all = tensor.data as Float32Array | Uint16Array;
        const w = all.length / rows;
        const part = all instanceof Uint16Array ? new Uint16Array(chunk * w) : new Float32Array(chunk * w);
        for (let j = 0; j < chunk; j++) {
          const src = s + Math.min(j, c - 1);
          part.set(all.subarray(src * w, (src + 1) * w), j * w);
        }
        rowFeeds[name] = new ort.Tensor(tensor.type as 'float32', part as Float32Array, [chunk, w]);
      }
      const out = await run(xs, chunk, es, rowFeeds);
      result.set(out.subarray(0, c * per), s * per);
    }
    return result;
  }
}
