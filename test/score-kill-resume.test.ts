// A scoring run killed with SIGKILL mid-way (the OOM killer, a closed laptop) loses only what it had not saved:
// the next run of the same command keeps every candidate the score file already holds, evaluates only the rest,
// and ends with the same scores as a run that was never interrupted (same seeds, deterministic onnxruntime).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killGroup } from './helpers/kill-group';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'bin', 'ld-surgeon.js');
const ARGS = ['--samples', '4', '--steps', '25', '--no-profile']; // long enough (several seconds even on an idle machine) for a few once-a-second saves

type Scores = { complete: boolean; candidates: { id: string; status: string; score: number | null }[] };
const readScores = (file: string): Scores => JSON.parse(readFileSync(file, 'utf8'));
const evaluations = (stdout: string) => Number(/\((\d+) evaluations in/.exec(stdout)?.[1] ?? NaN);

function pipelineCopy(): { dir: string; scoreFile: string; pipeline: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-kill-'));
  const pipeline = join(dir, 'p');
  cpSync(join(ROOT, 'examples', 'digits-uncond'), pipeline, { recursive: true });
  rmSync(join(pipeline, 'unet', 'model.ldscores.json'), { force: true });
  return { dir, pipeline, scoreFile: join(pipeline, 'unet', 'model.ldscores.json') };
}

/**
 * Runs `score` and SIGKILLs it once the score file holds at least `after` scored candidates (not yet complete). The
 * whole process group goes, as with the OOM killer or a lost machine: killing only the CLI would leave its forked
 * scoring worker to notice the lost host, stop at the next candidate and save once more after the kill.
 */
function scoreAndKill(pipeline: string, scoreFile: string, after: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'score', pipeline, ...ARGS, '--quiet'], { stdio: 'ignore', detached: true });
    let seen = 0;
    const poll = setInterval(() => {
      if (!existsSync(scoreFile)) return;
      const s = readScores(scoreFile); // must always parse: the file is replaced whole, never half-written
      seen = s.candidates.filter((c) => c.status === 'scored').length;
      if (seen >= after && !s.complete) { clearInterval(poll); killGroup(child); }
    }, 20);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      if (signal === 'SIGKILL') resolve(seen);
      else reject(new Error(`score finished (code ${code}) before it could be killed after ${after} candidates`));
    });
  });
}

test('score killed with SIGKILL resumes without re-evaluating saved candidates and gives the uninterrupted scores', {
  timeout: 120_000,
}, async () => {
  const ref = pipelineCopy();
  const cut = pipelineCopy();
  try {
    const full = spawnSync(process.execPath, [CLI, 'score', ref.pipeline, ...ARGS, '--quiet'], { encoding: 'utf8' });
    assert.equal(full.status, 0, full.stderr);
    const expected = readScores(ref.scoreFile);
    const modifiable = expected.candidates.filter((c) => c.status === 'scored').length;
    assert.equal(evaluations(full.stdout), 1 + modifiable, full.stdout);

    await scoreAndKill(cut.pipeline, cut.scoreFile, 1);
    const atKill = readScores(cut.scoreFile);
    const saved = atKill.candidates.filter((c) => c.status === 'scored').length;
    assert.ok(saved >= 1 && saved < modifiable, `killed part-way: ${saved} of ${modifiable} saved`);
    assert.deepEqual(readdirSync(join(cut.pipeline, 'unet')).filter((f) => f.endsWith('.tmp') || f.includes('.tmp-')), []);

    const again = spawnSync(process.execPath, [CLI, "score", cut.pipeline, ...ARGS], { encoding: "utf8" });
    assert.match(again.stderr, new RegExp(`\\(${saved} already scored, resuming\\)`), again.stderr);
    assert.equal(again.status, 0, again.stderr);
    // L_orig once more, then only the candidates the killed run had not saved
    assert.equal(evaluations(again.stdout), 1 + modifiable - saved, again.stdout);
    const resumed = readScores(cut.scoreFile);
    assert.equal(resumed.complete, true);
    const byId = new Map(resumed.candidates.map((c) => [c.id, c]));
    for (const c of expected.candidates) {
      assert.equal(byId.get(c.id)?.status, c.status, c.id);
      assert.equal(byId.get(c.id)?.score, c.score, `${c.id}: resumed score equals the uninterrupted run's`);
    }
  } finally {
    rmSync(ref.dir, { recursive: true, force: true });
    rmSync(cut.dir, { recursive: true, force: true });
  }
});
