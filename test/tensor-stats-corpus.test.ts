// The inspector's chunked weight statistics on every tensor of ONNX's backend-test corpus: each
// initializer and Constant tensor of every model, and each stored test input (they bring the element
// types the models' weights lack: float16, bfloat16, double, the integer types, bool, strings).
// Read a chunk at a time — split into at least three chunks, and one element per chunk for tensors
// of up to 64 elements (from a file, a chunk is a read: one per element of a larger one is only slow) — the statistics equal those of the whole tensor read at once, and those computed from
// their definition over the fully decoded values. Strings are refused, naming the file and tensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HISTOGRAM_BINS, tensorStats, type WeightStats } from '../src/core/graph/tensor-stats';
import { readModel, readTensorProtoFile } from '../src/core/onnx/reader';
import { readTensorValues } from '../src/core/onnx/tensor-data';
import { elemBits, elemTypeName, type TensorData } from '../src/core/onnx/types';
import { forEachTensor } from '../src/core/onnx/walk';

const CORPUS = resolve(__dirname, '..', '..', 'shared', 'corpus', 'onnx-backend');
const SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'];

/** The statistics from their definition, over the whole decoded tensor, in element order. */
function reference(values: ArrayLike<number | bigint>): Omit<WeightStats, 'dtype' | 'shape'> {
  const all = Array.from(values, Number);
  const finite = all.filter(Number.isFinite);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const x of finite) {
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
  }
  const lo = finite.length ? min : 0;
  const hi = finite.length ? max : 0;
  const mean = finite.length ? sum / finite.length : 0;
  let sq = 0;
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  const width = (hi - lo) / HISTOGRAM_BINS;
  for (const x of finite) {
    sq += (x - mean) * (x - mean);
    counts[width > 0 ? Math.min(HISTOGRAM_BINS - 1, Math.floor((x - lo) / width)) : 0]++;
  }
  return {
    count: all.length, min: lo, max: hi, mean, std: finite.length ? Math.sqrt(sq / finite.length) : 0,
    zeros: finite.filter((x) => x === 0).length, nonFinite: all.length - finite.length, histogram: { lo, hi, counts },
  };
}

interface Found { where: string; file: string; t: TensorData }

async function corpusTensors(): Promise<Found[]> {
  const out: Found[] = [];
  for (const suite of SUITES) {
    if (!existsSync(join(CORPUS, suite))) continue;
    for (const name of readdirSync(join(CORPUS, suite)).sort()) {
      const dir = join(CORPUS, suite, name);
      const file = join(dir, 'model.onnx');
      if (!existsSync(file)) continue;
      // initializers, Constant tensors and the tensors inside subgraphs and functions
      const m = await readModel(file);
      forEachTensor(m, (t) => out.push({ where: `${suite}/${name}`, file, t }));
      // the stored inputs and outputs that are tensors (others are sequences, maps and optionals)
      const inits = new Set(m.graph.initializers.map((t) => t.name));
      const io = { input: m.graph.inputs.filter((v) => !inits.has(v.name)), output: m.graph.outputs };
      const set = join(dir, 'test_data_set_0');
      for (const [kind, list] of Object.entries(io)) {
        for (const [i, v] of list.entries()) {
          const f = join(set, `${kind}_${i}.pb`);
          if (v.type?.kind === 'tensor' && existsSync(f)) out.push({ where: `${suite}/${name}/${kind}_${i}.pb`, file: f, t: await readTensorProtoFile(f) });
        }
      }
    }
  }
  return out;
}

test('chunked statistics of every corpus tensor equal a full decode', { skip: existsSync(CORPUS) ? false : 'no ../shared/corpus/onnx-backend', timeout: 5 * 60_000 }, async () => {
  const started = Date.now();
  const tensors = await corpusTensors();
  const byType: Record<string, number> = {};
  let multiChunk = 0;
  let oneElementChunks = 0;
  let refusedStrings = 0;
  const failures: string[] = [];
  for (const { where, file, t } of tensors) {
    const what = `${where}: ${t.name || '(unnamed)'} ${elemTypeName(t.elemType)} [${t.dims}]`;
    try {
      let values;
      try {
        values = await readTensorValues(t);
      } catch (e) {
        // a payload the decoder refuses must be refused by the statistics too, with the same words
        await assert.rejects(tensorStats(t, file), { message: (e as Error).message }, what);
        continue;
      }
      if (Array.isArray(values)) {
        await assert.rejects(tensorStats(t, file), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: tensor '.*' holds strings`), what);
        refusedStrings++;
        continue;
      }
      const whole = await tensorStats(t, file);
      const want = reference(values as ArrayLike<number | bigint>);
      const { dtype, shape, ...got } = whole;
      assert.equal(dtype, elemTypeName(t.elemType), what);
      assert.deepEqual(shape, t.dims, what);
      assert.deepStrictEqual(got, want, `${what}: the statistics of the whole tensor`);
      byType[dtype] = (byType[dtype] ?? 0) + 1;
      const bits = elemBits(t.elemType) ?? 8;
      const size = Math.max(1, bits / 8);
      if (t.byteLength > size) {
        // at least three chunks, and a chunk size that is not a whole number of elements
        const third = Math.max(1, Math.floor(t.byteLength / 3)) + 1;
        assert.deepStrictEqual(await tensorStats(t, file, { chunkBytes: third }), whole, `${what}: in chunks of ${third} bytes`);
        multiChunk++;
        if (t.byteLength <= 64 * size) {
          assert.deepStrictEqual(await tensorStats(t, file, { chunkBytes: size }), whole, `${what}: one element per chunk`);
          oneElementChunks++;
        }
      }
    } catch (e) {
      failures.push((e as Error).message.slice(0, 600));
    }
  }
  console.log(JSON.stringify({ tensors: tensors.length, byType, multiChunk, oneElementChunks, refusedStrings, failures: failures.length, seconds: (Date.now() - started) / 1000 }, null, 1));
  if (failures.length) console.log(failures.join('\n'));
  assert.deepStrictEqual(failures.slice(0, 10), [], `${failures.length} tensors failed (all listed above)`);
  assert.ok(tensors.length > 3000, `only ${tensors.length} corpus tensors`);
  assert.ok(multiChunk > 2000, `only ${multiChunk} tensors read over several chunks`);
  for (const dtype of ['float', 'float16', 'double', 'int64', 'int32', 'int8', 'uint8', 'bool']) assert.ok((byType[dtype] ?? 0) > 0, `no ${dtype} tensor in the corpus sweep`);
  assert.ok(refusedStrings > 0, 'string tensors are refused');
});
