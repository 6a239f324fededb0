import { join } from 'node:path';
import { PipelineRunner } from '../src/core/pipeline/runner';
import { resolveConditions } from '../src/core/pipeline/conditions';
import { createScheduler } from '../src/core/pipeline/schedulers';
import { DIGITS_COND, editModel, tempDir, zeroInitializers } from './pipeline-fixtures';
(async () => {
  const runner = PipelineRunner.open(DIGITS_COND);
  const tmp = tempDir('z-');
  const N = 40;
  const cond = await resolveConditions(runner, { kind: 'default' }, 3);
  const labels = Array.from({ length: N }, (_, i) => cond.labels![i % 10]);
  const scheduler = createScheduler('ddim', runner.layout.schedulerConfig, { steps: 20 });
  const run = async (unet?: any) => {
    const gen = await runner.generate({ n: N, seed: 100, scheduler, conditioning: cond.conditioning, guidance: 3, batchSize: 20, unet });
    const dec = await runner.decode(gen.latents, gen.shape);
    return (await runner.evaluate(dec.samples, dec.shape, labels))!;
  };
  const g = await run();
  console.log('generated', g.value.toFixed(2), g.classAccuracy);
  for (const p of process.argv.slice(2)) {
    const path = await editModel(runner.layout.unetPath, join(tmp.dir, p + 'model.onnx'), (m) => console.log(p, zeroInitializers(m, p)));
    const s = await runner.createSession(path);
    const r = await run(s);
    console.log(p, r.value.toFixed(2), r.classAccuracy);
  }
  tmp.done();
  await runner.release();
})();
