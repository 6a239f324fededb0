// The gated evaluation model as onnxruntime loads it. Written to a file, it would carry a copy of every
// weight of the scored model (hundreds of MB to GB for SD-sized U-Nets, written and read back by every
// scoring job). Instead it is encoded in memory with its external-data tensors still pointing into the
// original model's data files, which onnxruntime reads in place through the session option
// `session.model_external_initializers_file_folder_path`. Only a model whose weights sit inside its .onnx
// and are large is still written to the work folder, so memory is not spent on a second copy.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors';
import { ModelEncoder, type TensorPlacement } from '../onnx/encoder';
import type { Model } from '../onnx/types';
import { forEachTensor } from '../onnx/walk';
import { inMemoryOptions, type InMemoryModel } from '../pipeline/runner';
import { writeModel } from '../onnx/writer';

export interface EvalModel {
  /** names the model in messages; a file onnxruntime loads only when `bytes` is absent */
  path: string;
  /** the encoded model, loaded from memory */
  bytes?: Uint8Array;
  /** with bytes: the folder its external-data locations are relative to (the original model's folder) */
  externalDataFolder?: string;
}

/** Weights inside the .onnx beyond this are written to a file rather than held in memory twice. */
const IN_MEMORY_PAYLOAD_LIMIT = 256 * 1024 * 1024;

/** The model held in memory, for PipelineRunner's unetModel; undefined for a file. */
export function inMemory(m: EvalModel): InMemoryModel | undefined {
  return m.bytes ? { bytes: m.bytes, externalDataFolder: m.externalDataFolder ?? '.' } : undefined;
}

/** A session for the model, from memory or from its file. */
export function createEvalSession(m: EvalModel, so: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  const mem = inMemory(m);
  return mem ? ort.InferenceSession.create(mem.bytes, inMemoryOptions(so, mem.externalDataFolder)) : ort.InferenceSession.create(m.path, so);
}

/**
 * The evaluation model `model` (built from the model at `sourcePath`), in memory when that costs
 * little, else written to `fallbackPath`.
 */
export async function evalModel(model: Model, sourcePath: string, fallbackPath: string): Promise<EvalModel> {
  let copied = 0;
  let strings = false;
  forEachTensor(model, (t) => {
    if (t.location.kind !== 'external') copied += t.byteLength;
    if (t.location.kind !== 'external' && t.location.field === 'string') strings = true;
  });
  // string tensors need decoding before encoding; the writer does that (they do not occur in U-Nets)
  if (strings || copied > IN_MEMORY_PAYLOAD_LIMIT) {
    await writeModel(model, fallbackPath, { durable: false });
    return { path: fallbackPath };
  }
  const placement = new Map<unknown, TensorPlacement>();
  forEachTensor(model, (t) => {
    const loc = t.location;
    if (loc.kind === 'external') placement.set(t, { external: { location: loc.location, offset: loc.offset, length: loc.length } });
  });
  const msg = new ModelEncoder((t) => placement.get(t)).model(model);
  const bytes = new Uint8Array(msg.size);
  // payloads still to copy sit inside the .onnx itself (external ones stay where they are): one read of
  // that file serves them all, instead of one read per tensor
  const files = new Map<string, Uint8Array>();
  let at = 0;
  for (const part of msg.finish()) {
    if (part instanceof Uint8Array) {
      bytes.set(part, at);
      at += part.length;
      continue;
    }
    const loc = part.tensor.location;
    if (loc.kind === 'inline') bytes.set(loc.bytes.subarray(0, part.length), at);
    else {
      let data = files.get(loc.file);
      if (!data) files.set(loc.file, (data = await readFile(loc.file)));
      if (loc.offset + part.length > data.length) throw new UserError(`${loc.file}: ends before the data of tensor '${part.tensor.name}'; it changed since the model was read`, loc.file);
      bytes.set(data.subarray(loc.offset, loc.offset + part.length), at);
    }
    at += part.length;
  }
  return { path: `${sourcePath} (evaluation model with gates, in memory)`, bytes, externalDataFolder: dirname(sourcePath) };
}
