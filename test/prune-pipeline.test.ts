// `ld-surgeon prune` on a pipeline folder (a copy of the conditional example): a new pipeline folder
// with the pruned U-Net and every other component hard-linked, the metric before and after, a record
// beside the U-Net, a folder `ld-surgeon sample` runs; the summary table; flag errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { readNpyFloat32 } from '../src/core/npy';
import { readModel } from '../src/core/onnx/reader';
import type { PruneRecord } from '../src/core/prune';
import { copyPipeline, DIGITS_COND, tempDir } from './pipeline-fixtures';
import { initializerBytes, listing } from './prune-helpers';

const ROOT = resolve(__dirname, '..');
const QUICK = ['--samples', '4', '--steps', '2', '--latency-seconds', '0.3', '--ep', 'cpu'];

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const inode = (p: string) => statSync(p).ino;

test('a pipeline prune makes a new pipeline folder that samples, with the metric before and after', async () => {
  const t = tempDir('prune-pipe-');
  try {
    const src = copyPipeline(DIGITS_COND, t.dir);
    // files describing the source U-Net must not follow the pruned one
    writeFileSync(join(src, 'unet', 'model.ldscores.json'), '{"format":"ld-surgeon.scores/1"}');
    const ids = ['up_blocks.2.attentions.1', 'mid_block.resnets.1', 'up_blocks.1.resnets.2'];
    const r = cli('prune', src, '--ops', ids.join(','), '--json', ...QUICK);
    assert.equal(r.code, 0, r.stderr);
    const rec = JSON.parse(r.stdout) as PruneRecord;
    const out = join(t.dir, 'pipeline.pruned');
    assert.equal(rec.output.pipeline, out);
    assert.equal(rec.output.record, join(out, 'unet', 'model.prune.json'));
    assert.deepEqual(JSON.parse(readFileSync(rec.output.record, 'utf8')), rec);
    assert.deepEqual(rec.removed.map((x) => [x.id, x.method]), [['up_blocks.2.attentions.1', 'identity'], ['mid_block.resnets.1', 'identity'], ['up_blocks.1.resnets.2', 'shortcut']]);
    for (const c of rec.checks) assert.equal(c.status, 'passed', `${c.name}: ${c.detail}`);
    assert.equal(rec.metric?.before.metric, 'FID');
    assert.equal(rec.metric?.before.n, 4);
    // 4 samples for a 64-dimensional FID: a number with its noise, flagged as indicative only
    assert.match(rec.metric!.before.indicative ?? '', /only 4 samples for 64 feature dimensions/);
    assert.ok(rec.metric!.before.spread! > 0);
    assert.match(rec.checks.find((c) => c.name === 'metric')!.indicative ?? '', /only 4 samples/);
    assert.ok(Number.isFinite(rec.metric!.after.value));
    assert.equal(rec.latents?.kind, 'pipeline');
    assert.ok(rec.latents!.score > 0);
    assert.ok(rec.after.params < rec.before.params && rec.after.fileBytes < rec.before.fileBytes);
    assert.ok(rec.latency!.runs >= 5 && rec.latency!.originalMs > 0 && rec.latency!.prunedMs > 0);

    // the other components are hard links to the source's; the U-Net is new, its weights the source's
    for (const f of ['model_index.json', 'vae_decoder/model.onnx', 'text_encoder/model.onnx', 'tokenizer/vocab.json', 'scheduler/scheduler_config.json', 'metrics/classifier.onnx', 'unet/config.json']) {
      assert.equal(inode(join(out, f)), inode(join(src, f)), f);
    }
    assert.ok(!existsSync(join(out, 'unet', 'model.ldscores.json')));
    // samples: the original's and the pruned pipeline's from the same seeds, one row each; never the source's sheet
    assert.deepEqual(rec.samples, { file: join(out, 'prune-samples.png'), count: 4 });
    const png = PNG.sync.read(readFileSync(rec.samples!.file));
    const tile = (png.height - 2) / 2;
    assert.equal(png.width, 4 * tile + 3 * 2, 'four samples a row, two rows (original, pruned)');
    assert.ok(existsSync(join(src, 'samples.png')) && !existsSync(join(out, 'samples.png')), "the source's samples.png is not in the pruned folder (not even as a hard link)");
    assert.deepEqual(listing(join(out, 'unet')), ['config.json', 'model.onnx', 'model.prune.json']);
    const srcInits = initializerBytes(join(src, 'unet', 'model.onnx'));
    for (const [name, bytes] of initializerBytes(join(out, 'unet', 'model.onnx'))) if (srcInits.has(name)) assert.ok(bytes.equals(srcInits.get(name)!), name);
    const m = await readModel(join(out, 'unet', 'model.onnx'));
    assert.deepEqual(m.graph.inputs.map((v) => v.name), ['sample', 'timestep', 'encoder_hidden_states']);
    assert.ok(!m.graph.nodes.some((n) => n.name.startsWith('/up_blocks.2/attentions.1/')));
    assert.ok(m.graph.nodes.some((n) => n.name.startsWith('/up_blocks.2/attentions.0/')), 'module names of what remains are unchanged');

    // the folder samples with the sampler
    const samples = join(t.dir, 'samples');
    const s = cli('sample', out, '--n', '2', '--steps', '2', '--out', samples, '--prompt', 'a digit three');
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(readNpyFloat32(join(samples, 'latents.npy')).shape, [2, 4, 8, 8]);

    // an existing output folder is not replaced without --force
    const again = cli('prune', src, '--ops', 'mid_block.resnets.0', ...QUICK);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /pipeline\.pruned: already exists; remove it, pass --force to replace it, or choose another --out/);
    const forced = cli('prune', src, '--ops', 'mid_block.resnets.0', '--no-metric', '--force', ...QUICK);
    assert.equal(forced.code, 0, forced.stderr);
    // the summary table
    assert.match(forced.stdout, /removed 1 candidate:/);
    assert.match(forced.stdout, /mid_block\.resnets\.0\s+remove \(identity\)/);
    assert.match(forced.stdout, /^params\s+1\.\d+M\s+1\.\d+M\s+−\d+\.\d%$/m);
    assert.match(forced.stdout, /^latency \(cpu, median\)\s+\d+\.\d+ ms\s+\d+\.\d+ ms/m);
    assert.match(forced.stdout, /✓ weights\s+\d+ kept initializers byte-identical/);
    assert.match(forced.stdout, /– metric\s+skipped: not measured \(--no-metric\)/);
    assert.match(forced.stdout, /^samples: .*prune-samples\.png \(top row: the original, bottom row: the pruned pipeline; the same 4 seeds and conditions\)$/m);
    assert.match(forced.stdout, new RegExp(`record: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/unet/model\\.prune\\.json`));
    const rec2 = JSON.parse(readFileSync(join(out, 'unet', 'model.prune.json'), 'utf8')) as PruneRecord;
    assert.deepEqual(rec2.removed.map((x) => x.id), ['mid_block.resnets.0']);
    assert.deepEqual(listing(t.dir).filter((f) => f.includes('staging') || f.endsWith('.old')), []);
  } finally {
    t.done();
  }
});

