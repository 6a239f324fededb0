// DDIM / DDPM schedulers against values computed independently from diffusers' formulas
// (torch float32 reference numbers where noted) and against the identities the samplers must keep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alphasCumprod, betaSchedule, createScheduler, DdimScheduler, DdpmScheduler, inferenceTimesteps, parseSchedulerConfig,
} from '../src/core/pipeline/schedulers';
import { UserError } from '../src/core/errors';

const SD = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, steps_offset: 1, set_alpha_to_one: false, clip_sample: false };

const close = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b} (rel ${rel})`);

test('alphas_cumprod endpoints match torch float32 for the three beta schedules', () => {
  // reference: torch.cumprod(1 - betas) with diffusers' beta definitions, torch 1.13 float32
  const cases: [Record<string, unknown>, number, number][] = [
    [SD, 0.9991499781608582, 0.0046600960195064545],
    [{ beta_schedule: 'linear' }, 0.9998999834060669, 4.0358307160204276e-5],
    [{ beta_schedule: 'squaredcos_cap_v2' }, 0.9999586939811707, 2.4287349909002387e-9],
  ];
  for (const [cfg, first, last] of cases) {
    const a = alphasCumprod(betaSchedule(parseSchedulerConfig(cfg)));
    assert.equal(a.length, 1000);
    close(a[0], first, 1e-7, `${cfg.beta_schedule} alphas_cumprod[0]`);
    // torch's vectorised linspace rounds a few betas differently (±1 ulp), which the product accumulates
    close(a[999], last, 5e-6, `${cfg.beta_schedule} alphas_cumprod[999]`);
  }
});

test('scaled_linear betas are squares of a linspace in sqrt space; cosine betas are capped at 0.999', () => {
  const b = betaSchedule(parseSchedulerConfig(SD));
  close(b[0], 0.00085, 1e-6, 'beta_0');
  close(b[999], 0.012, 1e-6, 'beta_999');
  const mid = (Math.sqrt(0.00085) + (Math.sqrt(0.012) - Math.sqrt(0.00085)) * (500 / 999)) ** 2;
  close(b[500], mid, 1e-6, 'beta_500');
  const cos = betaSchedule(parseSchedulerConfig({ beta_schedule: 'squaredcos_cap_v2' }));
  const ab = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  close(cos[10], 1 - ab(11 / 1000) / ab(10 / 1000), 1e-6, 'cosine beta_10');
  assert.ok(Math.abs(cos[999] - 0.999) < 1e-6, 'the last cosine beta is capped');
});

test('timestep grids: leading with offset, trailing, linspace (numpy rounding)', () => {
  const cfg = (extra: Record<string, unknown>) => parseSchedulerConfig({ ...SD, ...extra });
  assert.deepEqual(inferenceTimesteps(cfg({}), 10), [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
  assert.deepEqual(inferenceTimesteps(cfg({ steps_offset: 0 }), 4), [750, 500, 250, 0]);
  assert.deepEqual(inferenceTimesteps(cfg({ timestep_spacing: 'trailing' }), 10), [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
  assert.deepEqual(inferenceTimesteps(cfg({ timestep_spacing: 'trailing' }), 3), [999, 666, 332]);
  assert.deepEqual(inferenceTimesteps(cfg({ timestep_spacing: 'linspace' }), 7), [999, 832, 666, 500, 333, 166, 0]);
  assert.throws(() => inferenceTimesteps(cfg({}), 1001), UserError);
});

test('bad scheduler configs are refused with the file named', () => {
  assert.throws(() => parseSchedulerConfig({ beta_schedule: 'sigmoid' }, 'x/scheduler_config.json'), /x\/scheduler_config\.json: beta_schedule "sigmoid" is not supported/);
  assert.throws(() => parseSchedulerConfig({ num_train_timesteps: 'many' }, 'f.json'), /f\.json: num_train_timesteps must be an integer/);
  assert.throws(() => parseSchedulerConfig({ prediction_type: 'flow' }, 'f.json'), /prediction_type/);
});

/** x_t = √ᾱ·x0 + √(1−ᾱ)·ε and the exact model output each prediction type would give */
function noisy(alpha: number, x0: Float32Array, eps: Float32Array) {
  const xt = x0.map((v, i) => Math.sqrt(alpha) * v + Math.sqrt(1 - alpha) * eps[i]);
  const v = x0.map((x, i) => Math.sqrt(alpha) * eps[i] - Math.sqrt(1 - alpha) * x);
  return { xt, outputs: { epsilon: eps, sample: x0, v_prediction: v } };
}

test('DDIM (eta 0) with a perfect model moves exactly along the noising path, for every prediction type', () => {
  const x0 = Float32Array.from([0.3, -0.7, 0.9, 0.05]);
  const eps = Float32Array.from([1.2, -0.4, 0.1, -2.0]);
  for (const pt of ['epsilon', 'sample', 'v_prediction'] as const) {
    const s = new DdimScheduler(parseSchedulerConfig({ ...SD, prediction_type: pt }), { steps: 10 });
    const t = 501;
    const prev = 401;
    const { xt, outputs } = noisy(s.alphasCumprod[t], x0, eps);
    const out = s.step(outputs[pt], t, xt);
    const a = s.alphasCumprod[prev];
    out.forEach((v, i) => assert.ok(Math.abs(v - (Math.sqrt(a) * x0[i] + Math.sqrt(1 - a) * eps[i])) < 1e-5, `${pt} element ${i}`));
  }
});

test('DDIM final step uses alphas_cumprod[0] unless set_alpha_to_one, and eta adds sigma-scaled noise', () => {
  const x0 = Float32Array.from([0.5, -0.5]);
  const eps = Float32Array.from([0.25, 1]);
  const sd = new DdimScheduler(parseSchedulerConfig(SD), { steps: 10 });
  const { xt } = noisy(sd.alphasCumprod[1], x0, eps);
  const a0 = sd.alphasCumprod[0];
  const out = sd.step(eps, 1, xt);
  out.forEach((v, i) => assert.ok(Math.abs(v - (Math.sqrt(a0) * x0[i] + Math.sqrt(1 - a0) * eps[i])) < 1e-5));
  const one = new DdimScheduler(parseSchedulerConfig({ ...SD, set_alpha_to_one: true }), { steps: 10 });
  one.step(eps, 1, xt).forEach((v, i) => assert.ok(Math.abs(v - x0[i]) < 1e-5, 'ᾱ_prev = 1 returns x̂_0'));

  // σ_t = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1−ᾱ_t/ᾱ_prev)); x_prev = √ᾱ_prev·x̂0 + √(1−ᾱ_prev−σ²)·ε + σ·z
  const eta = new DdimScheduler(parseSchedulerConfig(SD), { steps: 10, eta: 1 });
  assert.equal(eta.needsNoise(), true);
  const t = 501;
  const at = eta.alphasCumprod[t];
  const ap = eta.alphasCumprod[401];
  const sigma = Math.sqrt(((1 - ap) / (1 - at)) * (1 - at / ap));
  const n2 = noisy(at, x0, eps);
  const z = Float32Array.from([1, -1]);
  const got = eta.step(eps, t, n2.xt, { noise: z });
  got.forEach((v, i) => {
    const want = Math.sqrt(ap) * x0[i] + Math.sqrt(1 - ap - sigma * sigma) * eps[i] + sigma * z[i];
    assert.ok(Math.abs(v - want) < 1e-5, `eta=1 element ${i}: ${v} vs ${want}`);
  });
  assert.throws(() => eta.step(eps, t, n2.xt), /needs noise/);
});

test('clip_sample clamps x̂0; dynamic thresholding clamps per sample to its quantile', () => {
  // a 'sample' prediction of 3 is clipped to 1; the final step returns x̂0 itself
  const sampleCfg = parseSchedulerConfig({ ...SD, clip_sample: true, set_alpha_to_one: true, prediction_type: 'sample' });
  const s2 = new DdimScheduler(sampleCfg, { steps: 10 });
  assert.deepEqual(Array.from(s2.step(Float32Array.from([3, -3, 0.5]), 1, Float32Array.from([0, 0, 0]))), [1, -1, 0.5]);
  const th = new DdimScheduler(parseSchedulerConfig({ ...SD, thresholding: true, dynamic_thresholding_ratio: 0.5, sample_max_value: 2, set_alpha_to_one: true, prediction_type: 'sample' }), { steps: 10 });
  // sample 0: |x| = [4, 1.5, 1, 0.5] → median (linear) 1.25 → s = 1.25 → clamp then divide
  // sample 1: all small → s clamped up to 1 → unchanged
  const out = th.step(Float32Array.from([4, -1.5, 1, 0.5, 0.2, -0.1, 0.3, 0.1]), 1, new Float32Array(8), { batch: 2 });
  const want = [1, -1, 0.8, 0.4, 0.2, -0.1, 0.3, 0.1];
  out.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `threshold ${i}: ${v} vs ${want[i]}`));
});

test('DDPM reduced-step semantics: previous timestep from the grid, posterior coefficients, noise while t > 0', () => {
  const s = new DdpmScheduler(parseSchedulerConfig({ ...SD, _class_name: 'DDPMScheduler' }), { steps: 10 });
  assert.deepEqual(s.timesteps, [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
  assert.equal(s.previousTimestep(901), 801);
  assert.equal(s.previousTimestep(1), -1);
  const t = 501;
  const at = s.alphasCumprod[t];
  const ap = s.alphasCumprod[401];
  const beta = 1 - at / ap;
  const x0 = Float32Array.from([0.4, -0.2]);
  const eps = Float32Array.from([0.7, 1.1]);
  const { xt } = noisy(at, x0, eps);
  const z = Float32Array.from([0.5, -2]);
  const out = s.step(eps, t, xt, { noise: z });
  out.forEach((v, i) => {
    const mean = (Math.sqrt(ap) * beta / (1 - at)) * x0[i] + (Math.sqrt(at / ap) * (1 - ap) / (1 - at)) * xt[i];
    const std = Math.sqrt(((1 - ap) / (1 - at)) * beta);
    assert.ok(Math.abs(v - (mean + std * z[i])) < 1e-5, `ddpm element ${i}`);
  });
  // last step: ᾱ_prev = 1, so x_prev = x̂0 (+ a 1e-10 std, the clamp of a zero variance)
  const { xt: x1 } = noisy(s.alphasCumprod[1], x0, eps);
  s.step(eps, 1, x1, { noise: z }).forEach((v, i) => assert.ok(Math.abs(v - x0[i]) < 1e-5));
  assert.equal(s.needsNoise(1), true);
  assert.equal(s.needsNoise(0), false);
  assert.throws(() => s.step(eps, 500, xt, { noise: z }), /not in this scheduler's grid/);
});

test('createScheduler picks by name; in-place stepping (out = sample) gives the same result', () => {
  const cfg = parseSchedulerConfig(SD);
  assert.equal(createScheduler('ddpm', cfg, { steps: 5 }).name, 'ddpm');
  const s = createScheduler('ddim', cfg, { steps: 5 });
  const x = Float32Array.from([0.1, 0.2, 0.3]);
  const e = Float32Array.from([0.3, -0.1, 0.2]);
  const fresh = s.step(e, s.timesteps[0], x);
  const inPlace = Float32Array.from(x);
  s.step(e, s.timesteps[0], inPlace, { out: inPlace });
  assert.deepEqual(Array.from(inPlace), Array.from(fresh));
});
