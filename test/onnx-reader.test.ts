// Focused tests of the lazy reader and the streaming writer: external data, path escapes, bad input,
// low-precision decoding, newer-ONNX fields, the 2 GB switch, and that outputs are atomic and never
// clobber their source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { onnx } from 'onnx-proto';
import { UserError, CancelledError } from '../src/core/errors';
import { readModel, readTensorProtoFile } from '../src/core/onnx/reader';
import { writeModel } from '../src/core/onnx/writer';
import { forEachTensor } from '../src/core/onnx/walk';
import { decodeTensorBytes, readTensorBytes, readTensorRange, readTensorValues } from '../src/core/onnx/tensor-data';
import type { Model, TensorData } from '../src/core/onnx/types';
import { AttrType, ElemType, elemTypeName } from '../src/core/onnx/types';
import { encodeStrings } from '../src/core/onnx/wire';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
const CORPUS = join(__dirname, '..', '..', 'shared', 'corpus', 'onnx-backend');

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'ld-surgeon-onnx-'));
}

function inlineTensor(name: string, elemType: number, dims: number[], bytes: Uint8Array, field: 'raw' | 'float' | 'string' = 'raw'): TensorData {
  return { name, elemType, dims, byteLength: bytes.length, location: { kind: 'inline', bytes, field } };
}

function f32(name: string, dims: number[], values: number[]): TensorData {
  return inlineTensor(name, ElemType.FLOAT, dims, new Uint8Array(Float32Array.from(values).buffer));
}

const tensorType = (dims: number[]) => ({ kind: 'tensor' as const, elemType: ElemType.FLOAT, shape: dims.map((value) => ({ value })) });

/** y = x + w0 + w1 ... over [n] float32 vectors: small enough to run, each weight n*4 bytes. */
function addChain(weights: TensorData[], n: number): Model {
  const nodes = weights.map((w, i) => ({
    name: `add${i}`, opType: 'Add', domain: '', inputs: [i ? `h${i}` : 'x', w.name],
    outputs: [i === weights.length - 1 ? 'y' : `h${i + 1}`], attributes: [],
  }));
  return {
    path: '', irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 'test', metadataProps: [], functions: [],
    graph: {
      name: 'g', nodes, inputs: [{ name: 'x', type: tensorType([n]) }], outputs: [{ name: 'y', type: tensorType([n]) }],
      valueInfo: [], initializers: weights, sparseInitializers: [],
    },
  };
}

function ramp(n: number, k: number): number[] {
  return Array.from({ length: n }, (_, i) => i * 0.5 + k);
}

async function runAdd(path: string, n: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path);
  try {
    const x = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => i), [n]);
    return (await s.run({ x })).y.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** A ModelProto built with onnx-proto (an independent encoder), for inputs our writer would refuse to make. */
function protoModel(initializer: onnx.ITensorProto): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'g', initializer: [initializer], output: [{ name: initializer.name }] },
  }).finish();
}

function externalTensor(location: string, extra: { key: string; value: string }[] = []): onnx.ITensorProto {
  return {
    name: 'w', dataType: onnx.TensorProto.DataType.FLOAT, dims: [4],
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [{ key: 'location', value: location }, ...extra],
  };
}

