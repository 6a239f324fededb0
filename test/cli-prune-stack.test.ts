// `ld-surgeon prune PIPELINE --stack ID --k K`: the K lowest-scored blocks of one depth stack (issue 19's
// "prune the k lowest of this stack"), on the shipped DiT's transformer_blocks.0..5; and the refusals a
// user meets: k out of 1..N-1, a module that is no stack, --k without --stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readPruneRecord } from '../src/core/prune/record';

const ROOT = resolve(__dirname, '..');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('digits-dit: prune --stack transformer_blocks --k 2 removes the two lowest-scored blocks of the stack', { timeout: 5 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-stack-'));
  try {
    const pipeline = join(dir, 'digits-dit');
    cpSync(join(ROOT, 'examples', 'digits-dit'), pipeline, { recursive: true });

    // inspect names the stack a user can give --stack
    const ins = cli('inspect', join(pipeline, 'transformer', 'model.onnx'), '--depth', '0');
    assert.equal(ins.code, 0, ins.stderr);
    assert.match(ins.stdout, /^ {2}stacks {5}transformer_blocks \(6 blocks\) \(prune --stack ID --k K\)$/m);
    const insJson = JSON.parse(cli('inspect', join(pipeline, 'transformer', 'model.onnx'), '--depth', '0', '--json').stdout) as { stacks: unknown };
    assert.deepEqual(insJson.stacks, [{ id: 'transformer_blocks', parent: '', members: Array.from({ length: 6 }, (_, i) => `transformer_blocks.${i}`) }]);

    const early = cli('prune', pipeline, '--k', '2', '--ep', 'cpu', '--quiet');
    assert.notEqual(early.code, 0);
    assert.match(early.stderr, /--k goes with --stack/);

    const s = cli('score', pipeline, '--granularity', 'both', '--samples', '2', '--steps', '2', '--ep', 'cpu', '--quiet');
    assert.equal(s.code, 0, s.stderr);
    const file = JSON.parse(readFileSync(join(pipeline, 'transformer', 'model.ldscores.json'), 'utf8')) as { candidates: { id: string; score: number | null }[] };
    const members = Array.from({ length: 6 }, (_, i) => `transformer_blocks.${i}`);
    const scoreOf = new Map(file.candidates.map((c) => [c.id, c.score]));
    for (const m of members) assert.equal(typeof scoreOf.get(m), 'number', `${m} is scored`);
    const lowest = [...members].sort((a, b) => scoreOf.get(a)! - scoreOf.get(b)!).slice(0, 2);
    // the stack's lowest are not simply the file's lowest: the layers inside the blocks (attn1, ff) are scored too
    assert.ok(file.candidates.some((c) => !members.includes(c.id) && c.score !== null), 'the file scores candidates outside the stack');

    for (const [args, pattern] of [
      [['--stack', 'transformer_blocks', '--k', '6'], /--k 6: stack transformer_blocks has 6 blocks; expected 1 to 5/],
      [['--stack', 'transformer_blocks', '--k', '0'], /--k '0': expected an integer ≥ 1/],
      [['--stack', 'pos_embed', '--k', '1'], /--stack pos_embed: not a depth stack of .*\(its stacks: transformer_blocks \(6\)\)/],
      [['--stack', 'transformer_blocks'], /say how many of its blocks to prune with --k/],
      [['--stack', 'transformer_blocks', '--k', '1', '--lowest', '2'], /use only one of --lowest, --stack/],
    ] as const) {
      const r = cli('prune', pipeline, ...args, '--ep', 'cpu', '--no-metric', '--quiet');
      assert.notEqual(r.code, 0, `${args.join(' ')} was accepted`);
      assert.match(r.stderr, pattern);
    }

    const p = cli('prune', pipeline, '--stack', 'transformer_blocks', '--k', '2', '--ep', 'cpu', '--no-metric', '--quiet', '--samples', '2', '--steps', '2', '--latency-seconds', '0.5');
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /removed 2 candidates \(the 2 lowest-scored blocks of stack transformer_blocks\):/);
    const record = readPruneRecord(join(dir, 'digits-dit.pruned', 'transformer', 'model.prune.json'));
    assert.ok(record, 'the prune wrote its record');
    assert.deepEqual(record.removed.map((r) => r.id).sort(), [...lowest].sort());
    assert.deepEqual({ mode: record.selection.mode, stack: record.selection.stack, count: record.selection.count }, { mode: 'stack', stack: 'transformer_blocks', count: 2 });
    for (const c of record.checks) assert.notEqual(c.status, 'failed', `${c.name}: ${c.detail}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
