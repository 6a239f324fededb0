// A synthetic SDXL pipeline in Optimum's export layout, built here: two text encoders with per-layer
// `hidden_states.N` outputs (encoder 2 also `text_embeds`), two tokenizers, and a U-Net taking
// encoder_hidden_states, text_embeds and time_ids whose output has a closed form. The conditions
// are checked against a hand reference (concat order, penultimate layer, pooled, time_ids, zeros for
// the empty prompt) and the sampling loop against an independent loop written in the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseNpy, readNpyFloat32 } from '../src/core/npy';
import { writeModel } from '../src/core/onnx/writer';
import { ElemType } from '../src/core/onnx/types';
import { PipelineRunner } from '../src/core/pipeline/runner';
import { checkConditionsForPipeline, resolveConditions } from '../src/core/pipeline/conditions';
import { readPipelineLayout } from '../src/core/pipeline/layout';
import { createScheduler } from '../src/core/pipeline/schedulers';
import { GaussianStream } from '../src/core/pipeline/noise';
import { UserError } from '../src/core/errors';
import { unetFeeds } from '../src/core/prune/compare';
import { conditionNpys } from '../src/core/pipeline/condition-embeddings';
import { GraphBuilder } from './helpers/graph-builder';
import { tempDir } from './pipeline-fixtures';

const VOCAB: Record<string, number> = {
  '<|startoftext|>': 0, '<|endoftext|>': 1, a: 2, b: 3, c: 4, 'a</w>': 5, 'b</w>': 6, 'c</w>': 7, ab: 8, 'abc</w>': 9,
};
const V = Object.keys(VOCAB).length;
const L = 5;
const D1 = 4;
const D2 = 3;
const P = 2;
const T1 = Array.from({ length: V * D1 }, (_, i) => Math.sin(i * 0.77) * 0.5);
const T2 = Array.from({ length: V * D2 }, (_, i) => Math.cos(i * 0.31) * 0.7);
const W = [0.3, -0.2, 0.5, 0.1, -0.4, 0.6]; // [D2, P]

/**
 * A text encoder as Optimum exports one with output_hidden_states: hidden_states.0 = table[ids],
 * hidden_states.1 = scale·that, hidden_states.2 = hidden_states.1 + shift (= last_hidden_state);
 * with `project`, text_embeds = mean over tokens of the last layer, times W.
 */
async function textEncoder(file: string, table: number[], dim: number, scale: number, shift: number, project: boolean): Promise<void> {
  const g = new GraphBuilder('text');
  g.input('input_ids', ['batch', 'sequence'], ElemType.INT64);
  g.node('Gather', [g.weight('table', [V, dim], table), 'input_ids'], { outputs: ['hidden_states.0'] });
  g.node('Mul', ['hidden_states.0', g.weight('scale', [], [scale])], { outputs: ['hidden_states.1'] });
  g.node('Add', ['hidden_states.1', g.weight('shift', [], [shift])], { outputs: ['hidden_states.2'] });
  g.node('Identity', ['hidden_states.2'], { outputs: ['last_hidden_state'] });
  g.output('last_hidden_state', ['batch', 'sequence', dim]);
  for (const i of [0, 1, 2]) g.output(`hidden_states.${i}`, ['batch', 'sequence', dim]);
  if (project) {
    const pooled = g.node('ReduceMean', ['hidden_states.2'], { attrs: { axes: [1], keepdims: 0 } });
    g.node('MatMul', [pooled, g.weight('w', [D2, P], W)], { outputs: ['text_embeds'] });
    g.output('text_embeds', ['batch', P]);
  }
  await writeModel(g.model(), file, { durable: false });
}

function writeTokenizer(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(VOCAB));
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\na b\nab c</w>\n');
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: L }));
}

/** An untrained SDXL-shaped U-Net exported by training/unet.py (text_time added conditions, transformer depths (1, 2)). */
const SDXL_UNET = resolve(__dirname, 'fixtures', 'sdxl-unet');

