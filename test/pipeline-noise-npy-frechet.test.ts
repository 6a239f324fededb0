// Seeded noise, .npy I/O and the Fréchet distance, against reference numbers from numpy/scipy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GaussianStream, sampleSeed } from '../src/core/pipeline/noise';
import { encodeNpy, parseNpy, readNpy, readNpyFloat32 } from '../src/core/npy';
import { fitGaussian, frechetDistance } from '../src/core/pipeline/frechet';
import { UserError } from '../src/core/errors';

test('noise: uniforms equal numpy RandomState(seed).random_sample(); normals are its Box-Muller pairs', () => {
  const g = new GaussianStream(4294967295);
  assert.equal(g.uniform(), 0.0976320289940138);
  assert.equal(g.uniform(), 0.9123828453026218);
  // numpy: u = RandomState(7).random_sample(8); r = sqrt(-2 log(1-u[0::2])); (r cos 2πu[1::2], r sin 2πu[1::2]) as float32
  const want = [0.07446035742759705, -0.39141982793807983, -0.17826999723911285, -1.0593316555023193,
    -2.6822714805603027, -0.6617343425750732, 1.0605154037475586, 0.5158374309539795];
  assert.deepEqual(Array.from(new GaussianStream(7).fill(new Float32Array(8))), want);
});

test('noise: same seed is bit-identical, chunked fills continue the stream, seeds differ', () => {
  const a = new GaussianStream(1234).fill(new Float32Array(1001));
  const b = new GaussianStream(1234).fill(new Float32Array(1001));
  assert.deepEqual(Buffer.from(a.buffer), Buffer.from(b.buffer));
  const chunked = new Float32Array(1001);
  const g = new GaussianStream(1234);
  g.fill(chunked, 0, 3);
  g.fill(chunked, 3, 500);
  g.fill(chunked, 503);
  assert.deepEqual(Buffer.from(chunked.buffer), Buffer.from(a.buffer));
  const c = new GaussianStream(1235).fill(new Float32Array(1001));
  assert.ok(a.some((v, i) => v !== c[i]));
  // and it is Gaussian: mean ≈ 0, variance ≈ 1 over 100k draws
  const big = new GaussianStream(99).fill(new Float32Array(100000));
  const mean = big.reduce((s, v) => s + v, 0) / big.length;
  const variance = big.reduce((s, v) => s + (v - mean) ** 2, 0) / big.length;
  assert.ok(Math.abs(mean) < 0.02 && Math.abs(variance - 1) < 0.02, `mean ${mean}, variance ${variance}`);
  assert.equal(sampleSeed(4294967295, 1), 0);
});

test('npy: reads numpy-written float64 / int64 files and refuses big-endian data', () => {
  // np.save(np.arange(6, dtype='<f8').reshape(2, 3)), np.save(np.array([[1,-2],[3,4]], dtype='<i8')), np.save(np.array([1.5, 2.5], dtype='>f4'))
  const f8 = Buffer.from('k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAPA/AAAAAAAAAEAAAAAAAAAIQAAAAAAAABBAAAAAAAAAFEA=', 'base64');
  const a = parseNpy(f8);
  assert.equal(a.dtype, 'float64');
  assert.deepEqual(a.shape, [2, 3]);
  assert.deepEqual(Array.from(a.data as Float64Array), [0, 1, 2, 3, 4, 5]);
  const i8 = parseNpy(Buffer.from('k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAAAAAP7/////////AwAAAAAAAAAEAAAAAAAAAA==', 'base64'));
  assert.deepEqual(Array.from(i8.data as BigInt64Array), [1n, -2n, 3n, 4n]);
  const be = Buffer.from('k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo/wAAAQCAAAA==', 'base64');
  assert.throws(() => parseNpy(be, 'be.npy'), (e: Error) => e instanceof UserError && /be\.npy: .*dtype '>f4' is not supported/.test(e.message));
  assert.throws(() => parseNpy(Buffer.from('not an array'), 'x.npy'), /x\.npy: not a readable \.npy array/);
  assert.throws(() => parseNpy(f8.subarray(0, f8.length - 8), 'cut.npy'), /cut\.npy: .*expected 48 data bytes/);
});

test('npy: encode → decode round trip keeps shape, dtype and bits; header is 64-byte aligned', () => {
  const dir = mkdtempSync(join(tmpdir(), 'npy-'));
  try {
    const data = Float32Array.from([1.5, -0, Number.MIN_VALUE, 3.4e38, NaN, 7]);
    const bytes = encodeNpy(data, [2, 1, 3]);
    const headerLen = bytes[8] | (bytes[9] << 8);
    assert.equal((10 + headerLen) % 64, 0);
    const p = join(dir, 'a.npy');
    writeFileSync(p, bytes);
    const back = readNpyFloat32(p);
    assert.deepEqual(back.shape, [2, 1, 3]);
    assert.deepEqual(Buffer.from(back.data.buffer), Buffer.from(data.buffer));
    assert.equal(readNpy(p).dtype, 'float32');
    assert.throws(() => encodeNpy(data, [4]), /holds 4 elements/);
    assert.throws(() => readNpy(join(dir, 'missing.npy')), /missing\.npy: cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Fréchet distance matches scipy.linalg.sqrtm-based FID and is ~0 for identical statistics', () => {
  const A = new Float64Array(40 * 5);
  const B = new Float64Array(30 * 5);
  for (let i = 0; i < 40; i++) for (let j = 0; j < 5; j++) A[i * 5 + j] = Math.sin(i * (1.3 + 0.17 * j) + j * 0.7) + 0.3 * Math.cos(i * i * 0.37 + j * j);
  for (let i = 0; i < 30; i++) for (let j = 0; j < 5; j++) B[i * 5 + j] = Math.cos(i * (0.9 + 0.23 * j) - j * 1.1) * 1.5 + 0.3 + 0.2 * Math.sin(i * i * 0.21 + j);
  const ga = fitGaussian(A, 40, 5);
  assert.ok(Math.abs(ga.cov[1 * 5 + 3] - 0.03968378077997403) < 1e-12, 'np.cov (N-1) entry');
  const d = frechetDistance(ga, fitGaussian(B, 30, 5));
  assert.ok(Math.abs(d - 1.1963369724832216) < 1e-9, `FD ${d}`);
  assert.ok(Math.abs(frechetDistance(ga, ga)) < 1e-9);
  // rank-deficient covariances (fewer samples than dimensions) stay finite
  const few = fitGaussian(A.subarray(0, 3 * 5), 3, 5);
  assert.ok(Number.isFinite(frechetDistance(few, ga)));
});
