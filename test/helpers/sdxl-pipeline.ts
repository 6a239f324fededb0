// A synthetic SDXL pipeline in Optimum's export layout, for tests: two text encoders with per-layer
// `hidden_states.N` outputs (encoder 2 also `text_embeds`), two BPE tokenizers, an identity VAE, an Euler
// scheduler, and a U-Net taking encoder_hidden_states, text_embeds and time_ids whose output has a closed form
// (or a real SDXL-shaped U-Net folder in its place). Every value is known, so tests can check the conditions
// and the sampling loop by hand (pipeline-sdxl.test.ts), and the real-VS-Code tests use the same pipeline.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeModel } from '../../src/core/onnx/writer';
import { ElemType } from '../../src/core/onnx/types';
import { GraphBuilder } from './graph-builder';

export const VOCAB: Record<string, number> = {
  '<|startoftext|>': 0, '<|endoftext|>': 1, a: 2, b: 3, c: 4, 'a</w>': 5, 'b</w>': 6, 'c</w>': 7, ab: 8, 'abc</w>': 9,
};
const V = Object.keys(VOCAB).length;
/** the tokenizers' model_max_length */
export const L = 5;
/** hidden sizes of text_encoder and text_encoder_2 (encoder_hidden_states is D1 + D2 wide) */
export const D1 = 4;
export const D2 = 3;
/** the pooled text_embeds' width */
export const P = 2;
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

/**
 * Writes the pipeline to DIR/sdxl and returns that folder. `modelIndex` is merged into model_index.json;
 * `unetFolder` (e.g. test/fixtures/sdxl-unet, an untrained SDXL-shaped U-Net whose cross_attention_dim is
 * D1 + D2 and whose added conditions take P + 6 values) replaces the closed-form U-Net.
 */
export async function buildSdxl(dir: string, modelIndex: Record<string, unknown> = {}, unetFolder?: string): Promise<string> {
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
export function reference(ids: number[]): { hidden: number[]; pooled: number[] } {
  const hidden: number[] = [];
  for (const id of ids) {
    for (let d = 0; d < D1; d++) hidden.push(2 * T1[id * D1 + d]);
    for (let d = 0; d < D2; d++) hidden.push(3 * T2[id * D2 + d]);
  }
  const mean = Array.from({ length: D2 }, (_, d) => ids.reduce((s, id) => s + 3 * T2[id * D2 + d] - 1, 0) / ids.length);
  const pooled = Array.from({ length: P }, (_, j) => mean.reduce((s, v, d) => s + v * W[d * P + j], 0));
  return { hidden, pooled };
}
