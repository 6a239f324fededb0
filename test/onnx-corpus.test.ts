// Proves the reader and writer on models nobody here wrote: ONNX's own backend test corpus.
// Every model is read, written, read back and compared (IR and tensor bytes); an independent decoder
// (onnx-proto) must also see the same message in both files; and every written model onnxruntime can
// run is run on the stored inputs and checked against the stored outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { onnx } from 'onnx-proto';
import { readModel, readTensorProtoFile } from '../src/core/onnx/reader';
import { writeModel } from '../src/core/onnx/writer';
import { forEachTensor } from '../src/core/onnx/walk';
import { decodeTensorBytes, float16ToFloat32, readTensorBytes } from '../src/core/onnx/tensor-data';
import type { Model, TensorData } from '../src/core/onnx/types';
import { ElemType, elemTypeName } from '../src/core/onnx/types';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
type OrtTensor = import('onnxruntime-node').Tensor;
type Session = import('onnxruntime-node').InferenceSession;

const CORPUS = join(__dirname, '..', '..', 'shared', 'corpus', 'onnx-backend');
const SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'];
const RTOL = 1e-3;
const ATOL = 1e-7;

/** Ops whose outputs are random draws: the stored outputs cannot be reproduced by any runtime. */
const RANDOM_OPS = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout']);

const ORT_TYPES: Partial<Record<number, OrtTensor['type']>> = {
  [ElemType.FLOAT]: 'float32', [ElemType.UINT8]: 'uint8', [ElemType.INT8]: 'int8', [ElemType.UINT16]: 'uint16',
  [ElemType.INT16]: 'int16', [ElemType.INT32]: 'int32', [ElemType.INT64]: 'int64', [ElemType.STRING]: 'string',
  [ElemType.BOOL]: 'bool', [ElemType.FLOAT16]: 'float16', [ElemType.DOUBLE]: 'float64', [ElemType.UINT32]: 'uint32',
  [ElemType.UINT64]: 'uint64',
};

class Skip extends Error {}

async function toOrt(t: TensorData): Promise<OrtTensor> {
  const type = ORT_TYPES[t.elemType];
  if (!type) throw new Skip(`${elemTypeName(t.elemType)} tensors are not supported by onnxruntime-node`);
  const bytes = await readTensorBytes(t);
  // float16 goes to onnxruntime as its bit patterns, which ONNX stores exactly like uint16
  const data = decodeTensorBytes(t.elemType === ElemType.FLOAT16 ? { ...t, elemType: ElemType.UINT16 } : t, bytes);
  return new ort.Tensor(type, data as never, t.dims);
}

function asNumbers(x: OrtTensor['data'] | ReturnType<typeof decodeTensorBytes>, f16: boolean): ArrayLike<number | bigint | string> {
  if (f16 && x instanceof Uint16Array) return Float32Array.from(x, float16ToFloat32);
  return x as ArrayLike<number | bigint | string>;
}

