// The Python distillation trainer (python/ld_surgeon_distill) has its own unittest suite: importer vs ONNX's
// backend tests, re-export, exact resume, DDP, and a short distillation on examples/digits-cond. It runs on
// Debian's /usr/bin/python3 (torch, onnx, numpy from apt: scripts/setup.sh installs them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const PYTHON = process.env.LD_SURGEON_PYTHON ?? '/usr/bin/python3';

test('python distillation trainer: unittest suite', { timeout: 20 * 60 * 1000 }, () => {
  const r = spawnSync(PYTHON, ['-m', 'unittest', 'discover', '-s', 'python/tests', '-v'], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: 'python', PYTHONWARNINGS: 'ignore' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  process.stdout.write(r.stdout);
  process.stdout.write(r.stderr);
  assert.equal(r.status, 0, `python -m unittest exited with ${r.status}`);
});
