// deploy/slurm run for real: a one-node Slurm cluster (Debian's slurmctld, slurmd and munge, started by
// deploy/slurm/one-node-cluster.sh in a folder of its own) runs the shipped job array and the merge job
// chained on it, on an example pipeline; the merged score file equals one uninterrupted run, and a task
// submitted again resumes its shard instead of scoring it twice. Needs root and the packages, which
// scripts/setup.sh installs (as CI does); elsewhere it says why it is skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readScoreFile, type ScoreFile } from '../src/core/scoring/score-file';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'bin', 'ld-surgeon.js');
const CLUSTER = join(ROOT, 'deploy', 'slurm', 'one-node-cluster.sh');
const PIPELINE = join(ROOT, 'examples', 'digits-uncond');
const SHARDS = 3;
// What the shipped scripts read from the environment, kept small; the same settings for the single run.
const SETTINGS = { SAMPLES: '4', STEPS: '3', GRANULARITY: 'block', SEED: '5', EP: 'cpu' };

const hasSlurm = ['slurmctld', 'slurmd', 'sbatch', 'munged'].every((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);
const skip = process.platform !== 'linux' ? 'Linux only'
  : process.getuid?.() !== 0 ? 'needs root (slurmd starts jobs as their owner)'
  : !hasSlurm ? 'slurmctld, slurmd, slurm-client and munge are not installed (scripts/setup.sh installs them)'
  : !existsSync(join(ROOT, 'dist', 'cli.js')) ? 'npm run build first'
  : false;

const dir = mkdtempSync(join(tmpdir(), 'ld-surgeon-slurm-'));
const cluster = join(dir, 'cluster');
const out = join(dir, 'results');
let env: NodeJS.ProcessEnv = {};

before(() => {
  if (skip) return;
  mkdirSync(out);
  // the scripts call `ld-surgeon`, as on a cluster where it is installed with npm install -g
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(CLI, join(bin, 'ld-surgeon'));
  const started = spawnSync('bash', [CLUSTER, 'start', cluster], { encoding: 'utf8' });
  assert.equal(started.status, 0, `the one-node cluster did not start: ${started.stderr}`);
  const conf = /export SLURM_CONF=(\S+)/.exec(started.stdout)![1];
  env = { ...process.env, SLURM_CONF: conf, PATH: `${bin}:${process.env.PATH}` };
});
after(() => {
  if (!skip) {
    spawnSync('scancel', ['--user=root'], { env });
    spawnSync('bash', [CLUSTER, 'stop', cluster]);
  }
  rmSync(dir, { recursive: true, force: true });
});

/** sbatch with the shipped script's GPU, CPU and memory requests scaled to this machine. */
function sbatch(args: string[], exports: Record<string, string>): string {
  const exportList = ['ALL', ...Object.entries(exports).map(([k, v]) => `${k}=${v}`)].join(',');
  return execFileSync('sbatch', ['--parsable', '--gres=none', '--cpus-per-task=1', '--mem=1G', `--export=${exportList}`, ...args], { env, encoding: 'utf8', cwd: dir }).trim();
}

const scores = (f: ScoreFile) => Object.fromEntries(f.candidates.filter((c) => c.status === 'scored').map((c) => [c.id, c.variants]));
const shardFile = (i: number) => join(out, `model.ldscores.shard-${i}-of-${SHARDS}.json`);

test('the job array and the merge job chained on it give the scores of one uninterrupted run', { skip }, () => {
  const common = { PIPELINE, OUT_DIR: out, ...SETTINGS };
  const array = sbatch([`--array=1-${SHARDS}`, `--output=${join(dir, 'score-%A_%a.log')}`, join(ROOT, 'deploy', 'slurm', 'score-array.sh')], common);
  // --wait: sbatch returns when the merge job ends, with its exit code
  sbatch(['--wait', `--dependency=afterok:${array}`, `--output=${join(dir, 'merge-%j.log')}`, join(ROOT, 'deploy', 'slurm', 'merge.sh')], { ...common, SHARDS: String(SHARDS) });

  const merged = readScoreFile(join(out, 'model.ldscores.json'));
  const shards = Array.from({ length: SHARDS }, (_, i) => readScoreFile(shardFile(i + 1)));
  for (const s of shards) assert.ok(Object.keys(scores(s)).length < Object.keys(scores(merged)).length, 'each task scored only its slice');

  const single = join(dir, 'single.ldscores.json');
  const r = spawnSync(process.execPath, [CLI, 'score', PIPELINE, '--samples', SETTINGS.SAMPLES, '--steps', SETTINGS.STEPS, '--granularity', SETTINGS.GRANULARITY,
    '--seed', SETTINGS.SEED, '--ep', SETTINGS.EP, '--quiet', '--top', '0', '--out', single], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(scores(merged), scores(readScoreFile(single)));
});

test('a task submitted again (requeued, preempted) resumes its shard file: nothing is scored twice', { skip }, () => {
  const before = readScoreFile(shardFile(2));
  const again = sbatch(['--wait', '--array=2', `--output=${join(dir, 'again-%A_%a.log')}`, join(ROOT, 'deploy', 'slurm', 'score-array.sh')],
    { PIPELINE, OUT_DIR: out, ...SETTINGS, SHARDS: String(SHARDS) });
  const evaluations = (log: string) => Number(/\((\d+) evaluations? in/.exec(readFileSync(join(dir, log), 'utf8'))![1]);
  const first = readdirSync(dir).find((f) => /^score-\d+_2\.log$/.test(f))!;
  assert.deepEqual(scores(readScoreFile(shardFile(2))), scores(before));
  // the first run evaluated its candidates and the reference; the second only the reference latents it checks them against
  assert.ok(evaluations(first) > 1);
  assert.equal(evaluations(`again-${again}_2.log`), 1);
});
