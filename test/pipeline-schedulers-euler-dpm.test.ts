// Euler and DPM-Solver++ against trajectories computed in numpy from the published formulas
// (training/make_scheduler_golden.py, independent of this code), and the pipeline's choice of
// scheduler: the exported class when we run it, DDIM with a stated reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createScheduler, fallbackWarning, parseSchedulerConfig, schedulerChoice, type SchedulerName } from '../src/core/pipeline/schedulers';

interface Run { scheduler: SchedulerName; config: Record<string, unknown>; steps: number; timesteps: number[]; sigmas: number[]; init_noise_sigma: number; final: number[] }
const golden = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'golden', 'schedulers-euler-dpm.json'), 'utf8')) as { w: number[]; initial: number[]; runs: Run[] };

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-3);

function trajectory(run: Run): { final: Float32Array; sched: ReturnType<typeof createScheduler> } {
  const sched = createScheduler(run.scheduler, parseSchedulerConfig(run.config), { steps: run.steps });
  const [w0, w1, w2] = golden.w;
  const x = Float32Array.from(golden.initial, (v) => v * sched.initNoiseSigma);
  const modelIn = new Float32Array(x.length);
  for (const t of sched.timesteps) {
    const s = sched.inputScale(t);
    x.forEach((v, i) => (modelIn[i] = v * s));
    const out = modelIn.map((v) => w0 * v + w1 * Math.sin(t / 300) + w2);
    sched.step(out, t, x, { out: x });
  }
  return { final: x, sched };
}

for (const run of golden.runs) {
  const c = run.config;
  test(`${run.scheduler} ${c.prediction_type ?? 'epsilon'} ${c.timestep_spacing ?? 'leading'}${c.final_sigmas_type ? ` ${c.final_sigmas_type}` : ''} ${c.beta_schedule}, ${run.steps} steps: matches the numpy reference (rel < 1e-5)`, () => {
    const { final, sched } = trajectory(run);
    assert.deepEqual([...sched.timesteps].map((t) => Math.round(t * 1e4) / 1e4), run.timesteps.map((t) => Math.round(t * 1e4) / 1e4));
    const sigmas = (sched as unknown as { sigmas: Float32Array }).sigmas;
    run.sigmas.forEach((s, i) => assert.ok(rel(sigmas[i], s) < 1e-6, `sigma ${i}: ${sigmas[i]} vs ${s}`));
    assert.ok(rel(sched.initNoiseSigma, run.init_noise_sigma) < 1e-6, `init_noise_sigma ${sched.initNoiseSigma} vs ${run.init_noise_sigma}`);
    run.final.forEach((v, i) => assert.ok(rel(final[i], v) < 1e-5, `final latent ${i}: ${final[i]} vs ${v}`));
  });
}

test('DPM-Solver++ keeps no history across trajectories: a second batch through the same scheduler gives the same result', () => {
  const run = golden.runs.find((r) => r.scheduler === 'dpm++')!;
  const sched = createScheduler('dpm++', parseSchedulerConfig(run.config), { steps: run.steps });
  const once = (): Float32Array => {
    const x = Float32Array.from(golden.initial);
    for (const t of sched.timesteps) sched.step(x.map((v) => -0.35 * v + 0.05), t, x, { out: x });
    return x;
  };
  assert.deepEqual(once(), once());
});

test('the pipeline\'s scheduler class picks the sampler; unsupported classes and options fall back to DDIM and say why', () => {
  const pick = (json: Record<string, unknown>) => schedulerChoice(parseSchedulerConfig(json));
  assert.deepEqual(pick({ _class_name: 'EulerDiscreteScheduler' }), { name: 'euler' });
  assert.deepEqual(pick({ _class_name: 'DPMSolverMultistepScheduler', solver_order: 2 }), { name: 'dpm++' });
  assert.deepEqual(pick({ _class_name: 'DDPMScheduler' }), { name: 'ddpm' });
  assert.deepEqual(pick({}), { name: 'ddim' });
  for (const [json, why] of [
    [{ _class_name: 'PNDMScheduler' }, /PNDMScheduler is not implemented/],
    [{ _class_name: 'EulerAncestralDiscreteScheduler' }, /EulerAncestralDiscreteScheduler is not implemented/],
    [{ _class_name: 'LMSDiscreteScheduler' }, /LMSDiscreteScheduler/],
    [{ _class_name: 'EulerDiscreteScheduler', use_karras_sigmas: true }, /use_karras_sigmas/],
    [{ _class_name: 'DPMSolverMultistepScheduler', solver_order: 3 }, /solver_order 3/],
    [{ _class_name: 'DPMSolverMultistepScheduler', algorithm_type: 'sde-dpmsolver++' }, /algorithm_type sde-dpmsolver\+\+/],
  ] as const) {
    const c = pick(json);
    assert.equal(c.name, 'ddim');
    assert.match(c.fallback!.reason, why);
    assert.match(fallbackWarning(c, 'p/scheduler/scheduler_config.json')!, /^warning: p\/scheduler\/scheduler_config\.json: .*DDIM on the same betas/);
  }
});
