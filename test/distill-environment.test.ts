// The distillation environment check's report: which interpreter, what is missing and the command that fixes it.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  checkPython, devicesText, environmentProblem, environmentReport, findPython, fixCommand, NoPythonError, type PythonCheck,
} from '../src/core/distill';

const ROOT = path.resolve('python');

const check = (over: Partial<PythonCheck>): PythonCheck => ({ ok: true, python: '/usr/bin/python3', python_version: '3.11.2', torch: '1.13.0', onnx: '1.12.0', numpy: '1.24.2', missing: [], ...over });

test('one command installs all missing packages: pip and apt installs merge, unrelated fixes chain', () => {
  assert.equal(fixCommand({ missing: [
    { package: 'torch', error: 'x', fix: '/v/bin/python -m pip install torch' },
    { package: 'onnx', error: 'x', fix: '/v/bin/python -m pip install onnx' },
  ] }), '/v/bin/python -m pip install torch onnx');
  assert.equal(fixCommand({ missing: [
    { package: 'torch', error: 'x', fix: 'sudo apt-get install -y python3-torch' },
    { package: 'onnx', error: 'x', fix: 'sudo apt-get install -y python3-onnx' },
  ] }), 'sudo apt-get install -y python3-torch python3-onnx');
  assert.equal(fixCommand({ missing: [{ package: 'a', error: '', fix: 'x install a' }, { package: 'b', error: '', fix: 'y add b' }] }), 'x install a && y add b');
  assert.equal(fixCommand({ missing: [] }), undefined);
});

test('the problem names the interpreter that lacks packages and gives its fix; the others are listed', () => {
  const lacking = check({ ok: false, python: '/v/bin/python', torch: null, missing: [{ package: 'torch', error: "No module named 'torch'", fix: '/v/bin/python -m pip install torch' }] });
  const err = new NoPythonError('none', [
    { python: '/v/bin/python', source: "the Python extension's selected interpreter", reason: 'torch missing', check: lacking },
    { python: '/usr/bin/python3', source: 'system Python', reason: 'cannot run: spawn /usr/bin/python3 ENOENT' },
  ]);
  const p = environmentProblem(err);
  assert.equal(p.python, '/v/bin/python');
  assert.deepEqual(p.fixes, ['/v/bin/python -m pip install torch']);
  assert.match(p.message, /^\/v\/bin\/python \(the Python extension's selected interpreter\) cannot run the distillation trainer: it lacks torch \(No module named 'torch'\)\./);
  assert.match(p.message, /Also tried: \/usr\/bin\/python3 \(system Python\): cannot run: spawn/);

  const none = environmentProblem(new NoPythonError('none', [{ python: 'nope', source: 'the ldSurgeon.pythonPath setting', reason: 'cannot run: ENOENT' }]));
  assert.deepEqual(none.fixes, [], 'no command is invented when no interpreter ran');
  assert.match(none.message, /nope \(the ldSurgeon.pythonPath setting\): cannot run: ENOENT/);
});

test('the report says how the interpreter was chosen, its versions and its devices', () => {
  const lines = environmentReport({ python: 'python3', source: 'PATH', check: check({ python: '/usr/bin/python3' }), rejected: [] });
  assert.equal(lines[0], 'Interpreter: python3 (/usr/bin/python3) — chosen from PATH');
  assert.equal(lines[1], 'Python 3.11.2 · torch 1.13.0 · onnx 1.12.0 · numpy 1.24.2');
  assert.equal(lines[2], 'Devices: CPU only (no CUDA device)');
  assert.equal(devicesText(check({ cuda_available: true, cuda_devices: ['NVIDIA A100', 'NVIDIA A100'], cuda_version: '11.8' })), 'cuda:0 NVIDIA A100, cuda:1 NVIDIA A100 (CUDA 11.8)');
});

test('an interpreter without torch reports what is missing with its fix, instead of failing to start the check', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ld-surgeon-nopy-'));
  try {
    // python3 without its site packages (-S): PYTHONPATH still finds the trainer, but torch and onnx are gone
    const fake = path.join(dir, 'python-without-torch');
    writeFileSync(fake, '#!/bin/sh\nexec python3 -S "$@"\n');
    chmodSync(fake, 0o755);
    const c = await checkPython(fake, ROOT);
    assert.equal(c.ok, false);
    const torch = c.missing.find((m) => m.package === 'torch');
    assert.ok(torch, JSON.stringify(c));
    assert.match(torch.fix, /(pip install torch|apt-get install -y python3-torch)$/);
    await assert.rejects(findPython({ explicit: { python: fake, source: 'the ldSurgeon.pythonPath setting' } }, ROOT), (e: unknown) => {
      const p = environmentProblem(e);
      return e instanceof NoPythonError && p.fixes.length === 1 && /torch/.test(p.fixes[0]) && p.message.includes('the ldSurgeon.pythonPath setting');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
