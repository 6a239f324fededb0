// The shipped quality metric tells good samples from bad ones: the trained conditional model's
// samples score clearly better (lower FID, higher class accuracy) than decoded pure-noise latents
// and than the same model with one U-Net block zeroed; unconditional pipelines beat noise too.
// 40 samples are few for a 64-dimensional FID (it is biased upward), but every run here uses the
// same n, so the comparisons hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PipelineRunner } from '../src/core/pipeline/runner';
import { resolveConditions } from '../src/core/pipeline/conditions';
import { createScheduler } from '../src/core/pipeline/schedulers';
import { GaussianStream, sampleSeed } from '../src/core/pipeline/noise';
import { indicativeReason, type MetricResult } from '../src/core/pipeline/metrics';
import { DIGITS_COND, EXAMPLES, editModel, tempDir, zeroInitializers } from './pipeline-fixtures';

const N = 40;
const STEPS = 20;
const ZEROED_BLOCK = 'up_blocks.1.resnets.0.';

async function noiseBaseline(runner: PipelineRunner, n: number, seed: number, labels?: (number | null)[]): Promise<MetricResult> {
  const shape = await runner.latentShape();
  const per = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n * per);
  for (let i = 0; i < n; i++) new GaussianStream(sampleSeed(seed, i)).fill(x, i * per, per);
  const dec = await runner.decode(x, [n, ...shape]);
  return (await runner.evaluate(dec.samples, dec.shape, labels))!;
}

test('conditional digits: generated samples beat decoded noise and a U-Net with a zeroed block', async (t) => {
  const runner = PipelineRunner.open(DIGITS_COND);
  const tmp = tempDir('zeroed-');
  try {
    const guidance = runner.layout.ldSurgeon.guidanceScale ?? 3;
    const cond = await resolveConditions(runner, { kind: 'default' }, guidance);
    const labels = Array.from({ length: N }, (_, i) => cond.labels![i % cond.labels!.length]);
    const scheduler = createScheduler('ddim', runner.layout.schedulerConfig, { steps: STEPS });
    const run = async (unet?: Awaited<ReturnType<PipelineRunner['createSession']>>) => {
      const gen = await runner.generate({ n: N, seed: 100, scheduler, conditioning: cond.conditioning, guidance, batchSize: 20, unet });
      const dec = await runner.decode(gen.latents, gen.shape);
      return (await runner.evaluate(dec.samples, dec.shape, labels))!;
    };
    const generated = await run();
    const noise = await noiseBaseline(runner, N, 100, labels);
    const zeroedPath = await editModel(runner.layout.unetPath, join(tmp.dir, 'model.onnx'), (m) => {
      assert.ok(zeroInitializers(m, ZEROED_BLOCK) > 0, `no initializers under ${ZEROED_BLOCK}`);
    });
    const zeroedSession = await runner.createSession(zeroedPath);
    const zeroed = await run(zeroedSession);
    await zeroedSession.release();
    for (const [k, r] of Object.entries({ generated, noise, zeroed })) {
      t.diagnostic(`${k}: FID ${r.value.toFixed(2)}, accuracy ${r.classAccuracy}`);
    }
    assert.equal(generated.metric, 'FID');
    // the trained model draws the digit it is asked for
    assert.ok(generated.classAccuracy! >= 0.9, `accuracy generated ${generated.classAccuracy}`);
    assert.ok(generated.value < 0.5 * noise.value, `FID generated ${generated.value} vs noise ${noise.value}`);
    assert.ok(generated.classAccuracy! >= noise.classAccuracy! + 0.5, `accuracy generated ${generated.classAccuracy} vs noise ${noise.classAccuracy}`);
    // one zeroed up-block ResNet: digits stay mostly legible (the reference run measured 92.5% accuracy
    // over 400 samples), so the metric has to see a moderate loss, not just garbage
    assert.ok(generated.value < 0.6 * zeroed.value, `FID generated ${generated.value} vs zeroed ${zeroed.value}`);
    assert.ok(generated.classAccuracy! > zeroed.classAccuracy!, `accuracy generated ${generated.classAccuracy} vs zeroed ${zeroed.classAccuracy}`);
  } finally {
    tmp.done();
    await runner.release();
  }
});

for (const name of ['digits-uncond', 'audio-digits']) {
  const folder = join(EXAMPLES, name);
  test(`${name}: generated samples beat decoded noise on the pipeline's metric`, { skip: !existsSync(folder) && `examples/${name} is not there` }, async (t) => {
    const runner = PipelineRunner.open(folder);
    try {
      assert.equal(await runner.isConditional(), false);
      const scheduler = createScheduler('ddim', runner.layout.schedulerConfig, { steps: 15 });
      const gen = await runner.generate({ n: 32, seed: 7, scheduler, batchSize: 16 });
      const dec = await runner.decode(gen.latents, gen.shape);
      const generated = (await runner.evaluate(dec.samples, dec.shape))!;
      const noise = await noiseBaseline(runner, 32, 7);
      t.diagnostic(`${generated.metric}: generated ${generated.value.toFixed(2)}, noise ${noise.value.toFixed(2)}`);
      assert.equal(generated.classAccuracy, undefined, 'no labels, no accuracy');
      assert.ok(generated.value < 0.7 * noise.value, `${generated.metric} generated ${generated.value} vs noise ${noise.value}`);
    } finally {
      await runner.release();
    }
  });
}

test('a metric says when it is indicative only: too few samples for its features, or a spread above 10% of it', () => {
  assert.match(indicativeReason('FID', 8, 64, 30, 4) ?? '', /^only 8 samples for 64 feature dimensions: the FID is biased upward and noisy; measure with n ≥ 200$/);
  assert.match(indicativeReason('FID', 100, 64, 9, 2) ?? '', /^±2\.0 on 100 samples/);
  assert.equal(indicativeReason('FID', 400, 64, 9.1, 0.3), undefined, '400 samples, ±3%: a real measurement');
  assert.match(indicativeReason('FID', 100, 2048, 9, undefined) ?? '', /only 100 samples for 2048 feature dimensions/);
  assert.match(indicativeReason('FAD', 150, 128, 9, undefined) ?? '', /^only 150 samples; measure with n ≥ 200$/);
});
