// Jobs at once on one model never corrupt a score file or an output: a second `score` of the same score file
// refuses naming the running job (or waits with --wait and resumes from its results); a re-run racing an
// orphaned worker (its CLI killed) waits for that worker, which holds the lock; prunes read whole score files
// while a job rewrites them and say the scores are partial; two prunes of one output never mix; scoring reads
// the model on disk, not an editor's unsaved edits, and saving those edits makes the scores stale.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EditableModel } from '../src/core/edit';
import { acquireLock, LockedError, lockPathFor, type LockOwner } from '../src/core/job-lock';
import { readModel } from '../src/core/onnx/reader';
import { UserError } from '../src/core/errors';
import { ScoringClient } from '../src/worker/client';
import { readScoreFile, type ScoreFile } from '../src/core/scoring/score-file';
import { modelIdentity, sameIdentity } from '../src/core/scoring/target';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'bin', 'ld-surgeon.js');
// several seconds of scoring even on an idle machine, so other jobs can be started while it runs
const SCORE = ['--samples', '4', '--steps', '25', '--no-profile', '--ep', 'cpu'];
const PRUNE = ['--no-metric', '--samples', '2', '--steps', '1', '--latency-seconds', '0.2', '--ep', 'cpu', '--json'];

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; child: ChildProcess; done: Promise<Run> }

function cli(args: string[], detached = false): Run {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached });
  const r = { code: null, signal: null, stdout: '', stderr: '', child } as unknown as Run;
  child.stdout!.on('data', (d) => (r.stdout += d));
  child.stderr!.on('data', (d) => (r.stderr += d));
  r.done = new Promise((ok) => child.on('close', (code, signal) => { r.code = code; r.signal = signal; ok(r); }));
  return r;
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const scoredIds = (f: ScoreFile) => f.candidates.filter((c) => c.status === 'scored').map((c) => c.id);
const evaluations = (stdout: string) => Number(/\((\d+) evaluations in/.exec(stdout)?.[1] ?? NaN);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined, ms = 60_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) {
    const v = probe();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

function pipelineCopy(root: string, name: string): { pipeline: string; scoreFile: string } {
  const pipeline = join(root, name);
  cpSync(join(ROOT, 'examples', 'digits-uncond'), pipeline, { recursive: true });
  rmSync(join(pipeline, 'unet', 'model.ldscores.json'), { force: true });
  return { pipeline, scoreFile: join(pipeline, 'unet', 'model.ldscores.json') };
}

const readOwner = (scoreFile: string): LockOwner | undefined => {
  try {
    return JSON.parse(readFileSync(lockPathFor(scoreFile), 'utf8'));
  } catch {
    return undefined;
  }
};

/**
 * Reads the score file as fast as it can while a job rewrites it: every read must parse and check (the file is
 * replaced by rename, never written in place), and the scored candidates may only grow (no older write lands
 * after a newer one).
 */
function watchScores(file: string) {
  const stats = { reads: 0, failures: [] as string[], versions: new Set<string>(), shrank: [] as string[] };
  let last = new Set<string>();
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      if (existsSync(file)) {
        try {
          const f = readScoreFile(file);
          stats.reads++;
          stats.versions.add(f.updatedAt);
          const now = new Set(scoredIds(f));
          const lost = [...last].filter((id) => !now.has(id));
          if (lost.length) stats.shrank.push(`${f.updatedAt}: lost ${lost.join(', ')}`);
          last = now;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') stats.failures.push((e as Error).message);
        }
      }
      await sleep(2);
    }
  })();
  return { stats, stop: async () => { stop = true; await loop; return stats; } };
}

let reference: ScoreFile | undefined;
// a failed assertion must not leave a watcher polling (it would keep the test process alive)
const stops: (() => Promise<unknown>)[] = [];
after(async () => { await Promise.all(stops.map((s) => s())); });

