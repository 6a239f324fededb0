// A synthetic pipeline in the real Stable Diffusion export layout, built here: dynamic latent
// size, an int64 scalar timestep, a CLIP BPE tokenizer and text encoder, an RGB VAE decoder
// that upsamples 2×, no metric. The toy U-Net's output has a closed form, so the whole sampling
// loop (guidance batching, timestep feeding, per-sample conditions) is checked against an
// independent loop written in the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { writeModel } from '../src/core/onnx/writer';
import { ElemType } from '../src/core/onnx/types';
import { PipelineRunner } from '../src/core/pipeline/runner';
import { resolveConditions } from '../src/core/pipeline/conditions';
import { createScheduler } from '../src/core/pipeline/schedulers';
import { GaussianStream } from '../src/core/pipeline/noise';
import { readNpyFloat32 } from '../src/core/npy';
import { UserError } from '../src/core/errors';
import { GraphBuilder } from './helpers/graph-builder';
import { tempDir } from './pipeline-fixtures';

const D = 6;
const VOCAB: Record<string, number> = {
  '<|startoftext|>': 0, '<|endoftext|>': 1, a: 2, b: 3, c: 4, 'a</w>': 5, 'b</w>': 6, 'c</w>': 7, ab: 8, 'abc</w>': 9,
};
const TABLE = Array.from({ length: Object.keys(VOCAB).length * D }, (_, i) => Math.sin(i * 0.77) * 0.5);

