// The shipped diffusion transformer (examples/digits-dit, transformer/model.onnx with diffusers' DiT scopes) end to
// end through the CLI: score at block and attention/feed-forward granularity, prune the lowest blocks, sample the
// pruned pipeline, and distill it with the trainer's feature KD matching the remaining transformer_blocks.N.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { trainerOutput } from './helpers/trainer-output';
import { readPruneRecord } from '../src/core/prune/record';

const ROOT = resolve(__dirname, '..');
const PYTHON = process.env.LD_SURGEON_PYTHON ?? '/usr/bin/python3';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('digits-dit: candidates are real substitutes; score blocks and attn/ff, prune the 2 lowest blocks, sample, distill', { timeout: 5 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-dit-'));
  try {
    const pipeline = join(dir, 'digits-dit');
    cpSync(join(ROOT, 'examples', 'digits-dit'), pipeline, { recursive: true });
    // every candidate is a documented cheaper substitute: a block is identity on the tokens, attention and
    // feed-forward drop their residual branch (self-attention and ff through adaLN-Zero's gate), never a channel slice
    const cand = cli('candidates', pipeline, '--json');
    assert.equal(cand.code, 0, cand.stderr);
    type Cand = { id: string; method?: string; description?: string };
    const list = (JSON.parse(cand.stdout) as { candidates: Cand[] }).candidates;
    const byId = new Map(list.map((c) => [c.id, c]));
    for (let b = 0; b < 6; b++) {
      assert.equal(byId.get(`transformer_blocks.${b}`)?.method, 'identity', `block ${b}`);
      for (const part of ['attn1', 'ff']) {
        const c = byId.get(`transformer_blocks.${b}.${part}`);
        assert.equal(c?.method, 'skip-residual', `${b}.${part}`);
        assert.match(c!.description!, /through a gating Mul/, `${b}.${part}`);
      }
      assert.equal(byId.get(`transformer_blocks.${b}.attn2`)?.method, 'skip-residual', `${b}.attn2 (cross-attention, ungated as PixArt)`);
    }
    for (const c of list) assert.doesNotMatch(c.description ?? '', /sliced|zero-padded/, c.id);
    const s = cli('score', pipeline, '--granularity', 'both', '--samples', '4', '--steps', '3', '--ep', 'cpu', '--quiet');
    assert.equal(s.code, 0, s.stderr);
    const scoreFile = readdirSync(join(pipeline, 'transformer')).find((n) => n.endsWith('.ldscores.json'));
    assert.ok(scoreFile, 'the score file is written beside transformer/model.onnx');
    const scores = readFileSync(join(pipeline, 'transformer', scoreFile!), 'utf8');
    for (const id of ['"transformer_blocks.0"', '"transformer_blocks.5"', '"transformer_blocks.3.attn1"', '"transformer_blocks.3.attn2"', '"transformer_blocks.3.ff"']) assert.ok(scores.includes(id), id);
    assert.ok(!/norm1\.emb|norm1\.linear|ff\.net\.0|attn\d\.to_/.test(scores), 'no channel slicing inside a block, no piece of an attention is scored');

    const p = cli('prune', pipeline, '--lowest', '2', '--ep', 'cpu', '--no-metric', '--quiet');
    assert.equal(p.code, 0, p.stderr);
    const pruned = join(dir, 'digits-dit.pruned');
    const record = readPruneRecord(join(pruned, 'transformer', 'model.prune.json'));
    assert.ok(record, 'the prune wrote its record in transformer/');
    assert.equal(record.removed.length, 2);
    for (const r of record.removed) assert.match(r.id, /^transformer_blocks\.\d(\.(attn1|attn2|ff|norm2|norm3))?$/);
    for (const c of record.checks) assert.notEqual(c.status, 'failed', `${c.name}: ${c.detail}`);

    const smp = cli('sample', pruned, '--n', '2', '--steps', '3', '--no-metrics', '--out', join(dir, 'samples'));
    assert.equal(smp.code, 0, smp.stderr);
    assert.ok(existsSync(join(dir, 'samples', 'samples.png')));

    const d = cli('distill', '--student', pruned, '--teacher', pipeline, '--python', PYTHON, '--device', 'cpu', '--json',
      '--steps', '4', '--seed', '0', '--data-samples', '16', '--data-steps', '3', '--eval-samples', '16', '--eval-steps', '3',
      '--eval-every', '0', '--checkpoint-every', '0', '--log-every', '1');
    assert.equal(d.code, 0, d.stderr);
    const { steps, done } = trainerOutput(d.stdout);
    assert.ok(done && steps.length >= 1, d.stdout.slice(-2000));
    assert.ok(steps.some((e) => (e.loss_feat ?? 0) > 0), 'feature KD matched the remaining transformer blocks');
    assert.equal(done.output, join(pruned, 'transformer', 'model.distilled.onnx'));
    assert.ok(existsSync(done.output!));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