test('prune flags: one selection, valid targets, a clear error otherwise', () => {
  const cases: [string[], RegExp][] = [
    [[DIGITS_COND], /say what to prune: --ops ID,\.\.\., --lowest K, --stack ID --k K, --target-latency -35%/],
    [[DIGITS_COND, '--ops', 'a', '--lowest', '2'], /use only one of --ops, --lowest/],
    [[DIGITS_COND, '--target-latency', '135%'], /--target-latency '135%': expected a reduction between 0% and 100%/],
    [[DIGITS_COND, '--lowest', '-1'], /--lowest '-1': expected an integer ≥ 0/],
    [[DIGITS_COND, '--ops', ','], /--ops: no candidate ids given/],
    [[join(DIGITS_COND, 'nope.onnx'), '--ops', 'x'], /nope\.onnx: does not exist/],
    [[DIGITS_COND, '--ops', 'mid_block.resnets.0', '--out', join(DIGITS_COND, '..', 'x.onnx')], /digits-cond is a pipeline, so --out names the output pipeline folder, not an \.onnx file/],
    [[DIGITS_COND, '--ops', 'mid_block.resnets.0', '--out', join(DIGITS_COND, 'inside')], /the output folder cannot be the source pipeline or inside it/],
  ];
  for (const [args, re] of cases) {
    const r = cli('prune', ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.ok(!existsSync(`${DIGITS_COND}.pruned`) && !existsSync(join(DIGITS_COND, 'inside')));
});
