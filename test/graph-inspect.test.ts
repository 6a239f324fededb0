// `ld-surgeon inspect`: the documented --json shape, the text table, pipeline folders, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { register } from '../src/cli/commands/inspect';
import { parseInputShape } from '../src/cli/flags';
import { INSPECT_SCHEMA, type InspectReport, type ModuleReport } from '../src/core/graph';

const FIXTURE = 'test/fixtures/graph/tiny_unet_dynamic.onnx';

async function inspect(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  const chunks: string[] = [];
  register(program, { write: (s: string) => chunks.push(s) });
  await program.parseAsync(['node', 'ld-surgeon', 'inspect', ...args]);
  return chunks.join('');
}

const STAT_KEYS = ['nodes', 'ops', 'noiseNodes', 'opCounts', 'params', 'paramBytes', 'macs', 'flops', 'uncounted'];

function assertStats(s: Record<string, unknown>, where: string) {
  for (const k of STAT_KEYS) assert.ok(k in s, `${where}: ${k}`);
  for (const k of STAT_KEYS.filter((k) => k !== 'opCounts')) assert.ok(Number.isInteger(s[k]) && (s[k] as number) >= 0, `${where}.${k} = ${s[k]}`);
  for (const [op, n] of Object.entries(s.opCounts as object)) assert.ok(Number.isInteger(n) && n > 0, `${where}.opCounts.${op}`);
}

test('--json prints the documented InspectReport shape', async () => {
  const r = JSON.parse(await inspect(FIXTURE, '--json', '--depth', '2', '--input', 'sample=2,4,16,16')) as InspectReport;
  assert.equal(r.schema, INSPECT_SCHEMA);
  assert.equal(r.file, resolve(FIXTURE));
  assert.deepEqual(r.producer, { name: 'pytorch', version: '1.13.0' });
  assert.equal(r.irVersion, 8);
  assert.deepEqual(r.opsets, [{ domain: '', version: 17 }]);
  assert.equal(r.scopeSource, 'node-names');
  assert.deepEqual(r.inputs, [
    { name: 'sample', elemType: 'float', shape: [2, 4, 16, 16] },
    { name: 'timestep', elemType: 'int64', shape: [2] },
    { name: 'encoder_hidden_states', elemType: 'float', shape: [2, 3, 4] },
  ]);
  assert.deepEqual(r.outputs, [{ name: 'out_sample', elemType: 'float', shape: [2, 4, 16, 16] }]);
  assertStats(r.totals as unknown as Record<string, unknown>, 'totals');
  assert.equal(r.depth, 2);

  // modules: pre-order, root first, parents before children, no deeper than --depth
  assert.equal(r.modules[0].id, '');
  assert.equal(r.modules[0].parent, null);
  const seen = new Map<string, ModuleReport>();
  for (const m of r.modules) {
    assertStats(m as unknown as Record<string, unknown>, m.id || 'root');
    assert.ok(m.depth <= 2);
    if (m.parent !== null) {
      const p = seen.get(m.parent);
      assert.ok(p, `${m.id}: parent ${m.parent} listed first`);
      assert.equal(m.depth, p.depth + 1);
      assert.equal(m.id, `${m.parent ? m.parent + '.' : ''}${m.name}`);
    }
    assert.ok(m.flopsShare !== null && m.flopsShare >= 0 && m.flopsShare <= 1);
    seen.set(m.id, m);
  }
  const { id, name, parent, depth, children, flopsShare, ...rootStats } = r.modules[0];
  assert.deepEqual(rootStats, r.totals);
  assert.equal(flopsShare, 1);
  assert.ok(children > 5 && id === '' && name === '' && parent === null && depth === 0);
  const top = r.modules.filter((m) => m.depth === 1);
  assert.equal(top.reduce((s, m) => s + m.flops, 0), r.totals.flops, 'top-level modules cover all FLOPs');
  assert.ok(r.modules.some((m) => m.id === 'down_blocks.0.attentions.0'));
  assert.ok(!r.modules.some((m) => m.depth === 3));
});

