// `sample` on the unconditional digits example with its scheduler_config.json swapped to the classes
// SD/SDXL exports carry: Euler and DPM-Solver++ give samples as good as DDIM's (same betas, 25 steps),
// and a class we do not run (PNDM) samples with DDIM and says so on stderr and in metrics.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readNpyFloat32 } from '../src/core/npy';
import { runSampleJob } from '../src/core/pipeline/sample-job';
import { copyPipeline, EXAMPLES, tempDir } from './pipeline-fixtures';

const ROOT = resolve(__dirname, '..');
const UNCOND = join(EXAMPLES, 'digits-uncond');

function withScheduler(dir: string, className: string, extra: Record<string, unknown> = {}): string {
  const p = copyPipeline(UNCOND, dir);
  const file = join(p, 'scheduler', 'scheduler_config.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...cfg, _class_name: className, ...extra }));
  return p;
}

function stats(a: Float32Array): { mean: number; std: number } {
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  return { mean, std: Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length) };
}

test('Euler and DPM-Solver++ from scheduler_config.json sample as well as DDIM on the same betas (25 steps)', async () => {
  const t = tempDir('sample-sched-');
  try {
    const run = async (className: string, sub: string) => {
      const p = withScheduler(join(t.dir, sub), className);
      const warnings: string[] = [];
      const r = await runSampleJob({ pipeline: p, out: join(t.dir, sub, 'out'), n: 24, steps: 25, seed: 5, onWarning: (w) => warnings.push(w) });
      return { r, warnings, s: stats(readNpyFloat32(join(t.dir, sub, 'out', 'samples.npy')).data) };
    };
    const ddim = await run('DDIMScheduler', 'ddim');
    for (const [cls, name] of [['EulerDiscreteScheduler', 'euler'], ['DPMSolverMultistepScheduler', 'dpm++']] as const) {
      const x = await run(cls, name);
      assert.equal(x.r.schedulerName, name);
      assert.deepEqual(x.warnings, []);
      const fid = x.r.metrics!.value;
      const base = ddim.r.metrics!.value;
      console.log(`${name}: FID ${fid.toFixed(3)} (DDIM ${base.toFixed(3)}), samples mean/std ${x.s.mean.toFixed(3)}/${x.s.std.toFixed(3)} (DDIM ${ddim.s.mean.toFixed(3)}/${ddim.s.std.toFixed(3)})`);
      assert.ok(fid < base * 1.5 + 1, `${name} FID ${fid} vs DDIM ${base}`);
      assert.ok(Math.abs(x.s.mean - ddim.s.mean) < 0.1 && Math.abs(x.s.std - ddim.s.std) < 0.1 * ddim.s.std,
        `${name} sample stats ${JSON.stringify(x.s)} vs DDIM ${JSON.stringify(ddim.s)}`);
    }
  } finally {
    t.done();
  }
});

test('a scheduler class we do not run (PNDM) samples with DDIM and says so: stderr, conditions.json, metrics.json', () => {
  const t = tempDir('sample-sched-fallback-');
  try {
    const p = withScheduler(t.dir, 'PNDMScheduler', { skip_prk_steps: true });
    const out = join(t.dir, 'out');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'sample', p, '--n', '2', '--steps', '2', '--out', out], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: .*scheduler_config\.json: PNDMScheduler is not implemented; sampling with DDIM on the same betas instead/);
    const cond = JSON.parse(readFileSync(join(out, 'conditions.json'), 'utf8'));
    assert.equal(cond.scheduler.name, 'ddim');
    assert.deepEqual(cond.scheduler.fallback, { from: 'PNDMScheduler', to: 'ddim', reason: 'PNDMScheduler is not implemented' });
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    assert.equal(metrics.schedulerFallback.from, 'PNDMScheduler');
    // naming a sampler overrides the pipeline's class, with no warning
    const named = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'sample', p, '--scheduler', 'euler', '--n', '2', '--steps', '2', '--out', join(t.dir, 'named')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(named.status, 0, named.stderr);
    assert.doesNotMatch(named.stderr, /warning/);
    assert.equal(JSON.parse(readFileSync(join(t.dir, 'named', 'conditions.json'), 'utf8')).scheduler.name, 'euler');
  } finally {
    t.done();
  }
});

test('score on a pipeline whose scheduler class we do not run (LMS) warns and records the fallback in the score file', () => {
  const t = tempDir('score-sched-fallback-');
  try {
    const p = withScheduler(t.dir, 'LMSDiscreteScheduler');
    const out = join(t.dir, 's.json');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'score', p, '--samples', '2', '--steps', '2', '--granularity', 'block', '--no-profile', '--quiet', '--out', out], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: .*scheduler_config\.json: LMSDiscreteScheduler is not implemented; sampling with DDIM on the same betas instead/);
    const source = JSON.parse(readFileSync(out, 'utf8')).latents.source;
    assert.equal(source.scheduler, 'ddim');
    assert.deepEqual(source.schedulerFallback, { from: 'LMSDiscreteScheduler', to: 'ddim', reason: 'LMSDiscreteScheduler is not implemented' });
  } finally {
    t.done();
  }
});
