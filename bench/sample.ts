// Sampling benchmark: U-Net time per step, total time and samples/s for a pipeline folder.
//
//   npx tsx bench/sample.ts [PIPELINE] [--n 32] [--steps 25] [--batch 8] [--ep cpu] [--scheduler ddim]
//
// PIPELINE defaults to examples/digits-cond. Session creation is timed apart from sampling; the
// U-Net session is wrapped so every run() is timed on its own. Prints JSON.
import { resolve } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { PipelineRunner } from '../src/core/pipeline/runner';
import { resolveConditions } from '../src/core/pipeline/conditions';
import { createScheduler, defaultSchedulerName, type SchedulerName } from '../src/core/pipeline/schedulers';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const positional = process.argv.slice(2).find((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--')));
  const pipeline = resolve(positional ?? resolve(__dirname, '..', 'examples', 'digits-cond'));
  const n = Number(flag('n', '32'));
  const steps = Number(flag('steps', '25'));
  const batchSize = Number(flag('batch', '8'));
  const ep = flag('ep', 'cpu').split(',');
  const runner = PipelineRunner.open(pipeline, { executionProviders: ep });
  try {
    const t0 = performance.now();
    const unet = await runner.unet();
    const conditional = await runner.isConditional();
    if (conditional) await runner.textEncoder();
    await runner.vaeDecoder();
    const sessionMs = performance.now() - t0;

    const unetMs: number[] = [];
    const timed = new Proxy(unet, {
      get(target, prop, receiver) {
        if (prop !== 'run') return Reflect.get(target, prop, receiver);
        return async (...args: Parameters<ort.InferenceSession['run']>) => {
          const s = performance.now();
          const out = await target.run(...args);
          unetMs.push(performance.now() - s);
          return out;
        };
      },
    });
    const cfg = runner.layout.schedulerConfig;
    const name = flag('scheduler', defaultSchedulerName(cfg)) as SchedulerName;
    const scheduler = createScheduler(name, cfg, { steps });
    const guidance = conditional ? runner.layout.ldSurgeon.guidanceScale ?? 7.5 : 1;
    const cond = await resolveConditions(runner, { kind: 'default' }, guidance);
    const t1 = performance.now();
    const gen = await runner.generate({ n, scheduler, guidance, conditioning: cond.conditioning, batchSize, unet: timed });
    const t2 = performance.now();
    await runner.decode(gen.latents, gen.shape, { batchSize });
    const t3 = performance.now();
    const sorted = [...unetMs].sort((a, b) => a - b);
    const mean = unetMs.reduce((a, b) => a + b, 0) / unetMs.length;
    const r = (v: number) => Math.round(v * 100) / 100;
    console.log(JSON.stringify({
      pipeline,
      executionProviders: ep,
      scheduler: name,
      n, steps, batchSize,
      guidance,
      unetRowsPerCall: (conditional && guidance !== 1 ? 2 : 1) * Math.min(batchSize, n),
      latentShape: gen.shape,
      sessionCreateMs: r(sessionMs),
      unetCalls: unetMs.length,
      unetMsPerCall: { mean: r(mean), p50: r(sorted[Math.floor(sorted.length / 2)]), min: r(sorted[0]), max: r(sorted[sorted.length - 1]) },
      denoiseMs: r(t2 - t1),
      schedulerOverheadMs: r(t2 - t1 - unetMs.reduce((a, b) => a + b, 0)),
      decodeMs: r(t3 - t2),
      totalMs: r(t3 - t1),
      samplesPerSec: r(n / ((t3 - t1) / 1000)),
    }, null, 1));
  } finally {
    await runner.release();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
