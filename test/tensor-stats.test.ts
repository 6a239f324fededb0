// The inspector's weight statistics, read a chunk at a time: the same numbers as a plain computation
// over the whole decoded tensor, for a tensor spanning several chunks (float32 and float16, with NaN
// and ±Inf), for the example U-Net's weights as stored in the file, and a refusal that names the tensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HISTOGRAM_BINS, tensorStats, type WeightStats } from '../src/core/graph/tensor-stats';
import { readModel } from '../src/core/onnx/reader';
import { readTensorValues } from '../src/core/onnx/tensor-data';
import { ElemType, type TensorData } from '../src/core/onnx/types';
import { EXAMPLES } from './pipeline-fixtures';

/** The statistics straight from their definition, over the whole array at once. */
function reference(values: ArrayLike<number>): Omit<WeightStats, 'dtype' | 'shape'> {
  const finite = Array.from(values).filter(Number.isFinite);
  const min = finite.length ? finite.reduce((a, b) => Math.min(a, b), Infinity) : 0;
  const max = finite.length ? finite.reduce((a, b) => Math.max(a, b), -Infinity) : 0;
  const mean = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : 0;
  const std = finite.length ? Math.sqrt(finite.reduce((a, x) => a + (x - mean) * (x - mean), 0) / finite.length) : 0;
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  const width = (max - min) / HISTOGRAM_BINS;
  for (const x of finite) counts[width > 0 ? Math.min(HISTOGRAM_BINS - 1, Math.floor((x - min) / width)) : 0]++;
  return { count: values.length, min, max, mean, std, zeros: finite.filter((x) => x === 0).length, nonFinite: values.length - finite.length, histogram: { lo: min, hi: max, counts } };
}

function inline(name: string, elemType: number, bytes: Uint8Array, n: number): TensorData {
  return { name, elemType, dims: [n], byteLength: bytes.length, location: { kind: 'inline', bytes, field: 'raw' } };
}

function close(got: WeightStats, want: ReturnType<typeof reference>, what: string): void {
  const { mean, std, ...exact } = want;
  const { mean: gm, std: gs, dtype: _d, shape: _s, ...gotExact } = got;
  assert.deepEqual(gotExact, exact, what);
  assert.ok(Math.abs(gm - mean) <= 1e-9 * Math.max(1, Math.abs(mean)), `${what}: mean ${gm} vs ${mean}`);
  assert.ok(Math.abs(gs - std) <= 1e-9 * Math.max(1, std), `${what}: std ${gs} vs ${std}`);
}

test('a float32 tensor over several 4 MB chunks, with zeros, NaN and ±Inf, has the statistics of the whole', async () => {
  const n = 2_500_000; // 10 MB: three chunks
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.sin(i * 0.37) * (1 + (i % 7));
  v[10] = 0;
  v[3_000] = NaN;
  v[1_500_000] = Infinity;
  v[n - 1] = -Infinity;
  const s = await tensorStats(inline('big', ElemType.FLOAT, new Uint8Array(v.buffer), n), 'm.onnx');
  close(s, reference(v), 'float32');
  assert.equal(s.nonFinite, 3);
  assert.equal(s.histogram.counts.reduce((a, b) => a + b, 0), n - 3, 'every finite value is in one bin');
});

test('float16 over chunk boundaries decodes like the whole tensor', async () => {
  const n = 2_100_001; // odd, 4.2 MB: two chunks
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) h[i] = (i * 2654435761) & 0x7bff; // finite halves of both signs
  h[5] = 0x7c00; // +Inf
  const t = inline('half', ElemType.FLOAT16, new Uint8Array(h.buffer), n);
  const whole = await readTensorValues(t);
  close(await tensorStats(t, 'm.onnx'), reference(whole as Float32Array), 'float16');
});

test("the example U-Net's weights, read from the file, have the statistics of their decoded values", async () => {
  const file = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
  const m = await readModel(file);
  const big = [...m.graph.initializers].sort((a, b) => b.byteLength - a.byteLength).slice(0, 3);
  for (const t of big) close(await tensorStats(t, file), reference((await readTensorValues(t)) as Float32Array), t.name);
});

test('a tensor past the element limit is refused, naming the file and the tensor', async () => {
  const huge: TensorData = { name: 'huge', elemType: ElemType.FLOAT, dims: [1 << 14, 1 << 13], byteLength: 0, location: { kind: 'inline', bytes: new Uint8Array(0), field: 'raw' } };
  await assert.rejects(tensorStats(huge, 'm.onnx'), /m\.onnx: tensor 'huge' has 134,217,728 elements/);
});

test('external data read a chunk at a time: the statistics of the whole; a file cut short since is refused naming it and the chunk', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tensor-chunks-'));
  try {
    const n = 1000;
    const v = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
    const file = join(dir, 'w.bin');
    // the tensor starts 12 bytes into its data file, as a tensor after another would
    writeFileSync(file, Buffer.concat([Buffer.alloc(12), Buffer.from(v.buffer)]));
    const t: TensorData = { name: 'w', elemType: ElemType.FLOAT, dims: [n], byteLength: 4 * n, location: { kind: 'external', file, location: 'w.bin', offset: 12, length: 4 * n } };
    close(await tensorStats(t, 'm.onnx', { chunkBytes: 4 * 96 }), reference(v), 'chunks of 96 floats');
    truncateSync(file, 12 + 4 * 500);
    await assert.rejects(tensorStats(t, 'm.onnx', { chunkBytes: 4 * 96 }), (e: Error) =>
      e.message.startsWith(`${file}: ends before the data of tensor 'w'`) && /needs bytes 1932\.\.2316/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
