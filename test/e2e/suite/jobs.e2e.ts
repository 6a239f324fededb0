// Jobs run as processes with a run folder; the Jobs view lists them with state, duration and EP; cancel
// stops the process; a job whose process died unobserved shows as interrupted.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { existsSync, promises as fs } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { suite, suiteSetup, test } from './tdd';
import { api, REPO, unetPath, workspaceRoot } from './helpers';
import { jsonLinesProtocol } from '../../../src/extension/jobs/jsonLines';
import { isProcessAlive, readStatus, writeJsonAtomic } from '../../../src/extension/jobs/runFolder';
import type { JobRequest } from '../../../src/extension/jobs/jobRunner';
import type { LdSurgeonApi } from '../../../src/extension/api';

const FAKE = path.join(REPO, 'test', 'e2e', 'fixtures', 'fake-job.mjs');

function fakeJob(mode: 'done' | 'hang' | 'fail', output?: string): JobRequest {
  return {
    kind: 'score',
    title: `fake ${mode}`,
    target: unetPath(),
    executionProvider: 'auto',
    settings: { kind: 'score', target: unetPath(), options: { fake: mode } },
    process: () => ({ type: 'spawn', command: process.execPath, args: [FAKE, mode, ...(output ? [output] : [])] }),
    protocol: jsonLinesProtocol,
  };
}

suite('jobs', () => {
  let a: LdSurgeonApi;
  const runsRoot = () => path.join(workspaceRoot(), '.ld-surgeon', 'runs');

  suiteSetup(async () => {
    a = await api();
  });

  test('a finished job leaves a complete run folder and a "done" row', async () => {
    const out = path.join(workspaceRoot(), 'fake-output.txt');
    const job = await a.jobs.start(fakeJob('done', out));
    assert.equal(path.dirname(job.dir), runsRoot(), 'run folder under the workspace .ld-surgeon/runs');
    assert.match(path.basename(job.dir), /^\d{8}-\d{6}-score(-\d+)?$/);
    const s = await job.finished;
    assert.equal(s.state, 'done');
    assert.equal(s.progress, 1);
    assert.equal(s.executionProvider, 'cpu');
    assert.deepEqual(s.outputs, [out]);
    const onDisk = await readStatus(job.dir);
    assert.equal(onDisk?.state, 'done');
    assert.ok(onDisk?.endedAt);
    const settings = JSON.parse(await fs.readFile(path.join(job.dir, 'settings.json'), 'utf8'));
    assert.deepEqual(settings.options, { fake: 'done' });
    const log = await fs.readFile(path.join(job.dir, 'log.txt'), 'utf8');
    assert.match(log, /fake job: plain log line/);
    const row = (await a.jobsView.getChildren()).find((i) => i.record.dir === job.dir)!;
    assert.ok(row, 'listed in the Jobs view');
    assert.match(String(row.description), /^done · \d+(ms|s) · cpu$/);
    assert.equal(row.contextValue, 'ldSurgeon.job.done.output');
  });

  test('cancel stops a running job and records it as cancelled', async () => {
    const job = await a.jobs.start(fakeJob('hang'));
    const pid = job.status.pid!;
    assert.ok(isProcessAlive(pid));
    const row = (await a.jobsView.getChildren()).find((i) => i.record.dir === job.dir)!;
    assert.match(row.contextValue!, /^ldSurgeon\.job\.running/);
    await a.jobs.cancel(job.dir);
    const s = await job.finished;
    assert.equal(s.state, 'cancelled');
    assert.equal(isProcessAlive(pid), false, 'the process is gone');
    assert.equal((await readStatus(job.dir))?.state, 'cancelled');
  });

  test('a failing process gives a failed job with its error', async () => {
    const job = await a.jobs.start(fakeJob('fail'));
    const s = await job.finished;
    assert.equal(s.state, 'failed');
    assert.match(s.error ?? '', /code 3: fake job: the input is broken/);
  });

  test('a job whose process died while no window watched it shows as interrupted', async () => {
    const dir = path.join(runsRoot(), '20200101-000000-distill');
    await fs.mkdir(dir, { recursive: true });
    // a pid that surely ended: a child that has already exited
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    await writeJsonAtomic(path.join(dir, 'status.json'), {
      kind: 'distill', state: 'running', title: 'Distill: old', target: unetPath(),
      startedAt: '2020-01-01T00:00:00.000Z', pid: Number(dead.stdout),
    });
    const row = (await a.jobsView.getChildren()).find((i) => i.record.dir === dir)!;
    assert.ok(row, 'listed');
    assert.equal(row.record.status.state, 'failed');
    assert.match(String(row.description), /^interrupted · /);
    // a distillation (so it has the chart action), but not resumable: its trainer left no checkpoint
    assert.equal(row.contextValue, 'ldSurgeon.job.failed.distill');
  });

  test('jobs are listed newest first', async () => {
    const rows = await a.jobsView.getChildren();
    const starts = rows.map((r) => r.record.status.startedAt);
    assert.deepEqual(starts, [...starts].sort().reverse());
    assert.ok(existsSync(runsRoot()));
  });
});
