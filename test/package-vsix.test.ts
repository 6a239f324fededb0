// Platform-specific VSIXs: `scripts/package.mjs --target linux-x64` (what `npm run package -- --target
// linux-x64` runs after the build) packs only linux-x64's onnxruntime binaries, so the VSIX is a fraction
// of the all-platform one (~110 MB), and leaves the working node_modules as it was.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const BIN = join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-vsix-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const platforms = () => readdirSync(BIN).flatMap((os) => readdirSync(join(BIN, os)).map((arch) => `${os}/${arch}`)).sort();
const zipEntries = (file: string) => spawnSync('zipinfo', ['-1', file], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);

test('a linux-x64 VSIX carries only linux-x64 onnxruntime binaries and is a fraction of the size', { timeout: 10 * 60_000, skip: !existsSync(join(ROOT, 'dist', 'extension.js')) && 'npm run build first' }, () => {
  const before = platforms();
  const r = spawnSync(process.execPath, ['scripts/package.mjs', '--target', 'linux-x64', '--out', dir], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const vsix = join(dir, readdirSync(dir).find((f) => f.endsWith('-linux-x64.vsix'))!);
  const runtime = zipEntries(vsix).filter((e) => e.includes('onnxruntime-node/bin/'));
  assert.deepEqual(runtime.map((e) => e.replace(/^extension\/node_modules\/onnxruntime-node\/bin\/napi-v6\//, '')).sort(), ['linux/x64/libonnxruntime.so.1', 'linux/x64/onnxruntime_binding.node']);
  assert.ok(zipEntries(vsix).includes('extension/dist/extension.js'));
  // every platform's binaries together are ~290 MB unpacked; linux-x64's are 45 MB
  const mb = statSync(vsix).size / 2 ** 20;
  assert.ok(mb < 30, `${mb.toFixed(1)} MiB`);
  assert.deepEqual(platforms(), before, 'the working node_modules keeps every platform');
  assert.ok(before.length > 1);
});

test('an unknown target is refused with the targets there are', () => {
  const r = spawnSync(process.execPath, ['scripts/package.mjs', '--target', 'linux-sparc', '--out', dir], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--target 'linux-sparc': onnxruntime-node ships binaries for darwin-arm64, linux-arm64, linux-x64, win32-arm64, win32-x64/);
});