async function buildPipeline(dir: string, opts: { fp16?: boolean } = {}): Promise<string> {
  const p = join(dir, opts.fp16 ? 'sd-fp16' : 'sd');
  for (const sub of ['unet', 'vae_decoder', 'text_encoder', 'tokenizer', 'scheduler']) mkdirSync(join(p, sub), { recursive: true });
  // U-Net: ε = 0.5·sample + 0.001·float(t) + mean(encoder_hidden_states[b]); half-precision I/O with fp16
  const u = new GraphBuilder('unet');
  const io = opts.fp16 ? ElemType.FLOAT16 : ElemType.FLOAT;
  u.input('sample', ['batch', 4, 'height', 'width'], io);
  u.input('timestep', [], ElemType.INT64);
  u.input('encoder_hidden_states', ['batch', 'sequence', D], io);
  const f32 = (x: string) => (opts.fp16 ? u.node('Cast', [x], { attrs: { to: ElemType.FLOAT } }) : x);
  const half = u.weight('half', [], [0.5]);
  const milli = u.weight('milli', [], [0.001]);
  const tf = u.node('Cast', ['timestep'], { attrs: { to: ElemType.FLOAT } });
  const ts = u.node('Mul', [tf, milli]);
  const m = u.node('ReduceMean', [f32('encoder_hidden_states')], { attrs: { axes: [1, 2], keepdims: 1 } });
  const m4 = u.node('Unsqueeze', [m, u.ints('axis3', [3])]);
  const xs = u.node('Mul', [f32('sample'), half]);
  const sum = u.node('Add', [u.node('Add', [xs, ts]), m4], opts.fp16 ? {} : { outputs: ['out_sample'] });
  if (opts.fp16) u.node('Cast', [sum], { outputs: ['out_sample'], attrs: { to: ElemType.FLOAT16 } });
  u.output('out_sample', ['batch', 4, 'height', 'width'], io);
  await writeModel(u.model(), join(p, 'unet', 'model.onnx'), { durable: false });
  // text encoder: a lookup table
  const te = new GraphBuilder('text');
  te.input('input_ids', ['batch', 'sequence'], ElemType.INT64);
  te.node('Gather', [te.weight('table', [Object.keys(VOCAB).length, D], TABLE), 'input_ids'], { outputs: ['last_hidden_state'] });
  te.output('last_hidden_state', ['batch', 'sequence', D]);
  await writeModel(te.model(), join(p, 'text_encoder', 'model.onnx'), { durable: false });
  // VAE decoder: 1×1 conv 4 → 3 channels, then nearest 2× upsampling
  const v = new GraphBuilder('vae');
  v.input('latent_sample', ['batch', 4, 'height', 'width']);
  const w = v.weight('w', [3, 4, 1, 1], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
  const conv = v.node('Conv', ['latent_sample', w]);
  v.node('Resize', [conv, '', v.weight('scales', [4], [1, 1, 2, 2])], { outputs: ['sample'], attrs: { mode: 'nearest' } });
  v.output('sample', ['batch', 3, 'h2', 'w2']);
  await writeModel(v.model(), join(p, 'vae_decoder', 'model.onnx'), { durable: false });
  writeFileSync(join(p, 'vae_decoder', 'config.json'), JSON.stringify({ block_out_channels: [8, 8], scaling_factor: 0.5 }));
  writeFileSync(join(p, 'tokenizer', 'vocab.json'), JSON.stringify(VOCAB));
  writeFileSync(join(p, 'tokenizer', 'merges.txt'), '#version: 0.2\na b\nab c</w>\n');
  writeFileSync(join(p, 'tokenizer', 'tokenizer_config.json'), JSON.stringify({ model_max_length: 5 }));
  writeFileSync(join(p, 'scheduler', 'scheduler_config.json'), JSON.stringify({
    _class_name: 'PNDMScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, steps_offset: 1,
    set_alpha_to_one: false, skip_prk_steps: true, clip_sample: false,
  }));
  writeFileSync(join(p, 'model_index.json'), JSON.stringify({ _class_name: 'OnnxStableDiffusionPipeline' }));
  return p;
}

test('SD layout: dynamic latent size from --height/--width, int64 scalar timestep, CLIP prompts, guidance', async () => {
  const t = tempDir('sd-layout-');
  const p = await buildPipeline(t.dir);
  const runner = PipelineRunner.open(p);
  try {
    await assert.rejects(runner.latentShape(), (e: Error) => e instanceof UserError && /pass --height and --width/.test(e.message));
    await assert.rejects(runner.latentShape({ height: 13, width: 8 }), /multiple of 2/);
    const shape = await runner.latentShape({ height: 12, width: 8 });
    assert.deepEqual(shape, [4, 6, 4]);

    const prompts = ['ABC', 'a b'];
    const G = 2.5;
    const { conditioning } = await resolveConditions(runner, { kind: 'prompts', prompts }, G);
    assert.equal(conditioning!.seqLen, 5);
    const scheduler = createScheduler('ddim', runner.layout.schedulerConfig, { steps: 5 });
    assert.deepEqual(scheduler.timesteps, [801, 601, 401, 201, 1]);
    const n = 3;
    const gen = await runner.generate({ n, seed: 9, scheduler, conditioning, guidance: G, batchSize: 2, latentShape: shape });

    // the same loop by hand: rows of the table for the CLIP ids, ε from the U-Net's closed form
    const mean = (ids: number[]) => ids.reduce((s, id) => s + TABLE.slice(id * D, (id + 1) * D).reduce((a, b) => a + b, 0), 0) / (ids.length * D);
    const tok = runner.tokenizer();
    assert.deepEqual(tok.encode('ABC'), [0, 9, 1, 1, 1]);
    const mu = mean(tok.encode(''));
    const per = 4 * 6 * 4;
    const ref = createScheduler('ddim', runner.layout.schedulerConfig, { steps: 5 });
    for (let i = 0; i < n; i++) {
      const mc = mean(tok.encode(prompts[i % 2]));
      const x = new GaussianStream(9 + i).fill(new Float32Array(per));
      for (const ts of ref.timesteps) {
        const eps = x.map((v) => {
          const base = 0.5 * v + 0.001 * ts;
          return base + mu + G * (base + mc - (base + mu));
        });
        ref.step(eps, ts, x, { out: x });
      }
      x.forEach((v, k) => assert.ok(Math.abs(v - gen.latents[i * per + k]) < 1e-4, `sample ${i} element ${k}: ${gen.latents[i * per + k]} vs ${v}`));
    }
    const dec = await runner.decode(gen.latents, gen.shape);
    assert.deepEqual(dec.shape, [3, 3, 12, 8]);
    // channel 0 of the top-left pixel is latent channel 0 / scaling_factor
    assert.ok(Math.abs(dec.samples[0] - gen.latents[0] / 0.5) < 1e-5);
  } finally {
    await runner.release();
    t.done();
  }
});

test('SD layout through the CLI: RGB grid, generic default prompts, no metric without metrics/', () => {
  const t = tempDir('sd-cli-');
  return buildPipeline(t.dir).then((p) => {
    try {
      const out = join(t.dir, 'out');
      const root = resolve(__dirname, '..');
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'sample', p,
        '--height', '12', '--width', '8', '--n', '3', '--steps', '3', '--out', out], { cwd: root, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /FID/);
      assert.ok(!existsSync(join(out, 'metrics.json')));
      assert.deepEqual(readNpyFloat32(join(out, 'samples.npy')).shape, [3, 3, 12, 8]);
      const cond = JSON.parse(readFileSync(join(out, 'conditions.json'), 'utf8'));
      assert.equal(cond.scheduler.name, 'ddim', 'PNDM configs sample with DDIM');
      assert.equal(cond.guidance, 7.5, 'SD\'s customary guidance when the pipeline names none');
      assert.equal(cond.conditions.prompts.length, 8);
      // 2 columns of 12×8 tiles upscaled 5× (to reach 64 px), RGB
      const png = PNG.sync.read(readFileSync(join(out, 'samples.png')));
      assert.equal(png.width, 2 * 8 * 5 + 2);
      assert.equal(png.height, 2 * 12 * 5 + 2);
      const s = readNpyFloat32(join(out, 'samples.npy')).data;
      const byte = (v: number) => Math.round((Math.min(Math.max(v, -1), 1) + 1) * 127.5);
      assert.deepEqual([png.data[0], png.data[1], png.data[2]], [byte(s[0]), byte(s[96]), byte(s[192])]);
    } finally {
      t.done();
    }
  });
});

test('SD layout with a half-precision U-Net: float16 inputs and outputs are converted on the way', async () => {
  const t = tempDir('sd-fp16-');
  const [p32, p16] = [await buildPipeline(t.dir), await buildPipeline(t.dir, { fp16: true })];
  const [r32, r16] = [PipelineRunner.open(p32), PipelineRunner.open(p16)];
  try {
    const sample = (await r16.unet()).inputMetadata.find((m) => m.name === 'sample') as { type?: string } | undefined;
    assert.equal(sample?.type, 'float16');
    const run = async (r: PipelineRunner) => {
      const { conditioning } = await resolveConditions(r, { kind: 'prompts', prompts: ['abc'] }, 2);
      const scheduler = createScheduler('ddim', r.layout.schedulerConfig, { steps: 4 });
      return (await r.generate({ n: 2, seed: 1, scheduler, conditioning, guidance: 2, latentShape: [4, 6, 4] })).latents;
    };
    const [a, b] = [await run(r32), await run(r16)];
    // fp16 keeps ~3 significant digits per U-Net call
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-2 * (1 + Math.abs(v)), `element ${i}: fp32 ${v}, fp16 ${b[i]}`));
    assert.ok(a.some((v, i) => v !== b[i]), 'the fp16 path really ran in half precision');
  } finally {
    await r32.release();
    await r16.release();
    t.done();
  }
});
