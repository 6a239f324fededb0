// Regression tests for hostile ONNX files found by the fuzzer (bench/fuzz.ts): each is the minimised
// case, and each must end in one clear error naming the file (or a successful read), never a crash
// from deep inside (a RangeError, a TypeError) or an allocation sized by a declared length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../src/core/errors';
import { analyzeModel } from '../src/core/graph/analyze';
import { readModel } from '../src/core/onnx/reader';
import { writeModel } from '../src/core/onnx/writer';
import type { Model } from '../src/core/onnx/types';
import { ElemType } from '../src/core/onnx/types';
import { attrTensor, cat, lenField, nestedType, nodeProto, spliceIntoGraph, tensorProto, valueInfo } from '../bench/fuzz/mutate';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'ld-surgeon-hostile-'));
}

const f32 = (dims: number[]) => ({ kind: 'tensor' as const, elemType: ElemType.FLOAT, shape: dims.map((value) => ({ value })) });

/** A valid one-node model (x → Relu → y), written by our writer: the base every case damages. */
async function baseModel(dir: string): Promise<Uint8Array> {
  const model: Model = {
    path: '', irVersion: 8, opsetImports: [{ domain: '', version: 17 }], metadataProps: [], functions: [],
    graph: {
      name: 'g', nodes: [{ name: 'relu', opType: 'Relu', domain: '', inputs: ['x'], outputs: ['y'], attributes: [] }],
      inputs: [{ name: 'x', type: f32([1, 4]) }], outputs: [{ name: 'y', type: f32([1, 4]) }],
      valueInfo: [], initializers: [], sparseInitializers: [],
    },
  };
  const p = join(dir, 'base.onnx');
  await writeModel(model, p, { durable: false });
  const { readFileSync } = await import('node:fs');
  return new Uint8Array(readFileSync(p));
}

/** Reads the file and runs analysis: returns the error, failing when it is not a UserError naming the file. */
async function expectClearError(file: string, pattern: RegExp): Promise<void> {
  let err: unknown;
  try {
    await analyzeModel(await readModel(file));
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof UserError, `expected a UserError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  assert.ok(err.message.includes(file), `the message names the file: ${err.message}`);
  assert.match(err.message, pattern);
}

test('a value_info type nested 100,000 sequences deep is refused, not a stack overflow', async () => {
  const dir = tmp();
  try {
    const base = await baseModel(dir);
    for (const field of [4, 9, 5]) { // TypeProto.sequence_type, optional_type, map_type
      const t = nestedType(field, 100_000);
      const file = join(dir, `deep-${field}.onnx`);
      writeFileSync(file, spliceIntoGraph(base, lenField(13, valueInfo('deep', t)))!);
      await expectClearError(file, /nested more than 64 deep/);
    }
    // a sequence type nested a few levels (as real models have) still reads
    const t = nestedType(4, 3);
    const ok = join(dir, 'seq3.onnx');
    writeFileSync(ok, spliceIntoGraph(base, lenField(13, valueInfo('seq', t)))!);
    const m = await readModel(ok);
    assert.equal(m.graph.valueInfo[0].type?.kind, 'sequence');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tensor with a negative dimension is refused when read, external or inline, before any payload is sized by it', async () => {
  const dir = tmp();
  try {
    const base = await baseModel(dir);
    writeFileSync(join(dir, 'ok.bin'), new Uint8Array(8192));
    for (const [label, t] of [
      // fuzz case: external data with no length entry, so its size came from the dims (-8 bytes)
      ['external', tensorProto({ name: 'w', dims: [-1], type: ElemType.INT64, external: [['location', 'ok.bin']] })],
      ['inline', tensorProto({ name: 'w', dims: [-1, 2], type: ElemType.FLOAT, raw: new Uint8Array(8) })],
    ] as const) {
      const file = join(dir, `neg-${label}.onnx`);
      const graphFields = cat(lenField(5, t), lenField(1, nodeProto('Constant', [], ['c'], [attrTensor('value', t)])));
      writeFileSync(file, spliceIntoGraph(base, graphFields)!);
      await expectClearError(file, /TensorProto 'w' has a negative dimension -1/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
