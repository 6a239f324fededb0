// Replays the golden sampling loops (test/fixtures/golden/<pipeline>.json) with the exported ONNX
// models in onnxruntime-node and prints the largest deviation from the PyTorch reference, so an
// export that drifts from the trained PyTorch weights is caught. Exits 1 past the stored tolerance.
//   node training/check_onnx_parity.mjs [pipeline ...]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ort = createRequire(path.join(repo, 'package.json'))('onnxruntime-node');
const f32 = (a) => Float32Array.from(a.data);

function alphasCumprod(cfg) {
  // float32 like torch: linspace(sqrt(b0), sqrt(b1), T) ** 2, cumprod(1 - betas)
  const T = cfg.num_train_timesteps, acp = new Float32Array(T);
  const b0 = Math.sqrt(cfg.beta_start), b1 = Math.sqrt(cfg.beta_end);
  let p = 1;
  for (let i = 0; i < T; i++) {
    const b = cfg.beta_schedule === 'scaled_linear'
      ? Math.fround(Math.fround(b0 + (b1 - b0) * i / (T - 1)) ** 2)
      : Math.fround(cfg.beta_start + (cfg.beta_end - cfg.beta_start) * i / (T - 1));
    p = Math.fround(p * Math.fround(1 - b));
    acp[i] = p;
  }
  return acp;
}

async function check(name) {
  const g = JSON.parse(fs.readFileSync(path.join(repo, 'test/fixtures/golden', `${name}.json`), 'utf8'));
  const dir = path.join(repo, g.pipeline);
  const unet = await ort.InferenceSession.create(path.join(dir, 'unet/model.onnx'));
  const xT = f32(g.x_T), shape = g.x_T.shape, N = shape[0];
  const cfg = g.scheduler_config, acp = alphasCumprod(cfg), T = cfg.num_train_timesteps;
  let hidden = null;
  if (g.conditioning) {
    const te = await ort.InferenceSession.create(path.join(dir, 'text_encoder/model.onnx'));
    const rows = [...Array(N).fill(g.conditioning.uncond_input_ids), ...g.conditioning.input_ids];
    const ids = BigInt64Array.from(rows.flat().map(BigInt));
    hidden = (await te.run({ input_ids: new ort.Tensor('int64', ids, [rows.length, rows[0].length]) })).last_hidden_state;
  }
  async function unetRaw(x, t) {
    const B = hidden ? 2 * N : N;
    const xx = new Float32Array(B * (x.length / N));
    xx.set(x);
    if (hidden) xx.set(x, x.length);
    const feeds = {
      sample: new ort.Tensor('float32', xx, [B, ...shape.slice(1)]),
      timestep: new ort.Tensor('float32', new Float32Array(B).fill(t), [B]),
    };
    if (hidden) feeds.encoder_hidden_states = hidden;
    return (await unet.run(feeds)).out_sample.data;
  }
  async function eps(x, t) {
    const d = await unetRaw(x, t);
    if (!hidden) return d;
    const gs = g.conditioning.guidance_scale, e = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) e[i] = d[i] + gs * (d[x.length + i] - d[i]);
    return e;
  }
  const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  const report = { pipeline: name, first_step: maxDiff(f32(g.first_step.unet_out_sample), await unetRaw(xT, g.first_step.timestep)) };
  for (const run of g.runs) {
    const x = Float32Array.from(xT), ratio = Math.floor(T / run.num_inference_steps);
    const noise = run.step_noise ? f32(run.step_noise) : null;
    for (let i = 0; i < run.timesteps.length; i++) {
      const t = run.timesteps[i], prev = t - ratio, e = await eps(x, t), at = acp[t];
      if (run.scheduler === 'DDIMScheduler') {
        const ap = prev >= 0 ? acp[prev] : (cfg.set_alpha_to_one ? 1 : acp[0]);
        for (let k = 0; k < x.length; k++) {
          const x0 = (x[k] - Math.sqrt(1 - at) * e[k]) / Math.sqrt(at);
          x[k] = Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * e[k];
        }
      } else {
        const ap = prev >= 0 ? acp[prev] : 1, beta = 1 - at / ap;
        const c0 = Math.sqrt(ap) * beta / (1 - at), c1 = Math.sqrt(at / ap) * (1 - ap) / (1 - at);
        const sd = Math.sqrt(Math.max((1 - ap) / (1 - at) * beta, 1e-20));
        for (let k = 0; k < x.length; k++) {
          const x0 = (x[k] - Math.sqrt(1 - at) * e[k]) / Math.sqrt(at);
          x[k] = c0 * x0 + c1 * x[k] + (t > 0 ? sd * noise[i * x.length + k] : 0);
        }
      }
    }
    report[run.scheduler] = maxDiff(f32(run.final_latents), x);
  }
  const tol = g.suggested_tolerance.atol;
  report.ok = Object.values(report).every((v) => typeof v !== 'number' || v <= tol);
  console.log(JSON.stringify(report));
  return report.ok;
}

const names = process.argv.slice(2);
const all = names.length ? names : ['digits-cond', 'digits-uncond', 'audio-digits'];
let ok = true;
for (const n of all) ok = (await check(n)) && ok;
process.exit(ok ? 0 : 1);
