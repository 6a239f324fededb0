// Shared by the prune tests: onnxruntime runs of model files, test copies of an original model that
// expose an intermediate value as an extra output or start at one (the "tail" after a cut), and an
// independent look at a file's initializers (onnx-proto's decoder, not our reader).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { GraphView } from '../src/core/graph';
import { readModel, readTensorProtoFile } from '../src/core/onnx/reader';
import { readTensorValues } from '../src/core/onnx/tensor-data';
import { writeModel } from '../src/core/onnx/writer';
import { ElemType, type Model } from '../src/core/onnx/types';
import { GaussianStream } from '../src/core/pipeline/noise';

export type Feeds = Record<string, ort.Tensor>;

/** Runs a model file on the feeds it takes; outputs as float32 tensors (copied out of the session). */
export async function run(path: string, feeds: Feeds, outputs?: string[]): Promise<Record<string, ort.Tensor & { data: Float32Array }>> {
  const s = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all', executionProviders: ['cpu'] });
  try {
    const names = outputs ?? [...s.outputNames];
    const own = Object.fromEntries(Object.entries(feeds).filter(([k]) => s.inputNames.includes(k)));
    const out = await s.run(own, names);
    return Object.fromEntries(names.map((n) => {
      const t = out[n] as ort.Tensor;
      return [n, new ort.Tensor('float32', Float32Array.from(t.data as Float32Array), t.dims) as ort.Tensor & { data: Float32Array }];
    }));
  } finally {
    await s.release();
  }
}

export function randn(dims: number[], seed: number): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return new ort.Tensor('float32', new GaussianStream(seed).fill(new Float32Array(n)), dims);
}

/** Feeds for the example U-Nets: sample, timestep (float32 [B]) and, when conditional, encoder_hidden_states. */
export function unetFeeds(batch: number, conditional: boolean): Feeds {
  const f: Feeds = {
    sample: randn([batch, 4, 8, 8], 11),
    timestep: new ort.Tensor('float32', Float32Array.from({ length: batch }, (_, i) => 300 + 200 * i), [batch]),
  };
  if (conditional) f.encoder_hidden_states = randn([batch, 8, 64], 12);
  return f;
}

/** Largest |a − b|; NaN in both at the same place counts as equal, NaN in one only as Infinity. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [Number.isNaN(a[i]), Number.isNaN(b[i])];
    if (x || y) {
      if (x !== y) return Infinity;
      continue;
    }
    m = Math.max(m, Math.abs(a[i] - b[i]));
  }
  return m;
}

export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A copy of `src` that also outputs the intermediate values `names`. */
export async function withOutputs(src: string, out: string, names: string[]): Promise<string> {
  const m = await readModel(src);
  for (const name of names) m.graph.outputs.push({ name, type: { kind: 'tensor', elemType: ElemType.FLOAT } });
  await writeModel(m, out, { durable: false });
  return out;
}

/**
 * The original model cut at `value`: its producer is removed and `value` becomes a graph input, so
 * feeding it any tensor computes what the rest of the original model makes of it.
 */
export async function tailFrom(src: string, out: string, value: string): Promise<string> {
  const m: Model = await readModel(src);
  const g = m.graph;
  const producer = g.nodes.findIndex((n) => n.outputs.includes(value));
  if (producer < 0) throw new Error(`no node produces ${value}`);
  const node = g.nodes[producer];
  // the producer's other outputs (rare) stay computable by a copy that no longer writes `value`
  if (node.outputs.length > 1) g.nodes[producer] = { ...node, outputs: node.outputs.map((o) => (o === value ? '' : o)) };
  else g.nodes.splice(producer, 1);
  g.inputs.push({ name: value, type: { kind: 'tensor', elemType: ElemType.FLOAT } });
  new GraphView(g).cleanup();
  await writeModel(m, out, { durable: false });
  return out;
}

/** name → raw bytes of every initializer, decoded by onnx-proto (independent of our reader). */
export function initializerBytes(path: string): Map<string, Buffer> {
  const proto = onnx.ModelProto.decode(readFileSync(path));
  const out = new Map<string, Buffer>();
  for (const t of proto.graph!.initializer!) {
    let bytes: Buffer;
    if (t.rawData && t.rawData.length) bytes = Buffer.from(t.rawData);
    else if (t.floatData && t.floatData.length) bytes = Buffer.from(Float32Array.from(t.floatData).buffer);
    else if (t.int64Data && t.int64Data.length) bytes = Buffer.from(BigInt64Array.from(t.int64Data.map((v) => BigInt(v.toString()))).buffer);
    else if (t.int32Data && t.int32Data.length) bytes = Buffer.from(Int32Array.from(t.int32Data).buffer);
    else bytes = Buffer.alloc(0);
    out.set(t.name!, Buffer.concat([Buffer.from(`${t.dataType}:${(t.dims ?? []).join(',')}:`), bytes]));
  }
  return out;
}

/** Every file and folder under `dir` (relative names), to assert nothing was left behind. */
export function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** The inputs of a corpus test: test_data_set_0/input_*.pb, by the model's input order. */
export async function corpusFeeds(dir: string, model: Model): Promise<Feeds> {
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((v) => !inits.has(v.name));
  const feeds: Feeds = {};
  for (const [i, v] of inputs.entries()) {
    const t = await readTensorProtoFile(join(dir, 'test_data_set_0', `input_${i}.pb`));
    const values = await readTensorValues(t);
    if (t.elemType !== ElemType.FLOAT) throw new Error(`${dir}: input ${v.name} is not float`);
    feeds[v.name] = new ort.Tensor('float32', values as Float32Array, t.dims);
  }
  return feeds;
}
