// The TS sampler against reference runs of a pure-PyTorch DDIM/DDPM loop over the same weights
// (test/fixtures/golden/<pipeline>.json, written by training/make_golden.py): fed the same x_T
// (and, for DDPM, the same per-step noise), the final latents must agree to within
// |ts − torch| ≤ 5e-4 + 5e-4·|torch| per element: ONNX Runtime and PyTorch kernels round
// float32 differently (observed max |diff| ≈ 1e-5 after 10 steps on the quick digits model).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { PipelineRunner, type Conditioning } from '../src/core/pipeline/runner';
import { createScheduler, type SchedulerName } from '../src/core/pipeline/schedulers';
import { EXAMPLES } from './pipeline-fixtures';

const GOLDEN = resolve(__dirname, 'fixtures', 'golden');
const ATOL = 5e-4;
const RTOL = 5e-4;

interface Arr { shape: number[]; data: number[] }
interface Golden {
  x_T: Arr;
  conditioning?: {
    prompts: string[]; input_ids: number[][]; uncond_input_ids: number[]; guidance_scale: number;
    encoder_hidden_states_cond: Arr; encoder_hidden_states_uncond: Arr;
  };
  first_step: { timestep: number; unet_out_sample: Arr };
  runs: { scheduler: string; num_inference_steps: number; timesteps: number[]; eta?: number; step_noise?: Arr; final_latents: Arr }[];
  decoded_sample_0?: { classifier_logits: Arr; predicted_class: number };
}

function compare(got: Float32Array, want: Arr, what: string, atol = ATOL, rtol = RTOL): number {
  assert.equal(got.length, want.data.length, `${what}: ${got.length} values vs ${want.data.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const excess = Math.abs(got[i] - want.data[i]) - (atol + rtol * Math.abs(want.data[i]));
    if (excess > worst || at < 0) {
      worst = Math.max(worst, excess);
      at = i;
    }
  }
  const maxAbs = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want.data[i])), 0);
  assert.ok(worst <= 0, `${what}: element ${at} is ${got[at]}, reference ${want.data[at]} (max |diff| ${maxAbs})`);
  return maxAbs;
}

for (const name of ['digits-cond', 'digits-uncond', 'audio-digits']) {
  const folder = join(EXAMPLES, name);
  test(`golden: ${name} matches the PyTorch reference loop`, { skip: !existsSync(folder) && `examples/${name} is not there` }, async (t) => {
    const file = join(GOLDEN, `${name}.json`);
    assert.ok(existsSync(file), `${file} is missing: run training/make_golden.py ${name}`);
    const g = JSON.parse(readFileSync(file, 'utf8')) as Golden;
    const runner = PipelineRunner.open(folder);
    try {
      const xT = Float32Array.from(g.x_T.data);
      const [n, ...latent] = g.x_T.shape;
      assert.deepEqual(await runner.latentShape(), latent);
      const per = latent.reduce((a, b) => a * b, 1);

      let conditioning: Conditioning | undefined;
      let guidance = 1;
      if (g.conditioning) {
        const c = g.conditioning;
        const tok = runner.tokenizer();
        assert.deepEqual(c.prompts.map((p) => tok.encode(p)), c.input_ids, 'tokenizer ids');
        assert.deepEqual(tok.encode(''), c.uncond_input_ids, 'empty-prompt ids');
        conditioning = await runner.encodePrompts(c.prompts);
        compare(conditioning.embeddings, c.encoder_hidden_states_cond, 'text encoder (cond)', 1e-4, 1e-4);
        compare(conditioning.uncond!, { shape: [], data: c.encoder_hidden_states_uncond.data.slice(0, conditioning.uncond!.length) }, 'text encoder (uncond)', 1e-4, 1e-4);
        guidance = c.guidance_scale;
      }

      // one raw U-Net call, to tell a U-Net mismatch from a sampler one
      const unet = await runner.unet();
      const t0 = g.first_step.timestep;
      const rows = conditioning && guidance !== 1 ? 2 * n : n;
      const feeds: Record<string, ort.Tensor> = {
        sample: new ort.Tensor('float32', rows === n ? xT : Float32Array.from([...xT, ...xT]), [rows, ...latent]),
        timestep: new ort.Tensor('float32', new Float32Array(rows).fill(t0), [rows]),
      };
      if (conditioning) {
        const L = conditioning.seqLen * conditioning.dim;
        const ehs = new Float32Array(rows * L);
        for (let i = 0; i < n; i++) {
          ehs.set(conditioning.uncond!, i * L);
          ehs.set(conditioning.embeddings.subarray(i * L, (i + 1) * L), (n + i) * L);
        }
        feeds.encoder_hidden_states = new ort.Tensor('float32', ehs, [rows, conditioning.seqLen, conditioning.dim]);
      }
      const raw = (await unet.run(feeds)).out_sample.data as Float32Array;
      compare(raw, g.first_step.unet_out_sample, 'first U-Net call');

      for (const run of g.runs) {
        const kind: SchedulerName = run.scheduler === 'DDPMScheduler' ? 'ddpm' : 'ddim';
        const scheduler = createScheduler(kind, runner.layout.schedulerConfig, { steps: run.num_inference_steps, eta: run.eta });
        assert.deepEqual(scheduler.timesteps, run.timesteps, `${kind} timesteps`);
        const stepNoise = run.step_noise ? Float32Array.from(run.step_noise.data) : undefined;
        const out = await runner.generate({
          n, scheduler, noise: xT, conditioning, guidance, batchSize: n,
          stepNoise: stepNoise && ((step, index, dst) => dst.set(stepNoise.subarray((step * n + index) * per, (step * n + index + 1) * per))),
        });
        const maxAbs = compare(out.latents, run.final_latents, `${kind} final latents`);
        t.diagnostic(`${name} ${kind}: max |ts - torch| = ${maxAbs.toExponential(2)}`);
        if (kind === 'ddim' && g.decoded_sample_0) {
          const dec = await runner.decode(out.latents.subarray(0, per), [1, ...latent]);
          const spec = runner.metricSpec()!;
          const { classify } = await import('../src/core/pipeline/metrics');
          const cls = await classify(spec, await runner.createSession(spec.classifierPath), dec.samples, dec.shape);
          compare(cls.logits, g.decoded_sample_0.classifier_logits, 'classifier logits of decoded sample 0', 1e-2, 1e-2);
          const best = cls.logits.indexOf(Math.max(...cls.logits));
          assert.equal(best, g.decoded_sample_0.predicted_class);
        }
      }
    } finally {
      await runner.release();
    }
  });
}