test('the text table lists modules to --depth with aligned columns', async () => {
  const out = await inspect(FIXTURE, '--depth', '1', '--input', 'sample=2,4,16,16');
  const lines = out.trimEnd().split('\n');
  const header = lines.findIndex((l) => /^module\s+ops\s+params\s+FLOPs\s+% FLOPs$/.test(l));
  assert.ok(header > 0, out);
  const rows = lines.slice(header + 2);
  assert.equal(rows[0].split(/\s+/)[0], '(model)');
  assert.ok(rows.some((l) => l.startsWith('mid_block ')));
  assert.ok(!rows.some((l) => l.includes('mid_block.resnets')), 'depth 1 only');
  assert.match(rows[0], /100\.0%$/);
  const width = lines[header].length;
  for (const r of rows) assert.equal(r.length, width, `aligned: '${r}'`);
  assert.match(out, /input {6}sample: float \[2, 4, 16, 16\]/);
});

test('symbolic dims: FLOPs are counted at batch 1 and default sizes, and inspect says what it assumed', async () => {
  const out = await inspect(FIXTURE);
  assert.match(out, /input {6}sample: float \[batch, 4, height, width\]/);
  assert.doesNotMatch(out, /ops uncounted/);
  assert.match(out, /FLOPs at {3}sample \[1, 4, 64, 64\], timestep \[1\], encoder_hidden_states \[1, 3, 4\] \(assumed batch=1, height=64, width=64: .*--input name=d1,d2/);
  const r = JSON.parse(await inspect(FIXTURE, '--json', '--depth', '0')) as InspectReport;
  assert.equal(r.flopsAt?.assumed, 'batch=1, height=64, width=64');
  assert.deepEqual(r.flopsAt?.inputs.sample, [1, 4, 64, 64]);
  assert.ok(r.totals.flops > 0 && r.totals.uncounted === 0);
  const given = JSON.parse(await inspect(FIXTURE, '--json', '--depth', '0', '--input', 'sample=1,4,64,64')) as InspectReport;
  assert.equal(given.flopsAt, null);
  assert.equal(given.totals.flops, r.totals.flops);
});

test('a pipeline folder is inspected through its unet/model.onnx', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-inspect-'));
  try {
    mkdirSync(join(dir, 'unet'));
    copyFileSync(FIXTURE, join(dir, 'unet', 'model.onnx'));
    writeFileSync(join(dir, 'model_index.json'), '{"_class_name": "StableDiffusionPipeline"}');
    const r = JSON.parse(await inspect(dir, '--json', '--depth', '0')) as InspectReport;
    assert.equal(r.file, join(dir, 'unet', 'model.onnx'));
    assert.equal(r.modules.length, 1);
    rmSync(join(dir, 'model_index.json'));
    await assert.rejects(inspect(dir), /without model_index\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--input parsing', () => {
  assert.deepEqual(parseInputShape('sample=1,4,64,64'), ['sample', [1, 4, 64, 64]]);
  assert.deepEqual(parseInputShape('encoder_hidden_states=2x77x768'), ['encoder_hidden_states', [2, 77, 768]]);
  assert.throws(() => parseInputShape('sample'), /NAME=D1,D2/);
  assert.throws(() => parseInputShape('sample=1,-4'), /NAME=D1,D2/);
  assert.throws(() => parseInputShape('=1,2'), /NAME=D1,D2/);
});

test('the CLI reports user errors on one line with exit code 2', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'inspect', ...args], { encoding: 'utf8' });
  const bad = run(FIXTURE, '--input', 'latents=1,4,8,8');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^ld-surgeon: .*tiny_unet_dynamic\.onnx: has no input 'latents' \(inputs: sample, timestep, encoder_hidden_states\)\n$/);
  const missing = run('no/such/model.onnx');
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no such file/);
  const ok = run(FIXTURE, '--json', '--depth', '0');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).schema, INSPECT_SCHEMA);
});
