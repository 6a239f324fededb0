// SDXL conditions made twice, once by the sampler/scorer (TypeScript, sdxl-conditions.ts through onnxruntime) and
// once by the distillation trainer (python/ld_surgeon_distill/conditions.py through its ONNX importer), on the same
// prompts of examples/digits-xl: encoder hidden states (both encoders' penultimate layers, concatenated), pooled
// text_embeds, the negative conditions and time_ids must agree, or the trainer distills on conditions the
// pipeline never samples with. Checked with the pipeline's own settings and with the other branches (the encoded
// empty prompt instead of zeros, clip_skip 1, micro-conditioning sizes from model_index.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PipelineRunner } from '../src/core/pipeline/runner';
import { addTimeIds } from '../src/core/pipeline/sdxl-conditions';

const ROOT = resolve(__dirname, '..');
const PYTHON = process.env.LD_SURGEON_PYTHON ?? '/usr/bin/python3';
const EXAMPLE = join(ROOT, 'examples', 'digits-xl');
const PROMPTS = ['a digit seven', 'the number two', 'handwritten zero', 'a digit unknownword'];

const PY = `
import json, sys, torch
from ld_surgeon_distill.conditions import Conditioner, sdxl_time_ids
from ld_surgeon_distill.pipeline import Pipeline
p = Pipeline(sys.argv[1])
c = Conditioner(p, torch.device("cpu"), sdxl=True)
cond = c.for_prompts(json.loads(sys.argv[2]))
u = c.uncond(1)
flat = lambda t: t.reshape(-1).tolist()
print(json.dumps({"hidden": flat(cond.hidden), "shape": list(cond.hidden.shape), "pooled": flat(cond.pooled),
                  "uncond": flat(u.hidden), "uncond_pooled": flat(u.pooled),
                  "time_ids": sdxl_time_ids(p, p.latent_shape(None)).tolist()}))
`;

interface PyConditions { hidden: number[]; shape: number[]; pooled: number[]; uncond: number[]; uncond_pooled: number[]; time_ids: number[] }

function python(pipeline: string): PyConditions {
  const r = spawnSync(PYTHON, ['-c', PY, pipeline, JSON.stringify(PROMPTS)], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(ROOT, 'python'), PYTHONWARNINGS: 'ignore' },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PyConditions;
}

function close(name: string, ts: ArrayLike<number>, py: number[]) {
  assert.equal(ts.length, py.length, `${name}: ${ts.length} values in TypeScript, ${py.length} in Python`);
  let worst = 0;
  for (let i = 0; i < py.length; i++) worst = Math.max(worst, Math.abs(ts[i] - py[i]) / (1 + Math.abs(py[i])));
  assert.ok(worst < 1e-5, `${name}: TypeScript and Python differ by ${worst} (relative)`);
}

async function compare(pipeline: string) {
  const runner = PipelineRunner.open(pipeline);
  try {
    const c = await runner.encodePrompts(PROMPTS);
    const py = python(pipeline);
    assert.deepEqual(py.shape, [PROMPTS.length, c.seqLen, c.dim]);
    close('encoder_hidden_states', c.embeddings, py.hidden);
    close('text_embeds', c.added!.textEmbeds, py.pooled);
    close('negative encoder_hidden_states', c.uncond!, py.uncond);
    close('negative text_embeds', c.added!.uncondTextEmbeds!, py.uncond_pooled);
    const layout = runner.layout;
    const shape = (layout.ldSurgeon.raw.latent_shape as number[]);
    assert.deepEqual(py.time_ids, [...addTimeIds(layout, shape)]);
    return { c, py };
  } finally {
    await runner.release();
  }
}

test('digits-xl: the trainer builds the same SDXL conditions as the sampler (pipeline settings: zeros for the empty prompt)', { timeout: 120_000 }, async () => {
  const { c, py } = await compare(EXAMPLE);
  assert.ok(c.uncond!.every((v) => v === 0) && c.added!.uncondTextEmbeds!.every((v) => v === 0), 'force_zeros_for_empty_prompt: zeros');
  assert.ok(py.hidden.some((v) => Math.abs(v) > 1e-3) && py.pooled.some((v) => Math.abs(v) > 1e-3), 'the prompts give non-zero conditions');
  assert.deepEqual(py.time_ids, [32, 32, 0, 0, 32, 32]);
});

test('digits-xl: TypeScript and Python agree with the encoded empty prompt, clip_skip 1 and configured micro-conditioning', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-xl-cond-'));
  try {
    const p = join(dir, 'digits-xl');
    cpSync(EXAMPLE, p, { recursive: true });
    const index = JSON.parse(readFileSync(join(p, 'model_index.json'), 'utf8'));
    index.force_zeros_for_empty_prompt = false;
    index.clip_skip = 1;
    index.ld_surgeon.original_size = [64, 48];
    index.ld_surgeon.crops_coords_top_left = [3, 1];
    delete index.ld_surgeon.target_size;
    writeFileSync(join(p, 'model_index.json'), JSON.stringify(index));
    const { c, py } = await compare(p);
    assert.ok(c.uncond!.some((v) => v !== 0), 'the encoded empty prompt, not zeros');
    assert.deepEqual(py.time_ids, [64, 48, 3, 1, 32, 32]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
