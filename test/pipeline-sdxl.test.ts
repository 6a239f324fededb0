// A synthetic SDXL pipeline in Optimum's export layout (test/helpers/sdxl-pipeline.ts): two text encoders with per-layer
// `hidden_states.N` outputs (encoder 2 also `text_embeds`), two tokenizers, and a U-Net taking
// encoder_hidden_states, text_embeds and time_ids whose output has a closed form. The conditions
// are checked against a hand reference (concat order, penultimate layer, pooled, time_ids, zeros for
// the empty prompt) and the sampling loop against an independent loop written in the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseNpy, readNpyFloat32 } from '../src/core/npy';
import { PipelineRunner } from '../src/core/pipeline/runner';
import { checkConditionsForPipeline, resolveConditions } from '../src/core/pipeline/conditions';
import { readPipelineLayout } from '../src/core/pipeline/layout';
import { createScheduler } from '../src/core/pipeline/schedulers';
import { GaussianStream } from '../src/core/pipeline/noise';
import { UserError } from '../src/core/errors';
import { unetFeeds } from '../src/core/prune/compare';
import { conditionNpys } from '../src/core/pipeline/condition-embeddings';
import { buildSdxl, D1, D2, L, P, reference } from './helpers/sdxl-pipeline';
import { tempDir } from './pipeline-fixtures';

/** An untrained SDXL-shaped U-Net exported by training/unet.py (text_time added conditions, transformer depths (1, 2)). */
const SDXL_UNET = resolve(__dirname, 'fixtures', 'sdxl-unet');

const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 1e-5) => {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

test('SDXL conditions: encoder 1 then 2 on the feature axis (penultimate layers), pooled text_embeds, zeros for the empty prompt', async () => {
  const t = tempDir('sdxl-');
  try {
    const runner = PipelineRunner.open(await buildSdxl(t.dir));
    try {
      const prompts = ['ABC', 'a b'];
      const { conditioning: c } = await resolveConditions(runner, { kind: 'prompts', prompts }, 3);
      assert.ok(c && c.added);
      assert.deepEqual([c.count, c.seqLen, c.dim, c.added.pooledDim], [2, L, D1 + D2, P]);
      const tok = runner.tokenizer();
      prompts.forEach((p, k) => {
        const r = reference(tok.encode(p));
        close(c.embeddings.subarray(k * L * (D1 + D2), (k + 1) * L * (D1 + D2)), r.hidden, `prompt_embeds of "${p}"`);
        close(c.added!.textEmbeds.subarray(k * P, (k + 1) * P), r.pooled, `text_embeds of "${p}"`);
      });
      // force_zeros_for_empty_prompt defaults to true, as in StableDiffusionXLPipeline
      assert.ok(c.uncond!.every((v) => v === 0) && c.uncond!.length === L * (D1 + D2));
      assert.deepEqual([...c.added.uncondTextEmbeds!], [0, 0]);
    } finally {
      await runner.release();
    }

    rmSync(join(t.dir, 'sdxl'), { recursive: true });
    const off = PipelineRunner.open(await buildSdxl(t.dir, { force_zeros_for_empty_prompt: false }));
    try {
      const { conditioning: c } = await resolveConditions(off, { kind: 'prompts', prompts: ['a'] }, 3);
      const r = reference(off.tokenizer().encode(''));
      close(c!.uncond!, r.hidden, 'negative prompt_embeds (encoded empty prompt)');
      close(c!.added!.uncondTextEmbeds!, r.pooled, 'negative text_embeds');
    } finally {
      await off.release();
    }
  } finally {
    t.done();
  }
});

test('SDXL sampling feeds text_embeds and time_ids per row under guidance, equal to a hand loop; a U-Net needing them without text_encoder_2 is refused', async () => {
  const t = tempDir('sdxl-gen-');
  try {
    const p = await buildSdxl(t.dir, { ld_surgeon: { crops_coords_top_left: [2, 4] } });
    const runner = PipelineRunner.open(p);
    const shape = [4, 6, 4];
    const prompts = ['ABC', 'a b'];
    const G = 2;
    const n = 3;
    let latents: Float32Array;
    try {
      const { conditioning } = await resolveConditions(runner, { kind: 'prompts', prompts }, G);
      const gen = () => runner.generate({ n, seed: 5, scheduler: createScheduler('euler', runner.layout.schedulerConfig, { steps: 4 }), conditioning, guidance: G, batchSize: 2, latentShape: shape });
      latents = (await gen()).latents;
      assert.deepEqual(latents, (await gen()).latents, 'deterministic');

      // time_ids: original (12, 8) px = latent 6×4 × the VAE's factor 2, crops (2, 4) from ld_surgeon, target (12, 8)
      const tidMean = (12 + 8 + 2 + 4 + 12 + 8) / 6;
      const tok = runner.tokenizer();
      const per = shape[0] * shape[1] * shape[2];
      const ref = createScheduler('euler', runner.layout.schedulerConfig, { steps: 4 });
      for (let i = 0; i < n; i++) {
        const r = reference(tok.encode(prompts[i % 2]));
        const mc = r.hidden.reduce((a, b) => a + b, 0) / r.hidden.length + 0.1 * (r.pooled[0] + r.pooled[1]) / 2 + 0.001 * tidMean;
        const mu = 0.001 * tidMean; // zeros for the empty prompt; time_ids in both halves
        const x = new GaussianStream(5 + i).fill(new Float32Array(per));
        for (let j = 0; j < per; j++) x[j] *= ref.initNoiseSigma;
        for (const ts of ref.timesteps) {
          const s = ref.inputScale(ts);
          const eps = x.map((v) => {
            const base = 0.5 * v * s;
            return base + mu + G * (mc - mu);
          });
          ref.step(eps, ts, x, { out: x });
        }
        close(latents.subarray(i * per, (i + 1) * per), x, `sample ${i}`, 1e-4);
      }
      assert.notDeepEqual(latents.subarray(0, per), latents.subarray(per, 2 * per), 'different prompts, different latents');

      // the latency checks of prune and score feed the same inputs through unetFeeds
      const unet = await runner.unet();
      const feeds = unetFeeds(runner, unet, 4, shape, 10, conditioning, true);
      assert.deepEqual(feeds.text_embeds.dims, [4, P]);
      assert.deepEqual([...(feeds.time_ids.data as Float32Array).subarray(0, 6)], [12, 8, 2, 4, 12, 8]);
      await unet.run(feeds);
    } finally {
      await runner.release();
    }

    // the distillation trainer's arrays: the hidden states and, for SDXL, the pooled text_embeds of the same rows
    const npys = (await conditionNpys(p, { kind: 'prompts', prompts: ['a', 'a b'] }))!;
    const hidden = parseNpy(npys.hidden);
    const pooled = parseNpy(npys.textEmbeds!);
    assert.deepEqual([hidden.shape, pooled.shape], [[2, L, D1 + D2], [2, P]]);
    const r3 = PipelineRunner.open(p);
    try {
      const c = await r3.encodePrompts(['a', 'a b']);
      assert.deepEqual([...(pooled.data as Float32Array)], [...c.added!.textEmbeds]);
      assert.deepEqual([...(hidden.data as Float32Array)], [...c.embeddings]);
    } finally {
      await r3.release();
    }

    assert.throws(() => checkConditionsForPipeline(readPipelineLayout(p), { kind: 'ids', ids: [[0, 5, 1]] }), /SDXL pipeline .* token ids carry no pooled text embedding/);
    checkConditionsForPipeline(readPipelineLayout(p), { kind: 'prompts', prompts: ['a b'] });

    const lacking = join(t.dir, 'no-te2');
    cpSync(p, lacking, { recursive: true });
    rmSync(join(lacking, 'text_encoder_2'), { recursive: true });
    const r2 = PipelineRunner.open(lacking);
    try {
      const { conditioning } = await resolveConditions(r2, { kind: 'prompts', prompts: ['a'] }, 1);
      await assert.rejects(
        r2.generate({ n: 1, scheduler: createScheduler('euler', r2.layout.schedulerConfig, { steps: 2 }), conditioning, latentShape: shape }),
        (e: Error) => e instanceof UserError && /text_embeds/.test(e.message) && /text_encoder_2/.test(e.message),
      );
    } finally {
      await r2.release();
    }
  } finally {
    t.done();
  }
});

test('SDXL through the CLI: sample with prompts and guidance gives the runner\'s latents (decoded by the identity VAE)', async () => {
  const t = tempDir('sdxl-cli-');
  try {
    const p = await buildSdxl(t.dir);
    const root = resolve(__dirname, '..');
    const out = join(t.dir, 'out');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'sample', p, '--height', '12', '--width', '8',
      '--n', '2', '--steps', '3', '--scheduler', 'euler', '--guidance', '3', '--seed', '7', '--prompt', 'ABC', '--prompt', 'a b', '--out', out], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { shape, data } = readNpyFloat32(join(out, 'samples.npy'));
    assert.deepEqual(shape, [2, 4, 12 / 2, 8 / 2]);
    const runner = PipelineRunner.open(p);
    try {
      const { conditioning } = await resolveConditions(runner, { kind: 'prompts', prompts: ['ABC', 'a b'] }, 3);
      const gen = await runner.generate({ n: 2, seed: 7, scheduler: createScheduler('euler', runner.layout.schedulerConfig, { steps: 3 }), conditioning, guidance: 3, latentShape: [4, 6, 4] });
      close(data, gen.latents.map((v) => v / 0.5), 'CLI samples vs runner latents / scaling_factor', 1e-4);
    } finally {
      await runner.release();
    }
  } finally {
    t.done();
  }
});