/** undefined when equal within ONNX's usual tolerances, else what differs */
function compare(expected: TensorData, expectedBytes: Uint8Array, actual: OrtTensor): string | undefined {
  if (expected.dims.join() !== actual.dims.join()) return `shape [${actual.dims}] != [${expected.dims}]`;
  const want = asNumbers(decodeTensorBytes(expected, expectedBytes), false);
  const got = asNumbers(actual.data, expected.elemType === ElemType.FLOAT16);
  if (want.length !== got.length) return `length ${got.length} != ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = got[i];
    if (typeof w === 'number' && typeof g === 'number') {
      if (Number.isNaN(w) && Number.isNaN(g)) continue;
      if (w === g) continue;
      if (Math.abs(g - w) <= ATOL + RTOL * Math.abs(w)) continue;
    } else if (typeof w === 'bigint' && (g === w || BigInt(g as number) === w)) continue;
    else if (w === g) continue;
    return `element ${i}: ${String(g)} != ${String(w)}`;
  }
  return undefined;
}

function sameOutputs(a: Record<string, OrtTensor>, b: Record<string, OrtTensor>): boolean {
  return Object.keys(a).every((k) => {
    const x = a[k].data as ArrayLike<unknown>;
    const y = b[k].data as ArrayLike<unknown>;
    return x.length === y.length && Array.from({ length: x.length }).every((_, i) => Object.is(x[i], y[i]));
  });
}

function opTypes(m: Model): Set<string> {
  const ops = new Set<string>();
  const graph = (g: Model['graph']) => g.nodes.forEach((n) => {
    ops.add(n.opType);
    n.attributes.forEach((a) => { if (a.g) graph(a.g); a.graphs?.forEach(graph); });
  });
  graph(m.graph);
  m.functions.forEach((f) => f.nodes.forEach((n) => ops.add(n.opType)));
  return ops;
}

/** The IR with every tensor's location replaced by its bytes: what must survive a round trip. */
async function comparable(m: Model): Promise<unknown> {
  const copy = structuredClone(m);
  const tensors: TensorData[] = [];
  forEachTensor(copy, (t) => tensors.push(t));
  for (const t of tensors) {
    const field = t.location.kind === 'external' ? 'raw' : t.location.field;
    (t as unknown as { location: unknown }).location = { field, bytes: await readTensorBytes(t) };
  }
  copy.path = '';
  return copy;
}

function protoView(path: string): unknown {
  return onnx.ModelProto.toObject(onnx.ModelProto.decode(readFileSync(path)), { defaults: true, longs: String, bytes: String });
}

function ortReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const kernel = /Could not find an implementation for (\w+)\(|Failed to find kernel for (\w+)\(/.exec(msg);
  if (kernel) return `onnxruntime has no CPU kernel for this version/type of ${kernel[1] ?? kernel[2]}`;
  if (/Unsupported data type/.test(msg)) return 'onnxruntime-node does not support an element type used';
  if (/is not a registered function\/op|Unrecognized attribute|opset|Opset/.test(msg)) return 'op or opset newer than onnxruntime 1.30';
  if (/model_load_utils/.test(msg)) return 'op or opset newer than onnxruntime 1.30';
  if (/locale/.test(msg)) return 'StringNormalizer needs a system locale this machine lacks';
  return `onnxruntime error: ${msg.replace(/\/\S+/g, '').replace(/\s+/g, ' ').slice(0, 90)}`;
}

async function createSession(path: string): Promise<Session> {
  // One thread: these models are tiny, and a spinning thread pool per session only slows a busy CI box.
  return ort.InferenceSession.create(path, {
    logSeverityLevel: 4, graphOptimizationLevel: 'basic', intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
  });
}

interface DataSet { inputs: TensorData[]; outputs: TensorData[] }

async function dataSets(dir: string): Promise<DataSet[]> {
  const sets: DataSet[] = [];
  for (const d of readdirSync(dir).filter((x) => x.startsWith('test_data_set_')).sort()) {
    const files = (prefix: string) => readdirSync(join(dir, d)).filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
      .sort((a, b) => parseInt(a.slice(prefix.length)) - parseInt(b.slice(prefix.length)));
    sets.push({
      inputs: await Promise.all(files('input_').map((f) => readTensorProtoFile(join(dir, d, f)))),
      outputs: await Promise.all(files('output_').map((f) => readTensorProtoFile(join(dir, d, f)))),
    });
  }
  return sets;
}

async function feedsFor(s: Session, set: DataSet): Promise<Record<string, OrtTensor>> {
  const feeds: Record<string, OrtTensor> = {};
  for (let i = 0; i < set.inputs.length; i++) {
    const t = set.inputs[i];
    const name = s.inputNames.includes(t.name) ? t.name : s.inputNames[i];
    feeds[name] = await toOrt(t);
  }
  return feeds;
}

test('every onnx-backend corpus model round-trips through readModel/writeModel and the written model runs', { timeout: 15 * 60_000 }, async () => {
  assert.ok(existsSync(CORPUS), `the ONNX backend corpus is missing at ${CORPUS}`);
  ort.env.logLevel = 'fatal';
  const tmp = mkdtempSync(join(tmpdir(), 'ld-surgeon-corpus-'));
  const counts = { read: 0, roundTripped: 0, ranAndMatched: 0 };
  const skipped = new Map<string, string[]>();
  const failures: string[] = [];
  const skip = (reason: string, name: string) => skipped.set(reason, [...(skipped.get(reason) ?? []), name]);
  const started = Date.now();
  try {
    for (const suite of SUITES) {
      for (const name of readdirSync(join(CORPUS, suite)).sort()) {
        const dir = join(CORPUS, suite, name);
        const src = join(dir, 'model.onnx');
        if (!existsSync(src)) continue;
        const id = `${suite}/${name}`;
        if (process.env.CORPUS_TRACE) console.error(id); // names the model when onnxruntime aborts the process
        const out = join(tmp, `${suite}-${name}.onnx`);
        let model: Model;
        try {
          model = await readModel(src);
          counts.read++;
          // (no fsync: on a busy CI disk 1,942 fsyncs dominate the run; onnx-reader.test.ts covers durable writes)
          await writeModel(model, out, { durable: false });
          const back = await readModel(out);
          assert.deepStrictEqual(await comparable(back), await comparable(model));
          assert.deepStrictEqual(protoView(out), protoView(src), 'onnx-proto decodes a different message');
          counts.roundTripped++;
        } catch (e) {
          failures.push(`${id}: round trip failed: ${(e as Error).message.slice(0, 1500)}`);
          continue;
        }

        const io = [...model.graph.inputs, ...model.graph.outputs];
        if (io.some((v) => v.type && v.type.kind !== 'tensor')) { skip('sequence/optional/map inputs or outputs', id); continue; }
        // (onnxruntime-node aborts the process on some of these, e.g. an int4 output, so they are never run)
        const unsupported = io.find((v) => v.type?.kind === 'tensor' && !ORT_TYPES[v.type.elemType]);
        if (unsupported?.type?.kind === 'tensor') {
          skip(`${elemTypeName(unsupported.type.elemType)} inputs or outputs are not supported by onnxruntime-node`, id);
          continue;
        }
        let session: Session;
        try {
          session = await createSession(out);
        } catch (e) {
          // The written model must load wherever the original does.
          try { await (await createSession(src)).release(); } catch { skip(ortReason(e), id); continue; }
          failures.push(`${id}: the original loads in onnxruntime but the written model does not: ${(e as Error).message}`);
          continue;
        }
        try {
          let mismatch: string | undefined;
          let sets: DataSet[];
          try { sets = await dataSets(dir); } catch (e) { skip(`test data not readable: ${(e as Error).message.slice(0, 60)}`, id); continue; }
          let skippedHere = false;
          for (const set of sets) {
            let feeds: Record<string, OrtTensor>;
            try {
              feeds = await feedsFor(session, set);
            } catch (e) {
              if (e instanceof Skip) { skip(e.message, id); skippedHere = true; break; }
              throw e;
            }
            let got: Record<string, OrtTensor>;
            try {
              got = await session.run(feeds) as Record<string, OrtTensor>;
            } catch (e) {
              const orig = await createSession(src);
              try { await orig.run(feeds); } catch { skip(`run: ${ortReason(e)}`, id); skippedHere = true; break; } finally { await orig.release(); }
              mismatch = `the original runs but the written model fails: ${(e as Error).message}`;
              break;
            }
            for (let i = 0; i < set.outputs.length && !mismatch; i++) {
              const expected = set.outputs[i];
              const actual = got[session.outputNames[i]];
              if (!actual) { mismatch = `output ${i} missing`; break; }
              const diff = compare(expected, await readTensorBytes(expected), actual);
              if (diff) mismatch = `output '${session.outputNames[i]}' ${diff}`;
            }
            if (!mismatch) continue;
            if ([...opTypes(model)].some((op) => RANDOM_OPS.has(op))) { skip('random op: the stored outputs are one draw', id); skippedHere = true; mismatch = undefined; break; }
            // onnxruntime itself may differ from ONNX's reference implementation; then the original must
            // give exactly the same outputs as the written model, or the write changed something.
            const orig = await createSession(src);
            try {
              if (sameOutputs(await orig.run(feeds) as Record<string, OrtTensor>, got)) {
                skip('onnxruntime differs from the ONNX reference outputs (identically for the original model)', id);
                skippedHere = true;
                mismatch = undefined;
              }
            } finally { await orig.release(); }
            break;
          }
          if (mismatch) failures.push(`${id}: ${mismatch}`);
          else if (!skippedHere) counts.ranAndMatched++;
        } finally {
          await session.release();
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const summary = {
    ...counts,
    skipped: Object.fromEntries([...skipped].sort((a, b) => b[1].length - a[1].length).map(([r, l]) => [r, l.length])),
    ortDiffersFromReference: skipped.get('onnxruntime differs from the ONNX reference outputs (identically for the original model)') ?? [],
    failures: failures.length,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  console.log(JSON.stringify(summary, null, 1));
  assert.deepStrictEqual(failures, []);
  assert.equal(counts.roundTripped, counts.read);
  assert.ok(counts.read > 1900, `only ${counts.read} corpus models found`);
  assert.ok(counts.ranAndMatched > 1000, `only ${counts.ranAndMatched} models ran and matched`);
});
