// The execution-provider probe on a machine without CUDA's provider library (onnxruntime-node ships
// it only on request): 'auto' reports "CUDA: not installed", one line per provider, and onnxruntime
// prints no loader error dump, because a provider that is not installed is never tried.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-ep-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const cudaLib = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch,
  process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so');
const noCuda = (process.platform === 'linux' || process.platform === 'win32') && !existsSync(cudaLib);

test('auto on a machine without the CUDA provider: "CUDA: not installed", CPU used, no loader error dump', { skip: !noCuda && 'this machine has the CUDA provider library' }, () => {
  const script = join(dir, 'probe.ts');
  writeFileSync(script, `
    import * as ort from ${JSON.stringify(require.resolve('onnxruntime-node'))};
    import { withProvider, describeEp, describeEpLines } from ${JSON.stringify(join(ROOT, 'src', 'core', 'scoring', 'ep.ts'))};
    const model = ${JSON.stringify(join(ROOT, 'examples', 'digits-uncond', 'unet', 'model.onnx'))};
    withProvider('auto', model, (ep) => ort.InferenceSession.create(model, { executionProviders: [ep] })).then(async ({ value, ep }) => {
      await value.release();
      console.log(JSON.stringify({ ep, lines: describeEpLines(ep), log: describeEp(ep) }));
    });
  `);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ep: { used: string }; lines: string[]; log: string };
  assert.ok(out.lines.includes('CUDA: not installed'), out.lines.join('\n'));
  assert.ok(out.lines.every((l) => !l.includes('\n') && l.length < 200), 'one short line per provider');
  assert.match(out.lines[out.lines.length - 1], /^(CPU|WebGPU): used$/);
  assert.doesNotMatch(r.stderr, /Failed to load library|providers_shared|provider_bridge/, 'no loader error dump from onnxruntime');
  assert.doesNotMatch(out.log, /\x1b\[/, 'no ANSI escapes');
});

test('an explicit --ep cuda that is not installed is a one-line user error saying so', { skip: !noCuda && 'this machine has the CUDA provider library' }, () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'score', 'examples/digits-uncond', '--ep', 'cuda', '--granularity', 'block', '--quiet'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^ld-surgeon: execution provider 'cuda': CUDA is not installed/m);
  assert.doesNotMatch(r.stderr, /Failed to load library/);
});
