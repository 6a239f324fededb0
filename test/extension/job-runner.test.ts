// The job runner outside VS Code: run folders, progress from JSON lines, cancel, failure, orphans.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startJob, type JobRequest } from '../../src/extension/jobs/jobRunner';
import { jsonLinesProtocol } from '../../src/extension/jobs/jsonLines';
import {
  createRunFolder, isProcessAlive, listRuns, readStatus, settleOrphan, writeJsonAtomic, type JobStatus,
} from '../../src/extension/jobs/runFolder';

const FAKE = path.resolve('test/e2e/fixtures/fake-job.mjs');

function request(mode: string, target: string, extra: string[] = []): JobRequest {
  return {
    kind: 'score',
    title: `fake ${mode}`,
    target,
    settings: { kind: 'score', target, options: { mode } },
    process: () => ({ type: 'spawn', command: process.execPath, args: [FAKE, mode, ...extra] }),
    protocol: jsonLinesProtocol,
  };
}

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'ld-surgeon-jobs-'));
}

test('a job reports progress, its execution provider and outputs, and records them', async () => {
  const root = tmp();
  try {
    const out = path.join(root, 'out.txt');
    const seen: number[] = [];
    const job = await startJob(root, request('done', '/models/m.onnx', [out]), (j) => j.onDidChange((s) => seen.push(s.progress ?? 0)));
    const s = await job.finished;
    assert.equal(s.state, 'done');
    assert.equal(s.executionProvider, 'cpu');
    assert.deepEqual(s.outputs, [out]);
    assert.ok(seen.includes(0.5), `progress updates: ${seen.join(',')}`);
    assert.equal(readFileSync(out, 'utf8'), 'result\n');
    const onDisk = await readStatus(job.dir);
    assert.equal(onDisk?.state, 'done');
    assert.equal(onDisk?.progress, 1);
    const log = readFileSync(path.join(job.dir, 'log.txt'), 'utf8');
    assert.match(log, /fake done/);
    assert.match(log, /fake job: plain log line/);
    assert.doesNotMatch(log, /"type":"progress"/, 'protocol lines are not log text');
    assert.deepEqual(JSON.parse(readFileSync(path.join(job.dir, 'settings.json'), 'utf8')).options, { mode: 'done' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('cancel ends the process and the job is cancelled', async () => {
  const root = tmp();
  try {
    const job = await startJob(root, request('hang', '/models/m.onnx'));
    const pid = job.status.pid!;
    await new Promise((r) => setTimeout(r, 200));
    job.cancel();
    const s = await job.finished;
    assert.equal(s.state, 'cancelled');
    assert.equal(isProcessAlive(pid), false);
    assert.equal((await readStatus(job.dir))?.state, 'cancelled');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a failing process fails the job with its last stderr line', async () => {
  const root = tmp();
  try {
    const s = await (await startJob(root, request('fail', '/models/m.onnx'))).finished;
    assert.equal(s.state, 'failed');
    assert.equal(s.error, 'the job process exited with code 3: fake job: the input is broken');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a command that does not exist fails the job instead of hanging', async () => {
  const root = tmp();
  try {
    const req: JobRequest = { ...request('x', '/m.onnx'), process: () => ({ type: 'spawn', command: path.join(root, 'no-such-binary'), args: [] }) };
    const s = await (await startJob(root, req)).finished;
    assert.equal(s.state, 'failed');
    assert.match(s.error ?? '', /could not start the job process: .*ENOENT/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('run folders are unique per start and listed newest first', async () => {
  const root = tmp();
  try {
    const when = new Date('2024-05-01T12:03:04Z');
    const a = await createRunFolder(root, 'prune', when);
    const b = await createRunFolder(root, 'prune', when);
    assert.equal(path.basename(a), '20240501-120304-prune');
    assert.equal(path.basename(b), '20240501-120304-prune-2');
    const base: JobStatus = { kind: 'prune', state: 'done', title: 't', target: '/m.onnx', startedAt: '2024-05-01T12:03:04.000Z' };
    await writeJsonAtomic(path.join(a, 'status.json'), base);
    await writeJsonAtomic(path.join(b, 'status.json'), { ...base, startedAt: '2024-05-01T12:03:05.000Z' });
    // a folder without a readable status is not a run
    await createRunFolder(root, 'score', when);
    assert.deepEqual((await listRuns(root)).map((r) => path.basename(r.dir)), ['20240501-120304-prune-2', '20240501-120304-prune']);
    assert.equal(existsSync(path.join(a, 'status.json.tmp')), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a running status whose process is gone reads as interrupted', () => {
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
  const s: JobStatus = { kind: 'score', state: 'running', title: 't', target: '/m.onnx', startedAt: '2024-01-01T00:00:00Z', pid: dead };
  const settled = settleOrphan(s);
  assert.equal(settled.state, 'failed');
  assert.match(settled.error ?? '', /^interrupted/);
  assert.equal(settleOrphan({ ...s, pid: process.pid }).state, 'running', 'a live process stays running');
});

test('the run folder log and the output channel get plain text: onnxruntime\'s colour escapes are stripped', async () => {
  const root = tmp();
  try {
    const lines: string[] = [];
    const red = '\x1b[1;31m2026-12-06 [E:onnxruntime:onnxruntime-node, provider_bridge_ort.cc:2146 Create] Failed\x1b[m';
    const job = await startJob(root, {
      ...request('done', '/models/m.onnx'),
      process: () => ({ type: 'spawn', command: process.execPath, args: ['-e', `process.stderr.write(${JSON.stringify(red)} + '\\n')`] }),
    }, (j) => j.onLog((line) => lines.push(line)));
    await job.finished;
    const log = readFileSync(path.join(job.dir, 'log.txt'), 'utf8');
    assert.match(log, /^2026-12-06 \[E:onnxruntime:onnxruntime-node, provider_bridge_ort\.cc:2146 Create\] Failed$/m);
    assert.doesNotMatch(log, /\x1b/);
    assert.ok(lines.some((l) => l.includes('provider_bridge_ort')) && lines.every((l) => !l.includes('\x1b')), lines.join('\n'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
