// The trainer gets the chosen conditions as --conditions: an embeddings .npy as it is, encoded
// prompts / token ids written into the job's run folder; trainer arguments that name their own win.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { distillJobRequest, type DistillJobSpec } from '../../src/extension/distill/distillJob';

const base: DistillJobSpec = { student: '/s/student.onnx', teacher: '/t/unet/model.onnx', device: 'cpu', python: 'python3', output: '/s/out.onnx' };

function argsOf(spec: DistillJobSpec, runDir: string): string[] {
  const p = distillJobRequest(runDir, spec, 'distill').request.process(runDir);
  assert.equal(p.type, 'spawn');
  return p.type === 'spawn' ? p.args : [];
}

test('distillation: conditions reach the trainer as --conditions, encoded ones from the run folder', () => {
  const runDir = mkdtempSync(path.join(tmpdir(), 'ld-surgeon-distill-cond-'));
  try {
    const npy = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 2, 3]);
    const encoded = argsOf({ ...base, conditions: { npy } }, runDir);
    const at = encoded.indexOf('--conditions');
    assert.ok(at > 0, encoded.join(' '));
    assert.equal(encoded[at + 1], path.join(runDir, 'conditions.npy'));
    assert.deepEqual(Uint8Array.from(readFileSync(encoded[at + 1])), npy);

    const file = argsOf({ ...base, conditions: { file: '/data/emb.npy' } }, runDir);
    assert.equal(file[file.indexOf('--conditions') + 1], '/data/emb.npy');

    const own = argsOf({ ...base, conditions: { file: '/data/emb.npy' }, trainerArgs: ['--conditions', '/mine.npy'] }, runDir);
    assert.deepEqual(own.filter((a) => a === '--conditions').length, 1);
    assert.equal(own[own.indexOf('--conditions') + 1], '/mine.npy');

    assert.ok(!argsOf(base, runDir).includes('--conditions'), 'defaults: the trainer picks its own');
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
});