async function rejectsUser(p: Promise<unknown>, ...patterns: RegExp[]): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${(e as Error).stack}`);
    for (const re of patterns) assert.match(e.message, re);
    return e.message;
  }
  assert.fail('expected a UserError');
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('external data: written to one 4096-aligned sidecar, read back lazily, run by onnxruntime, embedded again', async () => {
  const dir = tmp();
  try {
    const n = 1000;
    const model = addChain([f32('w0', [n], ramp(n, 1)), f32('w1', [n], ramp(n, 2)), f32('tiny', [1], [3])], n);
    model.graph.nodes[2].inputs[1] = 'tiny';
    const out = join(dir, 'ext.onnx');
    const r = await writeModel(model, out, { externalData: 'always' });
    assert.equal(r.externalTensors, 2, 'tensors under 1 kB stay embedded');
    assert.equal(r.dataPath, join(dir, 'ext.onnx.data'));
    assert.equal(statSync(r.dataPath!).size, 4096 + n * 4);

    const back = await readModel(out);
    const [w0, w1, tiny] = back.graph.initializers;
    assert.equal(w0.location.kind, 'external');
    assert.equal(tiny.location.kind, 'embedded');
    assert.deepEqual(w1.externalData, [{ key: 'location', value: 'ext.onnx.data' }, { key: 'offset', value: '4096' }, { key: 'length', value: '4000' }]);
    assert.deepEqual(Array.from(await readTensorValues(w1) as Float32Array), ramp(n, 2));
    assert.deepEqual(await readTensorRange(w1, 4, 8), new Uint8Array(new Float32Array([2.5]).buffer));

    const expected = Array.from({ length: n }, (_, i) => i + (i * 0.5 + 1) + (i * 0.5 + 2) + 3);
    assert.deepEqual(Array.from(await runAdd(out, n)), expected);

    // and back to a single file, streamed from the sidecar
    const embedded = join(dir, 'embedded.onnx');
    const r2 = await writeModel(back, embedded, { externalData: 'never' });
    assert.equal(r2.dataPath, undefined);
    const again = await readModel(embedded);
    assert.ok(again.graph.initializers.every((t) => t.location.kind === 'embedded' && !t.externalData));
    assert.deepEqual(Array.from(await runAdd(embedded, n)), expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("'auto' moves weights to external data only when the model would pass the embedded limit", async () => {
  const dir = tmp();
  try {
    const n = 600;
    const model = addChain([f32('a', [n], ramp(n, 0)), f32('b', [n], ramp(n, 1))], n);
    const small = await writeModel(model, join(dir, 'small.onnx'), { maxEmbeddedBytes: 10_000 });
    assert.equal(small.dataPath, undefined);
    assert.ok(small.bytes > 4800 && small.bytes < 10_000);
    const big = await writeModel(model, join(dir, 'big.onnx'), { maxEmbeddedBytes: 4000 });
    assert.equal(big.externalTensors, 2);
    assert.ok(big.bytes < 1000, `the .onnx keeps only the graph (${big.bytes} bytes)`);
    assert.ok(existsSync(join(dir, 'big.onnx.data')));
    assert.deepEqual(Array.from(await runAdd(join(dir, 'big.onnx'), n)), Array.from(await runAdd(join(dir, 'small.onnx'), n)));
    const never = await writeModel(model, join(dir, 'never.onnx'), { externalData: 'never', maxEmbeddedBytes: 4000 });
    assert.equal(never.dataPath, undefined, "'never' ignores the soft limit");

    // Past protobuf's real 2 GiB limit, embedding is refused before anything is written. The 2.2 GB
    // source is a sparse file, so this costs no disk.
    const huge = join(dir, 'huge.bin');
    writeFileSync(huge, '');
    truncateSync(huge, 2.2e9);
    const len = 2.2e9;
    const w: TensorData = { name: 'w', elemType: ElemType.UINT8, dims: [len], byteLength: len, location: { kind: 'external', file: huge, location: 'huge.bin', offset: 0, length: len } };
    const hugeModel = addChain([w], len);
    await rejectsUser(writeModel(hugeModel, join(dir, 'huge-embedded.onnx'), { externalData: 'never' }), /over protobuf's 2 GiB limit; write it with external data/);
    assert.ok(!readdirSync(dir).some((f) => f.startsWith('huge-') || f.startsWith('.huge-')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('external data locations that leave the model folder are refused', async () => {
  const root = tmp();
  try {
    const dir = join(root, 'model');
    mkdirSync(dir);
    writeFileSync(join(root, 'outside.bin'), new Uint8Array(16));
    symlinkSync(join(root, 'outside.bin'), join(dir, 'link.bin'));
    mkdirSync(join(root, 'elsewhere'));
    writeFileSync(join(root, 'elsewhere', 'w.bin'), new Uint8Array(16));
    symlinkSync(join(root, 'elsewhere'), join(dir, 'sub'));
    const cases: [string, RegExp][] = [
      ['../outside.bin', /'\.\.'/],
      ['sub/../../outside.bin', /'\.\.'/],
      [join(root, 'outside.bin'), /absolute path/],
      ['link.bin', /outside the model's folder/],
      ['sub/w.bin', /outside the model's folder/],
    ];
    for (const [location, why] of cases) {
      const p = join(dir, 'm.onnx');
      writeFileSync(p, protoModel(externalTensor(location)));
      await rejectsUser(readModel(p), new RegExp(escape(p)), new RegExp(`tensor 'w'`), why);
    }
    // a symlink that stays inside the folder is fine
    writeFileSync(join(dir, 'real.bin'), new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
    symlinkSync(join(dir, 'real.bin'), join(dir, 'inside-link.bin'));
    writeFileSync(join(dir, 'ok.onnx'), protoModel(externalTensor('inside-link.bin')));
    const m = await readModel(join(dir, 'ok.onnx'));
    assert.deepEqual(Array.from(await readTensorValues(m.graph.initializers[0]) as Float32Array), [1, 2, 3, 4]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a missing or short external data file is an error naming the tensor and the file', async () => {
  const dir = tmp();
  try {
    const p = join(dir, 'm.onnx');
    writeFileSync(p, protoModel(externalTensor('gone.bin')));
    await rejectsUser(readModel(p), /tensor 'w'/, /gone\.bin/, /does not exist/);

    writeFileSync(join(dir, 'short.bin'), new Uint8Array(10));
    writeFileSync(p, protoModel(externalTensor('short.bin')));
    await rejectsUser(readModel(p), /tensor 'w'/, /short\.bin/, /too short/, /needs bytes 0\.\.16/);

    writeFileSync(join(dir, 'ok.bin'), new Uint8Array(40));
    writeFileSync(p, protoModel(externalTensor('ok.bin', [{ key: 'offset', value: '32' }, { key: 'length', value: '16' }])));
    await rejectsUser(readModel(p), /tensor 'w'/, /ok\.bin/, /too short/, /needs bytes 32\.\.48/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input gives one UserError naming the file', async () => {
  const dir = tmp();
  try {
    const good = join(dir, 'good.onnx');
    await writeModel(addChain([f32('w', [300], ramp(300, 0))], 300), good);
    const bytes = readFileSync(good);
    const random = Buffer.alloc(4096);
    let s = 12345;
    for (let i = 0; i < random.length; i++) { s = (s * 1103515245 + 12345) >>> 0; random[i] = s >>> 24; }
    const cases: [string, Uint8Array | null, RegExp][] = [
      ['random.onnx', random, /not a valid ONNX model/],
      ['truncated.onnx', bytes.subarray(0, Math.floor(bytes.length / 2)), /not a valid ONNX model.*(end|past)/],
      // field 7 (graph) as a varint instead of a message
      ['wiretype.onnx', Uint8Array.from([0x08, 0x08, 0x38, 0x01]), /ModelProto field 7 has wire type varint, expected length-delimited/],
      ['length-past-end.onnx', Uint8Array.from([0x3a, 0xff, 0xff, 0xff, 0x0f, 0x00]), /runs past the end/],
      ['empty.onnx', new Uint8Array(0), /empty/],
      ['text.onnx', Buffer.from('{"not": "onnx"}\n'), /not a valid ONNX model/],
      ['tensor.onnx', readFileSync(join(CORPUS, 'node', 'test_abs', 'test_data_set_0', 'input_0.pb')), /not a valid ONNX model/],
    ];
    for (const [name, content] of cases) {
      const p = join(dir, name);
      writeFileSync(p, content ?? '');
      await rejectsUser(readModel(p), new RegExp(escape(p)));
    }
    for (const [name, , why] of cases) await rejectsUser(readModel(join(dir, name)), why);
    await rejectsUser(readModel(dir), new RegExp(escape(dir)), /is a directory/);
    await rejectsUser(readModel(join(dir, 'nope.onnx')), /nope\.onnx: no such file/);
    // a ModelProto without a graph is not a model
    writeFileSync(join(dir, 'nograph.onnx'), onnx.ModelProto.encode({ irVersion: 8 }).finish());
    await rejectsUser(readModel(join(dir, 'nograph.onnx')), /has no graph/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('float16, bfloat16, float8, float4, int4 and int2 decode as ONNX reference Cast does', async (t) => {
  if (!existsSync(CORPUS)) return t.skip('corpus missing');
  const casts = [
    'FLOAT16_to_FLOAT', 'BFLOAT16_to_FLOAT', 'FLOAT8E4M3FN_to_FLOAT', 'FLOAT8E4M3FNUZ_to_FLOAT', 'FLOAT8E5M2_to_FLOAT',
    'FLOAT8E5M2FNUZ_to_FLOAT', 'FLOAT4E2M1_to_FLOAT', 'INT4_to_INT8', 'UINT4_to_UINT8', 'INT2_to_INT8', 'UINT2_to_UINT8',
    'e8m0_FLOAT8E8M0_to_FLOAT',
  ];
  for (const c of casts) {
    const d = join(CORPUS, 'node', `test_cast_${c}`, 'test_data_set_0');
    const input = await readTensorProtoFile(join(d, 'input_0.pb'));
    const output = await readTensorProtoFile(join(d, 'output_0.pb'));
    const got = Array.from(await readTensorValues(input) as ArrayLike<number>);
    const want = Array.from(await readTensorValues(output) as ArrayLike<number>);
    assert.equal(got.length, want.length, c);
    got.forEach((g, i) => assert.ok(Object.is(g, want[i]) || (Number.isNaN(g) && Number.isNaN(want[i])), `${c}[${i}]: ${g} != ${want[i]}`));
  }
  // and explicit float16 bit patterns
  const bits = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x7c00, 0xfc00, 0x0001, 0x8000, 0x7e00, 0x3555]);
  const h = inlineTensor('h', ElemType.FLOAT16, [bits.length], new Uint8Array(bits.buffer));
  const v = decodeTensorBytes(h, await readTensorBytes(h)) as Float32Array;
  assert.deepEqual(Array.from(v.slice(0, 7)), [1, -2, 65504, Infinity, -Infinity, 2 ** -24, -0]);
  assert.ok(Number.isNaN(v[7]));
  assert.ok(Math.abs(v[8] - 1 / 3) < 1e-3);
});

test('newer ONNX fields, every attribute kind, subgraphs, functions, string and sparse tensors survive a round trip', async () => {
  const dir = tmp();
  try {
    const utf8 = (s: string) => new TextEncoder().encode(s);
    const strings = inlineTensor('names', ElemType.STRING, [2], encodeStrings([utf8('héllo'), utf8('')]), 'string');
    const fp8 = inlineTensor('fp8', ElemType.FLOAT8E4M3FN, [4], Uint8Array.from([0x38, 0xb8, 0x7e, 0x00]));
    const future = inlineTensor('future', 99, [2], Uint8Array.from([1, 2]));
    const typed = inlineTensor('typed', ElemType.FLOAT, [2], new Uint8Array(Float32Array.from([1.5, -2]).buffer), 'float');
    const opaque = { fieldNumber: 77, wireType: 2, bytes: Uint8Array.from([1, 2, 3]) };
    const sub = {
      name: 'then', nodes: [{ name: 'c', opType: 'Constant', domain: '', inputs: [], outputs: ['k'], attributes: [
        { name: 'value', type: AttrType.TENSOR, t: f32('', [2], [7, 8]) }] }],
      inputs: [], outputs: [{ name: 'k', type: tensorType([2]) }], valueInfo: [], initializers: [f32('sub_w', [1], [9])],
      sparseInitializers: [], metadataProps: [{ key: 'g', value: 'meta' }],
    };
    const model: Model = {
      path: '', irVersion: 11, opsetImports: [{ domain: '', version: 23 }, { domain: 'custom.domain', version: 2 }],
      producerName: 'p', producerVersion: '1', domain: 'd', modelVersion: 3, docString: 'doc',
      metadataProps: [{ key: 'k', value: 'v' }],
      functions: [{
        name: 'MyFn', domain: 'custom.domain', overload: 'o1', inputs: ['a'], outputs: ['b'], attributes: ['alpha'],
        attributeProtos: [{ name: 'beta', type: AttrType.FLOAT, f: 0.25 }],
        nodes: [{ name: 'n', opType: 'Relu', domain: '', inputs: ['a'], outputs: ['b'], attributes: [
          { name: 'alpha', type: AttrType.FLOAT, refAttrName: 'alpha' }] }],
        opsetImports: [{ domain: '', version: 23 }], valueInfo: [{ name: 'b', type: tensorType([3]) }],
        metadataProps: [{ key: 'f', value: 'x' }], docString: 'fn doc',
      }],
      opaqueFields: [{ fieldNumber: 99, wireType: 0, bytes: Uint8Array.from([0x96, 0x01]) }],
      graph: {
        name: 'main', docString: 'gd', metadataProps: [{ key: 'graph', value: 'm' }], opaqueFields: [opaque],
        inputs: [{ name: 'x', type: { kind: 'tensor', elemType: ElemType.FLOAT, shape: [{ param: 'batch' }, { value: 3, denotation: 'CHANNEL' }] } }],
        outputs: [
          { name: 'y', type: { kind: 'sequence', elem: { kind: 'tensor', elemType: ElemType.FLOAT } } },
          { name: 'z', type: { kind: 'optional', elem: { kind: 'map', keyType: ElemType.INT64, value: tensorType([]) } }, docString: 'o' },
          { name: 'u', type: { kind: 'unknown', opaqueFields: [{ fieldNumber: 7, wireType: 2, bytes: new Uint8Array(0) }] } },
        ],
        valueInfo: [{ name: 'v', type: { kind: 'sparse_tensor', elemType: ElemType.FLOAT, shape: [] }, metadataProps: [{ key: 'vi', value: '1' }] }],
        initializers: [strings, fp8, future, typed, { ...f32('seg', [1], [1]), segment: { begin: 0, end: 1 }, docString: 'td', metadataProps: [{ key: 't', value: 'm' }] }],
        sparseInitializers: [{ values: f32('sp', [2], [1, 2]), indices: inlineTensor('spi', ElemType.INT64, [2], new Uint8Array(BigInt64Array.from([1n, 5n]).buffer)), dims: [10] }],
        nodes: [{
          name: 'everything', opType: 'Custom', domain: 'custom.domain', overload: 'o1', docString: 'nd',
          inputs: ['x', '', 'names'], outputs: ['y', 'z'], metadataProps: [{ key: 'n', value: 'm' }], opaqueFields: [opaque],
          attributes: [
            { name: 'f', type: AttrType.FLOAT, f: 0.5 },
            { name: 'i', type: AttrType.INT, i: 9223372036854775807n },
            { name: 'neg', type: AttrType.INT, i: -1 },
            { name: 's', type: AttrType.STRING, s: utf8('text') },
            { name: 't', type: AttrType.TENSOR, t: f32('', [1], [4]) },
            { name: 'g', type: AttrType.GRAPH, g: sub },
            { name: 'floats', type: AttrType.FLOATS, floats: [1.5, -0.25] },
            { name: 'ints', type: AttrType.INTS, ints: [1, -2, 2 ** 40, -9223372036854775808n] },
            { name: 'empty', type: AttrType.INTS, ints: [] },
            { name: 'strings', type: AttrType.STRINGS, strings: [utf8('a'), utf8('')] },
            { name: 'tensors', type: AttrType.TENSORS, tensors: [f32('t1', [1], [1]), fp8] },
            { name: 'graphs', type: AttrType.GRAPHS, graphs: [sub, sub] },
            { name: 'sparse', type: AttrType.SPARSE_TENSOR, sparseTensor: { values: f32('sv', [1], [1]), indices: inlineTensor('si', ElemType.INT64, [1], new Uint8Array(8)), dims: [3] } },
            { name: 'tp', type: AttrType.TYPE_PROTO, tp: tensorType([1, 2]) },
            { name: 'tps', type: AttrType.TYPE_PROTOS, typeProtos: [tensorType([1]), { kind: 'sequence' }] },
            { name: 'doc', type: AttrType.INT, i: 0, docString: 'attr doc', opaqueFields: [opaque] },
          ],
        }],
      },
    };
    const p1 = join(dir, 'a.onnx');
    await writeModel(model, p1);
    const a = await readModel(p1);
    const p2 = join(dir, 'b.onnx');
    await writeModel(a, p2);
    assert.deepEqual(readFileSync(p2), readFileSync(p1), 'a re-write of a read model is byte-identical');

    // Compare with the model we wrote, tensor payloads compared as bytes.
    const norm = async (m: Model) => {
      const c = structuredClone(m);
      const ts = new Set<TensorData>(); // (structuredClone keeps shared tensors shared)
      forEachTensor(c, (t) => ts.add(t));
      for (const t of ts) Object.assign(t, { location: { bytes: Array.from(await readTensorBytes(t)) } });
      c.path = '';
      return c;
    };
    assert.deepStrictEqual(await norm(a), await norm(model));
    assert.equal(elemTypeName(a.graph.initializers[2].elemType), 'unknown(99)');
    assert.deepEqual(await readTensorValues(a.graph.initializers[0]), ['héllo', '']);
    assert.deepEqual(Array.from(await readTensorValues(a.graph.initializers[1]) as Float32Array), [1, -1, 448, 0]);
    assert.deepEqual(Array.from(await readTensorValues(a.graph.initializers[3]) as Float32Array), [1.5, -2]);
    // The other decoder sees the fields it knows the same way.
    const proto = onnx.ModelProto.decode(readFileSync(p1));
    const attrs = proto.graph!.node![0].attribute!;
    assert.equal(attrs[1].i!.toString(), '9223372036854775807');
    assert.equal(attrs[2].i!.toString(), '-1');
    assert.equal(attrs[5].g!.initializer![0].name, 'sub_w');
    assert.deepEqual(proto.graph!.initializer![0].stringData!.map((b) => Buffer.from(b).toString()), ['héllo', '']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('indexing a model larger than the read window reads only its headers, not its weights', async () => {
  const dir = tmp();
  try {
    const n = 1 << 20; // 4 MiB per tensor, 20 tensors: past the whole-file read limit
    const weights = Array.from({ length: 20 }, (_, k) => {
      const v = new Float32Array(n);
      v[0] = k;
      v[n - 1] = -k;
      return inlineTensor(`w${k}`, ElemType.FLOAT, [n], new Uint8Array(v.buffer));
    });
    const p = join(dir, 'big.onnx');
    await writeModel(addChain(weights, n), p);
    const stats = { bytesRead: 0, fileBytes: 0 };
    const m = await readModel(p, { stats });
    assert.equal(stats.fileBytes, statSync(p).size);
    assert.ok(stats.bytesRead < stats.fileBytes / 50, `read ${stats.bytesRead} of ${stats.fileBytes} bytes`);
    assert.equal(m.graph.initializers.length, 20);
    for (const [k, t] of m.graph.initializers.entries()) {
      const v = await readTensorValues(t) as Float32Array;
      assert.equal(v[0], k);
      assert.ok(Object.is(v[n - 1], -k));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function hash(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}

test('the writer never overwrites the source model or a file it reads data from', async () => {
  const dir = tmp();
  try {
    const n = 400;
    const src = join(dir, 'src.onnx');
    await writeModel(addChain([f32('w', [n], ramp(n, 0))], n), src, { externalData: 'always' });
    const m = await readModel(src);
    const before = [hash(src), hash(join(dir, 'src.onnx.data'))];
    await rejectsUser(writeModel(m, src), /refusing to overwrite the source model/);
    await rejectsUser(writeModel(m, join(dir, 'src.onnx.data')), /refusing to overwrite .*src\.onnx\.data/);
    await rejectsUser(writeModel(m, join(dir, 'other.onnx'), { externalData: 'always', externalDataName: 'src.onnx.data' }), /refusing to overwrite/);
    symlinkSync(src, join(dir, 'alias.onnx'));
    await rejectsUser(writeModel(m, join(dir, 'alias.onnx')), /refusing to overwrite the source model/);
    await rejectsUser(writeModel(m, join(dir, 'x.onnx'), { externalData: 'always', externalDataName: '../escape.data' }), /plain file name/);
    assert.deepEqual([hash(src), hash(join(dir, 'src.onnx.data'))], before);
    assert.deepEqual(readdirSync(dir).sort(), ['alias.onnx', 'src.onnx', 'src.onnx.data']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed or cancelled write leaves no model and no temp file behind', async () => {
  const dir = tmp();
  try {
    const n = 2000;
    const src = join(dir, 'src.onnx');
    await writeModel(addChain([f32('a', [n], ramp(n, 0)), f32('b', [n], ramp(n, 1))], n), src, { externalData: 'always' });
    const m = await readModel(src);
    const outDir = join(dir, 'out');
    mkdirSync(outDir);
    // the source's data file shrinks after indexing: copying the second tensor fails midway
    truncateSync(join(dir, 'src.onnx.data'), 4096 + 100);
    await rejectsUser(writeModel(m, join(outDir, 'm.onnx'), { externalData: 'always' }), /changed since the model was read/);
    await rejectsUser(writeModel(m, join(outDir, 'm.onnx'), { externalData: 'never' }), /changed since the model was read/);
    assert.deepEqual(readdirSync(outDir), []);

    const fresh = addChain([f32('a', [n], ramp(n, 0))], n);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(writeModel(fresh, join(outDir, 'm.onnx'), { signal: ac.signal }), CancelledError);
    assert.deepEqual(readdirSync(outDir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
