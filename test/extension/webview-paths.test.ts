// A path in a webview message (the graph view's Distill button sends the pruned model's path) is used
// only inside the workspace or the model's folder: not absolute elsewhere, not through '..', not
// through a symlink that leads out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathInsideRoots } from '../../src/extension/graph/webviewPaths';

test('webview paths resolve inside the allowed folders only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-webview-paths-'));
  try {
    const ws = join(dir, 'ws');
    mkdirSync(join(ws, 'unet'), { recursive: true });
    writeFileSync(join(ws, 'unet', 'pruned.onnx'), 'x');
    writeFileSync(join(dir, 'secret.onnx'), 'x');
    symlinkSync(join(dir, 'secret.onnx'), join(ws, 'unet', 'link.onnx'));
    const base = join(ws, 'unet');
    assert.equal(pathInsideRoots(join(base, 'pruned.onnx'), base, [ws]), join(base, 'pruned.onnx'));
    assert.equal(pathInsideRoots('pruned.onnx', base, [ws]), join(base, 'pruned.onnx'), 'relative to the model folder');
    assert.equal(pathInsideRoots(join(dir, 'secret.onnx'), base, [ws]), undefined, 'absolute path outside');
    assert.equal(pathInsideRoots('../../secret.onnx', base, [ws]), undefined, "'..' out of the workspace");
    assert.equal(pathInsideRoots('/etc/passwd', base, [ws, base]), undefined);
    assert.equal(pathInsideRoots('link.onnx', base, [ws]), undefined, 'a symlink leading out');
    assert.equal(pathInsideRoots('pruned.onnx\0.txt', base, [ws]), undefined, 'a NUL byte');
    assert.equal(pathInsideRoots(join(dir, 'wsx', 'a.onnx'), base, [ws]), undefined, 'a sibling folder sharing the prefix');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