test('SDXL-shaped U-Net through the CLI: score (transformer blocks of depth-2 stacks are candidates) → prune → sample the pruned pipeline', async () => {
  const t = tempDir('sdxl-e2e-');
  try {
    const p = await buildSdxl(t.dir, { ld_surgeon: { prompts: ['ABC', 'a b'], guidance_scale: 2 } }, SDXL_UNET);
    const root = resolve(__dirname, '..');
    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), ...args], { cwd: root, encoding: 'utf8' });
      assert.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
      return r.stdout;
    };
    const scores = join(t.dir, 'scores.json');
    cli('score', p, '--samples', '2', '--steps', '2', '--granularity', 'block', '--no-profile', '--out', scores);
    const s = JSON.parse(readFileSync(scores, 'utf8'));
    const ids: string[] = (s.candidates ?? s.scores ?? []).map((c: { id: string }) => c.id);
    assert.ok(ids.includes('down_blocks.1.attentions.0.transformer_blocks.1'), `candidates: ${ids.slice(0, 20).join(', ')}`);
    const pruned = join(t.dir, 'pruned');
    cli('prune', p, '--scores', scores, '--lowest', '2', '--out', pruned, '--samples', '2', '--steps', '2', '--latency-seconds', '0.2', '--no-metric');
    const out = join(t.dir, 'samples');
    cli('sample', pruned, '--n', '2', '--steps', '2', '--out', out);
    const { shape, data } = readNpyFloat32(join(out, 'samples.npy'));
    assert.deepEqual(shape, [2, 4, 8, 8]);
    assert.ok(data.every(Number.isFinite));
  } finally {
    t.done();
  }
});