test('a second score of the same file refuses naming the running job; --wait resumes from its results; prunes meanwhile read whole files and say the scores are partial', {
  timeout: 180_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-conc-'));
  try {
    const { pipeline, scoreFile } = pipelineCopy(dir, 'p');
    const watch = watchScores(scoreFile);
    stops.push(watch.stop);
    const first = cli(['score', pipeline, ...SCORE, '--quiet']);
    const owner = await until('the first job to take its lock', () => readOwner(scoreFile));
    // the worker (which writes the file) holds the lock, started by the CLI
    assert.equal(owner.parentPid, first.child.pid);
    assert.notEqual(owner.pid, first.child.pid);

    const [refused, waiter] = [cli(['score', pipeline, ...SCORE, '--quiet']), cli(['score', pipeline, ...SCORE, '--wait'])];

    // prunes, one after another, while the job writes: each reads a whole file and says its scores are partial
    const prunes: { partial: boolean; removed: number; note?: string }[] = [];
    await until('a first result', () => (existsSync(scoreFile) && scoredIds(readScoreFile(scoreFile)).length > 0 ? true : undefined));
    for (let i = 0; first.code === null && first.signal === null && i < 2; i++) {
      const out = join(dir, `pruned-${i}`);
      const p = await cli(['prune', pipeline, '--lowest', '1', '--out', out, ...PRUNE]).done;
      assert.equal(p.code, 0, p.stderr);
      const record = JSON.parse(p.stdout);
      const note = (record.notes as string[] | undefined)?.find((n) => n.startsWith('using partial scores'));
      prunes.push({ partial: !!note, removed: record.removed.length, note });
      // the output folder is whole: its model is the one its record describes, and no score lock or temp file came along
      assert.equal(sha256(join(out, 'unet', 'model.onnx')), record.output.sha256);
      assert.deepEqual(readdirSync(join(out, 'unet')).sort(), ['config.json', 'model.onnx', 'model.prune.json']);
    }

    const r = await refused.done;
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`in use by score .* \\(pid ${owner.pid}, started by pid ${first.child.pid}, on .*, started at ${owner.startedAt.replace(/\./g, '\\.')}\\); wait for it to finish \\(or pass --wait\\)`));

    const a = await first.done;
    assert.equal(a.code, 0, a.stderr);
    const w = await waiter.done;
    assert.equal(w.code, 0, w.stderr);
    const stats = await watch.stop();

    const final = readScoreFile(scoreFile);
    const modifiable = scoredIds(final).length;
    assert.equal(final.complete, true);
    assert.equal(evaluations(a.stdout), 1 + modifiable, a.stdout);
    // the waiting run started after the first ended: it re-ran only L_orig and kept every result
    assert.match(w.stderr, new RegExp(`in use by score .*\\(pid ${owner.pid}, .*\\); waiting for it to finish`));
    assert.match(w.stderr, new RegExp(`\\(${modifiable} already scored, resuming\\)`));
    assert.equal(evaluations(w.stdout), 1, w.stdout);
    assert.match(w.stdout, new RegExp(`scored model: .*model\\.onnx \\(sha256 ${sha256(join(pipeline, 'unet', 'model.onnx'))}\\)`));

    assert.deepEqual(stats.failures, [], 'every read of the score file parsed');
    assert.deepEqual(stats.shrank, [], 'no older write landed after a newer one');
    assert.ok(stats.reads > 50 && stats.versions.size >= 2, `${stats.reads} reads, ${stats.versions.size} versions`);
    assert.ok(prunes.length >= 1 && prunes[0].partial, JSON.stringify(prunes));
    assert.match(prunes[0].note!, new RegExp(`\\d+ of ${modifiable} candidates scored .*score .*\\(pid ${owner.pid},.* is still writing it`));
    assert.ok(!existsSync(lockPathFor(scoreFile)), 'the lock is gone once the jobs end');
    assert.deepEqual(readdirSync(join(pipeline, 'unet')).sort(), ['config.json', 'model.ldscores.json', 'model.onnx']);
    console.log(`# score while scoring: 1 refused, 1 waited and resumed ${modifiable}/${modifiable}; ${prunes.length} prunes during the job (${prunes.filter((p) => p.partial).length} on partial scores); ${stats.reads} reads of the score file while it was rewritten (${stats.versions.size} versions), 0 failed, 0 went back`);
    reference = final;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a re-run waiting on a job whose CLI is killed waits for the orphaned worker\'s last write, then ends with the uninterrupted scores', {
  timeout: 120_000,
}, async (t) => {
  if (!reference) return t.skip('needs the first test\'s uninterrupted scores');
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-conc-'));
  try {
    const { pipeline, scoreFile } = pipelineCopy(dir, 'p');
    const watch = watchScores(scoreFile);
    stops.push(watch.stop);
    const run = cli(['score', pipeline, ...SCORE, '--quiet'], true);
    const owner = await until('the job to take its lock', () => readOwner(scoreFile));
    const rerun = cli(['score', pipeline, ...SCORE, '--wait']);
    await until('the re-run to wait', () => (/waiting for it to finish/.test(rerun.stderr) ? true : undefined));
    await until('a saved result', () => (existsSync(scoreFile) && scoredIds(readScoreFile(scoreFile)).length > 0 ? true : undefined));
    const savedAtKill = existsSync(scoreFile) ? scoredIds(readScoreFile(scoreFile)).length : 0;
    // only the CLI dies: its worker (the lock's owner) finds its host gone, stops at the next candidate and
    // saves once more; the waiting re-run must not start before that last write
    process.kill(run.child.pid!, 'SIGKILL');
    const killed = await run.done;
    assert.equal(killed.signal, 'SIGKILL', 'the CLI was killed mid-run');
    const r = await rerun.done;
    const stats = await watch.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(owner.parentPid, run.child.pid, 'the worker, not the CLI, held the lock');
    assert.match(r.stderr, new RegExp(`in use by score .*\\(pid ${owner.pid}, started by pid ${run.child.pid},.*\\); waiting for it to finish`));
    const resumed = Number(/\((\d+) already scored, resuming\)/.exec(r.stderr)?.[1] ?? 0);
    const final = readScoreFile(scoreFile);
    const modifiable = scoredIds(reference).length;
    assert.ok(savedAtKill >= 1 && resumed >= savedAtKill, `resumed ${resumed}, saved at the kill ${savedAtKill}`);
    assert.equal(final.complete, true);
    assert.equal(evaluations(r.stdout), 1 + modifiable - resumed, r.stdout);
    const byId = new Map(final.candidates.map((c) => [c.id, c]));
    for (const c of reference.candidates) assert.equal(byId.get(c.id)?.score, c.score, `${c.id}: the same score as the uninterrupted run`);
    assert.deepEqual(stats.failures, []);
    assert.deepEqual(stats.shrank, [], 'the orphan never wrote over the re-run');
    console.log(`# orphaned worker: the re-run waited for it (pid ${owner.pid}); ${savedAtKill} saved at the CLI's kill, ${resumed} after the worker's last write, resumed ${resumed}/${modifiable}, same scores as uninterrupted; ${stats.reads} reads, 0 failed, 0 went back`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the lock names a live owner and is taken over only once that process is gone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-conc-'));
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    const file = join(dir, 'model.ldscores.json');
    const other: LockOwner = { pid: sleeper.pid!, host: (await import('node:os')).hostname(), startedAt: '2026-01-01T00:00:00.000Z', job: 'score elsewhere', token: 'feedbeef' };
    writeFileSync(lockPathFor(file), JSON.stringify(other));
    await assert.rejects(acquireLock(file, 'score here'), (e: unknown) => e instanceof LockedError && e.owner.pid === sleeper.pid && /in use by score elsewhere \(pid \d+, on .*, started at 2026-01-01T00:00:00\.000Z\)/.test(e.message));
    // the extension's path: its score job runs the worker through ScoringClient, whose user error becomes the job's error
    const client = ScoringClient.start({ target: join(ROOT, 'examples', 'digits-uncond'), settings: { samples: 2, steps: 1, ep: 'cpu' }, out: file },
      { modulePath: join(ROOT, 'dist', 'worker.js'), execArgv: [] });
    await assert.rejects(client.finished, (e: unknown) => e instanceof UserError && e.message.includes(`in use by score elsewhere (pid ${sleeper.pid},`) && e.message.includes('(or pass --wait)'));
    // waiting: the lock is ours as soon as the owner dies
    let told: LockOwner | undefined;
    const waiting = acquireLock(file, 'score here', { wait: true, pollMs: 20, onWait: (o) => (told = o) });
    await sleep(100);
    assert.equal(told?.pid, sleeper.pid);
    sleeper.kill('SIGKILL');
    const held = await waiting;
    assert.equal(readOwner(file)?.token, held.owner.token);
    // fenced: a lock removed or replaced behind the job's back stops its next write
    writeFileSync(lockPathFor(file), JSON.stringify({ ...other, pid: process.pid, token: 'another' }));
    assert.throws(() => held.check(), /was taken over by score elsewhere/);
    held.release();
    assert.equal(readOwner(file)?.token, 'another', 'release never removes a successor\'s lock');
    // a lock from another machine is never judged stale
    writeFileSync(lockPathFor(file), JSON.stringify({ ...other, pid: 999999, host: 'elsewhere' }));
    await assert.rejects(acquireLock(file, 'score here'), /it runs on another machine: delete .*\.lock if it is no longer running/);
  } finally {
    sleeper.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock whose owner was SIGKILLed but never reaped (a zombie, as under a container PID 1 that does not reap) is taken over', { skip: process.platform !== 'linux' && '/proc' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-conc-'));
  // the shell forks a short child, then becomes a sleep that never waits for it: the child stays a zombie
  const parent = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const pid = Number(await new Promise<string>((res) => parent.stdout!.once('data', (d) => res(String(d).trim()))));
    await until('the child to exit unreaped', () => /\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')) || undefined);
    assert.doesNotThrow(() => process.kill(pid, 0), 'signal 0 still reaches a zombie');
    const file = join(dir, 'model.ldscores.json');
    writeFileSync(lockPathFor(file), JSON.stringify({ pid, host: (await import('node:os')).hostname(), startedAt: '2026-01-01T00:00:00.000Z', job: 'score killed', token: 'deadbeef' }));
    const held = await acquireLock(file, 'score here');
    assert.equal(readOwner(file)?.token, held.owner.token);
    held.release();
  } finally {
    parent.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two prunes of one output at once: one refuses naming the other, the output is whole', { timeout: 120_000 }, async (t) => {
  if (!reference) return t.skip('needs the first test\'s score file');
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-conc-'));
  try {
    const { pipeline, scoreFile } = pipelineCopy(dir, 'p');
    writeFileSync(scoreFile, JSON.stringify(reference));
    const out = join(dir, 'p.pruned');
    const a = cli(['prune', pipeline, '--lowest', '1', ...PRUNE]);
    const owner = await until('the first prune to lock its output', () => readOwner(out));
    const b = await cli(['prune', pipeline, '--lowest', '3', ...PRUNE]).done;
    const ra = await a.done;
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(b.code, 2, b.stderr);
    assert.match(b.stderr, new RegExp(`${out.replace(/[.]/g, '\\.')}: in use by prune .*\\(pid ${owner.pid}, .*started at`));
    const record = JSON.parse(readFileSync(join(out, 'unet', 'model.prune.json'), 'utf8'));
    assert.equal(record.removed.length, 1, 'the first prune\'s output, not the refused one\'s');
    assert.equal(sha256(join(out, 'unet', 'model.onnx')), record.output.sha256);
    assert.deepEqual(readdirSync(dir).sort(), ['p', 'p.pruned'], 'no staging folder or lock left');

    // bare models, started together: one refuses or they run one after the other; the output always matches its record
    const model = join(dir, 'm.onnx');
    cpSync(join(pipeline, 'unet', 'model.onnx'), model);
    writeFileSync(join(dir, 'm.ldscores.json'), JSON.stringify(reference));
    const both = await Promise.all([1, 3].map((k) => cli(['prune', model, '--lowest', String(k), ...PRUNE]).done));
    const ok = both.filter((r) => r.code === 0);
    for (const r of both) if (r.code !== 0) assert.match(r.stderr, /m\.pruned\.onnx: in use by prune .*\(pid \d+,/, r.stderr);
    assert.ok(ok.length >= 1);
    const rec = JSON.parse(readFileSync(join(dir, 'm.pruned.prune.json'), 'utf8'));
    assert.equal(sha256(join(dir, 'm.pruned.onnx')), rec.output.sha256, 'model and record come from the same prune');
    console.log(`# two prunes of one output: pipeline 1 refused; bare model started together: ${2 - ok.length} refused, output whole`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scoring while the editor has unsaved edits scores the file on disk; saving the edits makes the scores stale', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-conc-'));
  try {
    const model = join(dir, 'model.onnx');
    cpSync(join(ROOT, 'examples', 'digits-uncond', 'unet', 'model.onnx'), model);
    const onDisk = sha256(model);
    const doc = await EditableModel.open(model);
    await doc.apply({ kind: 'bypass', module: 'mid_block.resnets.1' });
    assert.equal(doc.dirty, true);

    const r = await cli(['score', model, '--samples', '2', '--steps', '2', '--no-profile', '--ep', 'cpu']).done;
    assert.equal(r.code, 0, r.stderr);
    const scores = readScoreFile(join(dir, 'model.ldscores.json'));
    assert.equal(scores.model.sha256, onDisk, 'the score file names the bytes on disk');
    assert.match(r.stdout, new RegExp(`scored model: .*model\\.onnx \\(sha256 ${onDisk}\\)`));
    assert.ok(scores.candidates.some((c) => c.id === 'mid_block.resnets.1' && c.status === 'scored'), 'the bypassed module is still in the scored model');

    // Save As onto the original (the editor keeps a backup): the scores now describe another model
    const saved = await doc.save(model, { overwriteOriginal: true });
    assert.ok(saved.backup && sha256(saved.backup) === onDisk);
    assert.notEqual(sha256(model), onDisk);
    assert.equal(sameIdentity(await modelIdentity(await readModel(model)), scores.model), false);
    const p = await cli(['prune', model, '--lowest', '1', ...PRUNE]).done;
    assert.equal(p.code, 2, p.stderr);
    assert.match(p.stderr, /model\.ldscores\.json: was written for another version of .*model\.onnx \(its hash differs\); score this model again/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
