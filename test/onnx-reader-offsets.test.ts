// The reader's windowed scan of a single-file model whose fields lie past 2 GiB and 4 GiB: a raw_data
// payload longer than 2^32 bytes (a length varint with bits above 32) is skipped without being read,
// and the tensor, node and graph name after it are found at their exact offsets. The model is a
// sparse file, so its 4.3 GB cost no disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '../src/core/onnx/reader';
import { readTensorValues } from '../src/core/onnx/tensor-data';
import { ElemType } from '../src/core/onnx/types';
import { varintSize, writeVarint } from '../src/core/onnx/wire';

/** One protobuf field: tag + (for length-delimited) length + bytes, or a varint value. */
function field(no: number, value: number | Uint8Array | string): Uint8Array {
  if (typeof value === 'number') return join8(varint(no * 8), varint(value));
  const body = typeof value === 'string' ? new TextEncoder().encode(value) : value;
  return join8(varint(no * 8 + 2), varint(body.length), body);
}
function varint(v: number): Uint8Array {
  const out = new Uint8Array(varintSize(v));
  writeVarint(out, 0, v);
  return out;
}
function join8(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

test('fields past 4 GiB of a single-file model are indexed exactly, reading only the headers', async () => {
  const BIG = 2 ** 32 + 7; // raw_data bytes of the first initializer: never read, never written
  const after = new Float32Array([1.5, -2.25]);
  // GraphProto = initializer 'big' (raw_data of BIG bytes) + initializer 'after' + node + name
  const bigHead = join8(field(8, 'big'), field(2, ElemType.UINT8), field(1, BIG), varint(9 * 8 + 2), varint(BIG));
  const bigTensorLen = bigHead.length + BIG;
  const tail = join8(
    field(5, join8(field(8, 'after'), field(2, ElemType.FLOAT), field(1, 2), field(9, new Uint8Array(after.buffer)))),
    field(1, join8(field(1, 'big'), field(1, 'after'), field(2, 'y'), field(4, 'Add'), field(3, 'add0'))),
    field(2, 'past-4-gib'),
  );
  const graphLen = varint(5 * 8 + 2).length + varintSize(bigTensorLen) + bigTensorLen + tail.length;
  const head = join8(
    field(1, 8), field(8, field(2, 17)), // ir_version, opset_import { version: 17 }
    varint(7 * 8 + 2), varint(graphLen), varint(5 * 8 + 2), varint(bigTensorLen), bigHead,
  );
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-offsets-'));
  const path = join(dir, 'model.onnx');
  try {
    const fd = openSync(path, 'w');
    writeSync(fd, head, 0, head.length, 0);
    writeSync(fd, tail, 0, tail.length, head.length + BIG); // the gap stays a hole
    closeSync(fd);

    const stats = { bytesRead: 0, fileBytes: 0 };
    const m = await readModel(path, { stats });
    assert.equal(stats.fileBytes, head.length + BIG + tail.length);
    assert.ok(stats.bytesRead < 1 << 20, `read ${stats.bytesRead} bytes of a ${stats.fileBytes}-byte file`);
    const [big, aft] = m.graph.initializers;
    assert.deepEqual(big.location, { kind: 'embedded', file: path, offset: head.length, length: BIG, field: 'raw' });
    assert.equal(big.byteLength, BIG);
    assert.deepEqual(big.dims, [BIG]);
    assert.equal(aft.name, 'after');
    assert.ok(aft.location.kind === 'embedded' && aft.location.offset > 2 ** 32, 'the second tensor lies past 4 GiB');
    assert.deepEqual([...(await readTensorValues(aft) as Float32Array)], [1.5, -2.25]);
    assert.deepEqual(m.graph.nodes.map((n) => [n.name, n.opType, n.inputs, n.outputs]), [['add0', 'Add', ['big', 'after'], ['y']]]);
    assert.equal(m.graph.name, 'past-4-gib');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
