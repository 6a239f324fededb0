// core/pipeline/quality.ts: the pipeline's metric with n and spread, paired measurements (same seeds →
// same numbers; a pipeline against itself → distance 0), a swapped-in U-Net, no metric without
// metrics/metric.json, and a refused comparison of different latent shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { compareQuality, latentDistance, measureQuality } from '../src/core/pipeline/quality';
import { UserError } from '../src/core/errors';
import { copyPipeline, editModel, EXAMPLES, tempDir, zeroInitializers } from './pipeline-fixtures';

const UNCOND = join(EXAMPLES, 'digits-uncond');
const QUICK = { n: 6, steps: 2, seed: 3 };

test('a pipeline measured against itself: equal metrics, latent distance 0; a second run gives the same numbers', async () => {
  const c = await compareQuality(UNCOND, UNCOND, QUICK);
  assert.equal(c.original.metric?.name, 'FID');
  assert.equal(c.original.metric?.n, 6);
  assert.ok(c.original.metric!.spread! > 0);
  assert.match(c.original.metric!.indicative ?? '', /only 6 samples for 64 feature dimensions/);
  assert.deepEqual(c.candidate.metric, c.original.metric);
  assert.equal(c.latentDistance.score, 0);
  assert.equal(c.latentDistance.identical, true);
  assert.deepEqual(c.original.latentShape, [6, 4, 8, 8]);

  const again = await measureQuality(UNCOND, QUICK);
  assert.deepEqual(again.metric, c.original.metric);
  assert.deepEqual(latentDistance(c.original, again).score, 0);
  // another seed is another draw: not paired with the first
  const other = await measureQuality(UNCOND, { ...QUICK, seed: 4 });
  assert.notEqual(other.metric!.value, c.original.metric!.value);
  assert.throws(() => latentDistance(c.original, other), /not paired/);
});

test('a U-Net swapped into the pipeline is measured paired with the original', async () => {
  const t = tempDir('quality-unet-');
  try {
    const unet = await editModel(join(UNCOND, 'unet', 'model.onnx'), join(t.dir, 'unet.onnx'), (m) => {
      assert.ok(zeroInitializers(m, 'up_blocks.1.resnets.') > 0);
    });
    const c = await compareQuality(UNCOND, { pipeline: UNCOND, unetPath: unet }, QUICK);
    assert.equal(c.candidate.unet, unet);
    assert.ok(c.latentDistance.score > 0 && !c.latentDistance.identical);
    assert.notEqual(c.candidate.metric!.value, c.original.metric!.value);
    // measured alone with the same settings, it is the same draw
    const alone = await measureQuality({ pipeline: UNCOND, unetPath: unet }, QUICK);
    assert.equal(alone.metric!.value, c.candidate.metric!.value);
    assert.equal(latentDistance(c.original, alone).score, c.latentDistance.score);
  } finally {
    t.done();
  }
});

test('a pipeline without metrics/metric.json: no metric, the reason, and the latent distance still', async () => {
  const t = tempDir('quality-nometric-');
  try {
    const p = copyPipeline(UNCOND, t.dir);
    rmSync(join(p, 'metrics'), { recursive: true });
    const c = await compareQuality(UNCOND, p, QUICK);
    assert.equal(c.candidate.metric, undefined);
    assert.match(c.candidate.noMetric ?? '', /ships no metrics\/metric\.json/);
    assert.ok(c.original.metric);
    assert.equal(c.latentDistance.score, 0);
  } finally {
    t.done();
  }
});

test('pipelines with different latent shapes are refused before sampling, naming the file', async () => {
  await assert.rejects(compareQuality(UNCOND, join(EXAMPLES, 'audio-digits'), QUICK), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /audio-digits.*latents are \[4,16,16\].*\[4,8,8\]/);
    return true;
  });
});
