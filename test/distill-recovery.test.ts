// The whole LD-Pruner loop a user runs from the CLI, on the shipped conditional digits pipeline: score its blocks,
// prune the lowest scored until latency drops by a third (the paper's floor), then distill the pruned U-Net from
// the original. The pruned model loses quality; distillation must win a clear part of it back: the KD loss falls
// and the pipeline's own metric (FID and class accuracy of the metric classifier) improves over the pruned model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEvent, type TrainerEvent } from '../src/core/distill';
import { readPruneRecord } from '../src/core/prune/record';

const ROOT = join(__dirname, '..');
const PYTHON = process.env.LD_SURGEON_PYTHON ?? '/usr/bin/python3';

function cli(...args: string[]): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'ld-surgeon.js'), ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `ld-surgeon ${args.join(' ')} exited with ${r.status}:\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('score → prune −35% latency → distill: the distilled student wins back quality the prune lost', { timeout: 20 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-recovery-'));
  try {
    const pipeline = join(dir, 'digits-cond');
    cpSync(join(ROOT, 'examples', 'digits-cond'), pipeline, { recursive: true });
    const original = join(pipeline, 'unet', 'model.onnx');
    const originalHash = sha(original);

    cli('score', pipeline, '--granularity', 'block', '--samples', '16', '--steps', '10', '--ep', 'cpu', '--quiet');
    cli('prune', pipeline, '--target-latency', '-35%', '--ep', 'cpu', '--no-metric', '--quiet');
    const pruned = join(dir, 'digits-cond.pruned');
    const record = readPruneRecord(join(pruned, 'unet', 'model.prune.json'));
    assert.ok(record, 'the prune wrote its record');

    const out = cli(
      'distill', '--student', pruned, '--teacher', pipeline, '--python', PYTHON, '--device', 'cpu', '--json',
      '--steps', '200', '--batch', '16', '--seed', '0',
      '--data-samples', '256', '--data-steps', '10', '--eval-samples', '200', '--eval-steps', '10',
      '--eval-every', '100', '--checkpoint-every', '0', '--log-every', '10',
    );
    const events = out.split('\n').map(parseEvent).filter((e): e is TrainerEvent => !!e);
    const steps = events.filter((e): e is Extract<TrainerEvent, { event: 'step' }> => e.event === 'step');
    const done = events.find((e): e is Extract<TrainerEvent, { event: 'done' }> => e.event === 'done');
    assert.ok(done, 'the trainer finished');
    const kd = (e: Extract<TrainerEvent, { event: 'step' }>) => (e.loss_out ?? 0) + (e.loss_feat ?? 0);
    const kdFirst = kd(steps[0]);
    const kdLast = steps.slice(-3).reduce((s, e) => s + kd(e), 0) / 3;
    const before = done.metrics_before!;
    const after = done.metrics_after!;
    const teacher = done.metrics_teacher!;
    console.log(
      `pruned ${record.removed.length} blocks (params ${record.before.params} → ${record.after.params}); KD loss ${kdFirst.toFixed(4)} → ${kdLast.toFixed(4)}; ` +
      `FID teacher ${teacher.FID.toFixed(2)}, pruned ${before.FID.toFixed(2)}, distilled ${after.FID.toFixed(2)}; ` +
      `class accuracy ${before.class_accuracy} → ${after.class_accuracy} (200 samples, 10 DDIM steps)`,
    );

    assert.ok(kdLast < 0.5 * kdFirst, `the KD loss falls (${kdFirst} → ${kdLast})`);
    assert.ok(before.FID > 1.5 * teacher.FID, `the prune costs quality (FID ${teacher.FID} → ${before.FID}), so there is something to recover`);
    assert.ok(after.FID < before.FID - 0.4 * (before.FID - teacher.FID), `distillation wins back at least 40% of the FID gap (${before.FID} → ${after.FID}, teacher ${teacher.FID})`);
    assert.ok(after.class_accuracy > before.class_accuracy, `class accuracy improves (${before.class_accuracy} → ${after.class_accuracy})`);
    assert.equal(done.output, join(pruned, 'unet', 'model.distilled.onnx'));
    assert.ok(existsSync(done.output!), 'the distilled model is written beside the pruned one');
    assert.equal(sha(original), originalHash, 'the original U-Net is untouched');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