async function buildSdxl(dir: string, modelIndex: Record<string, unknown> = {}, unetFolder?: string): Promise<string> {
  const p = join(dir, 'sdxl');
  for (const sub of ['unet', 'vae_decoder', 'text_encoder', 'text_encoder_2', 'scheduler']) mkdirSync(join(p, sub), { recursive: true });
  // U-Net: ε = 0.5·sample + mean(encoder_hidden_states[b]) + 0.1·mean(text_embeds[b]) + 0.001·mean(time_ids[b])
  const u = new GraphBuilder('unet');
  u.input('sample', ['batch', 4, 'height', 'width']);
  u.input('timestep', [], ElemType.INT64);
  u.input('encoder_hidden_states', ['batch', 'sequence', D1 + D2]);
  u.input('text_embeds', ['batch', P]);
  u.input('time_ids', ['batch', 6]);
  const m = u.node('ReduceMean', ['encoder_hidden_states'], { attrs: { axes: [1, 2], keepdims: 1 } });
  const m4 = u.node('Unsqueeze', [m, u.ints('axis3', [3])]);
  const te = u.node('Mul', [u.node('ReduceMean', ['text_embeds'], { attrs: { axes: [1], keepdims: 1 } }), u.weight('tenth', [], [0.1])]);
  const ti = u.node('Mul', [u.node('ReduceMean', ['time_ids'], { attrs: { axes: [1], keepdims: 1 } }), u.weight('milli', [], [0.001])]);
  const added = u.node('Unsqueeze', [u.node('Add', [te, ti]), u.ints('axes23', [2, 3])]);
  const xs = u.node('Mul', ['sample', u.weight('half', [], [0.5])]);
  u.node('Add', [u.node('Add', [xs, m4]), added], { outputs: ['out_sample'] });
  u.output('out_sample', ['batch', 4, 'height', 'width']);
  if (unetFolder) cpSync(unetFolder, join(p, 'unet'), { recursive: true });
  else await writeModel(u.model(), join(p, 'unet', 'model.onnx'), { durable: false });
  await textEncoder(join(p, 'text_encoder', 'model.onnx'), T1, D1, 2, 1, false);
  await textEncoder(join(p, 'text_encoder_2', 'model.onnx'), T2, D2, 3, -1, true);
  writeTokenizer(join(p, 'tokenizer'));
  writeTokenizer(join(p, 'tokenizer_2'));
  const v = new GraphBuilder('vae');
  v.input('latent_sample', ['batch', 4, 'height', 'width']);
  v.node('Identity', ['latent_sample'], { outputs: ['sample'] });
  v.output('sample', ['batch', 4, 'height', 'width']);
  await writeModel(v.model(), join(p, 'vae_decoder', 'model.onnx'), { durable: false });
  writeFileSync(join(p, 'vae_decoder', 'config.json'), JSON.stringify({ block_out_channels: [8, 8], scaling_factor: 0.5 }));
  writeFileSync(join(p, 'scheduler', 'scheduler_config.json'), JSON.stringify({
    _class_name: 'EulerDiscreteScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, steps_offset: 1,
  }));
  writeFileSync(join(p, 'model_index.json'), JSON.stringify({
    _class_name: 'ORTStableDiffusionXLPipeline', text_encoder: ['transformers', 'CLIPTextModel'], text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
    tokenizer: ['transformers', 'CLIPTokenizer'], tokenizer_2: ['transformers', 'CLIPTokenizer'], ...modelIndex,
  }));
  return p;
}

/** The hand reference: per token [2·T1[id], 3·T2[id]] (each encoder's penultimate layer), pooled mean(3·T2 − 1)·W. */
function reference(ids: number[]): { hidden: number[]; pooled: number[] } {
  const hidden: number[] = [];
  for (const id of ids) {
    for (let d = 0; d < D1; d++) hidden.push(2 * T1[id * D1 + d]);
    for (let d = 0; d < D2; d++) hidden.push(3 * T2[id * D2 + d]);
  }
  const mean = Array.from({ length: D2 }, (_, d) => ids.reduce((s, id) => s + 3 * T2[id * D2 + d] - 1, 0) / ids.length);
  const pooled = Array.from({ length: P }, (_, j) => mean.reduce((s, v, d) => s + v * W[d * P + j], 0));
  return { hidden, pooled };
}

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
