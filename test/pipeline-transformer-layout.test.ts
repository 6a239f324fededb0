// A pipeline whose denoiser is transformer/model.onnx (diffusers' DiT / PixArt / SD3 layout: model_index.json
// names a `transformer`, no `unet`) goes through layout, roles, scoring targets, sample and prune like a
// U-Net pipeline; the output keeps the transformer/ layout. Built from the committed digits-uncond example
// with its denoiser moved to transformer/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { denoiserModelPath, modelFileOf, readPipelineLayout } from '../src/core/pipeline/layout';
import { modelRole, requireDenoiser } from '../src/core/pipeline/model-role';
import { resolveTarget } from '../src/core/scoring/target';
import { planDistillOutput } from '../src/core/distill/output';
import type { PruneRecord } from '../src/core/prune';
import { copyPipeline, EXAMPLES, tempDir } from './pipeline-fixtures';

const ROOT = resolve(__dirname, '..');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function transformerPipeline(dir: string): string {
  const p = copyPipeline(join(EXAMPLES, 'digits-uncond'), dir);
  renameSync(join(p, 'unet'), join(p, 'transformer'));
  const index = JSON.parse(readFileSync(join(p, 'model_index.json'), 'utf8')) as Record<string, unknown>;
  delete index.unet;
  index.transformer = ['diffusers', 'OnnxRuntimeModel'];
  writeFileSync(join(p, 'model_index.json'), JSON.stringify(index));
  return p;
}

test('transformer/model.onnx is the denoiser of a pipeline that names a transformer', () => {
  const t = tempDir('dit-layout-');
  try {
    const p = transformerPipeline(t.dir);
    const model = join(p, 'transformer', 'model.onnx');
    assert.equal(readPipelineLayout(p).unetPath, model);
    assert.equal(modelFileOf(p), model);
    assert.deepEqual(resolveTarget(p), { kind: 'pipeline', pipeline: p, modelPath: model });
    assert.deepEqual(resolveTarget(model), { kind: 'pipeline', pipeline: p, modelPath: model });
    assert.equal(modelRole(model).role, 'denoiser');
    assert.throws(() => requireDenoiser(join(p, 'vae_decoder', 'model.onnx'), 'Prune'), (e: Error) => e.message.includes(`works on the denoiser (${model})`));
    const plan = planDistillOutput(p, join(t.dir, 'distilled'));
    assert.equal(plan.kind === 'pipeline' && plan.studentModel, model);

    // both folders there: model_index.json decides
    copyPipeline(join(EXAMPLES, 'digits-uncond'), join(t.dir, 'both'));
    const both = join(t.dir, 'both', 'pipeline');
    renameSync(join(p, 'transformer'), join(both, 'transformer'));
    assert.equal(denoiserModelPath(both), join(both, 'unet', 'model.onnx'), 'model_index names unet');
    const index = JSON.parse(readFileSync(join(both, 'model_index.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(both, 'model_index.json'), JSON.stringify({ ...index, unet: [null, null], transformer: ['diffusers', 'OnnxRuntimeModel'] }));
    assert.equal(denoiserModelPath(both), join(both, 'transformer', 'model.onnx'), 'model_index names transformer');
  } finally {
    t.done();
  }
});

test('sample and prune work on a transformer/ pipeline; the pruned folder keeps the layout and samples', () => {
  const t = tempDir('dit-cli-');
  try {
    const p = transformerPipeline(t.dir);
    const s = cli('sample', p, '--n', '2', '--steps', '2', '--no-metrics', '--out', join(t.dir, 'samples'));
    assert.equal(s.code, 0, s.stderr);
    assert.ok(existsSync(join(t.dir, 'samples', 'latents.npy')) && existsSync(join(t.dir, 'samples', 'samples.png')), s.stdout);

    const r = cli('prune', p, '--ops', 'mid_block.resnets.1', '--json', '--samples', '4', '--steps', '2', '--latency-seconds', '0.3', '--ep', 'cpu', '--no-metric');
    assert.equal(r.code, 0, r.stderr);
    const rec = JSON.parse(r.stdout) as PruneRecord;
    const out = join(t.dir, 'pipeline.pruned');
    assert.equal(rec.output.record, join(out, 'transformer', 'model.prune.json'));
    assert.ok(existsSync(join(out, 'transformer', 'model.onnx')) && !existsSync(join(out, 'unet')));
    for (const c of rec.checks) assert.notEqual(c.status, 'failed', `${c.name}: ${c.detail}`);
    assert.ok(rec.checks.some((c) => c.status === 'passed'));
    const again = cli('sample', out, '--n', '2', '--steps', '2', '--no-metrics', '--out', join(t.dir, 'pruned-samples'));
    assert.equal(again.code, 0, again.stderr);
  } finally {
    t.done();
  }
});
