// prune (a pipeline and a bare model), sample, convert and distill SIGKILLed — the whole process group, as the OOM
// killer or a lost machine would — at seeded random moments and at the moments that matter: just after the first
// progress, and while the output is being written (found by polling for the staging folder or temp file). After
// every kill the originals are byte-identical, the output is absent or complete (it loads, and its bytes equal the
// uninterrupted result), and only hidden, pid-named leftovers remain; the next run of the same command succeeds and
// removes them. Then a write that hits the file-size limit (ulimit -f: EFBIG, as a full disk gives ENOSPC) fails
// with one line naming the output and leaves no partial model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { readModel } from '../src/core/onnx/reader';
import { readNpy } from '../src/core/npy';
import { killGroup, seededRandom, sha256, spawnGroup, treeHashes, type GroupRun } from './helpers/kill-group';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'bin', 'ld-surgeon.js');
const PYTHON = process.env.LD_SURGEON_PYTHON ?? '/usr/bin/python3';
const SEED = 20261206;
const random = seededRandom(SEED);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An entry of `dir` matching `re` that this run made (not there when it started): a killed run's leftovers do not count. */
type Fresh = (dir: string, re: RegExp) => string | undefined;
/** When to kill: after a (seeded) delay, or as soon as `when` sees the moment (polled every 2 ms). */
interface Moment { label: string; delayMs?: number; when?: (run: GroupRun, fresh: Fresh) => boolean }
const randomMoment = (lo: number, hi: number): Moment => {
  const delayMs = Math.round(lo + random() * (hi - lo));
  return { label: `random ${delayMs} ms`, delayMs };
};

/** A job under test: its folders, its command, and what a complete output looks like. */
interface Job {
  name: string;
  ws: string;
  /** the inputs, which must never change */
  sources: string;
  args: string[];
  /** the command that continues after a kill (default: the same one) */
  next?: () => string[];
  moments: Moment[];
  /** folders where a killed run may leave hidden, pid-named files: `allowed` names the visible entries */
  dirs: { dir: string; allowed: (name: string) => boolean }[];
  /** leftovers of a killed run: hidden and pid-named, or the output's owner lock */
  leftover: (name: string) => boolean;
  /** undefined when no output is there; else a fingerprint of the complete output (throws when incomplete) */
  output: () => Promise<string | undefined>;
}

const findEntry = (dir: string, re: RegExp) => (existsSync(dir) ? readdirSync(dir).find((n) => re.test(n)) : undefined);

interface Figures { job: string; kills: { moment: string; killedAtMs?: number; finishedFirst?: boolean; output: 'absent' | 'complete'; leftovers: number }[] }

async function runToMoment(job: Job, args: string[], m: Moment): Promise<{ killed: boolean; atMs: number; run: GroupRun }> {
  const old = new Map(job.dirs.map(({ dir }) => [dir, new Set(existsSync(dir) ? readdirSync(dir) : [])]));
  const fresh: Fresh = (dir, re) => (existsSync(dir) ? readdirSync(dir).find((n) => re.test(n) && !old.get(dir)?.has(n)) : undefined);
  const run = spawnGroup(process.execPath, [CLI, ...args], ROOT);
  const t0 = Date.now();
  let done = false;
  void run.exited.then(() => (done = true));
  if (m.delayMs !== undefined) await Promise.race([sleep(m.delayMs), run.exited]);
  else while (!done && !m.when!(run, fresh)) await sleep(2);
  if (!done) killGroup(run.child);
  const e = await run.exited;
  return { killed: e.signal === 'SIGKILL', atMs: Date.now() - t0, run };
}

/** Kills the job at each moment in turn (each run starting from what the killed one before it left), then finishes it. */
async function killAndResume(job: Job): Promise<Figures> {
  const before = treeHashes(job.sources);
  const figures: Figures = { job: job.name, kills: [] };
  const seen = new Set<string>();
  for (const m of job.moments) {
    const args = job.next && figures.kills.length ? job.next() : job.args;
    const r = await runToMoment(job, args, m);
    if (!r.killed) assert.equal((await r.run.exited).code, 0, `${job.name} (${m.label}) finished but failed:\n${r.run.err()}`);
    assert.deepEqual(treeHashes(job.sources), before, `${job.name} (${m.label}): the originals changed`);
    let leftovers = 0;
    for (const { dir, allowed } of job.dirs) {
      for (const name of existsSync(dir) ? readdirSync(dir) : []) {
        if (job.leftover(name)) leftovers++;
        else assert.ok(allowed(name), `${job.name} (${m.label}): '${name}' in ${dir} is neither output nor a hidden leftover`);
      }
    }
    const out = await job.output();
    if (out) seen.add(out);
    figures.kills.push({
      moment: m.label, ...(r.killed ? { killedAtMs: r.atMs } : { finishedFirst: true }), output: out ? 'complete' : 'absent', leftovers,
    });
  }
  const last = spawnSync(process.execPath, [CLI, ...(job.next ? job.next() : job.args)], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(last.status, 0, `${job.name}: the run after the kills failed:\n${last.stderr}`);
  assert.deepEqual(treeHashes(job.sources), before, `${job.name}: the originals changed`);
  for (const { dir } of job.dirs) {
    assert.deepEqual(readdirSync(dir).filter(job.leftover), [], `${job.name}: the next run removed what the killed ones left in ${dir}`);
  }
  const final = await job.output();
  assert.ok(final, `${job.name}: the run after the kills wrote its output`);
  for (const s of seen) assert.equal(s, final, `${job.name}: an output found after a kill is the complete, uninterrupted one`);
  assert.ok(figures.kills.some((k) => k.killedAtMs !== undefined), `${job.name}: at least one run was killed before it finished`);
  return figures;
}

function workspace(tag: string): string {
  return mkdtempSync(join(tmpdir(), `ld-surgeon-jobs-kill-${tag}-`));
}

function pipelineCopy(ws: string): string {
  const p = join(ws, 'p');
  cpSync(join(ROOT, 'examples', 'digits-uncond'), p, { recursive: true });
  for (const n of readdirSync(join(p, 'unet'))) if (n !== 'model.onnx' && n !== 'config.json') rmSync(join(p, 'unet', n), { force: true });
  return p;
}

function bareModel(ws: string): string {
  mkdirSync(join(ws, 'm'));
  const m = join(ws, 'm', 'unet.onnx');
  copyFileSync(join(ROOT, 'examples', 'digits-uncond', 'unet', 'model.onnx'), m);
  return m;
}

/** `.NAME.<pid>-<random>.tmp` beside NAME (and `….tmp.data`): the writers' temps */
const tempOf = (name: string) => new RegExp(`^\\.${name.replace(/\./g, '\\.')}\\.\\d+-\\w+\\.tmp(\\.data)?$`);
/** `.NAME.staging-<pid>-<hex>`: a prune's staging folder */
const stagingOf = (name: string) => new RegExp(`^\\.${name.replace(/\./g, '\\.')}\\.staging-\\d+-[0-9a-f]{8}(\\.old)?$`);

async function modelFingerprint(file: string): Promise<string> {
  await readModel(file); // parses, and every external-data range lies inside its file
  const data = `${file}.data`;
  return sha256(file) + (existsSync(data) ? `+${sha256(data)}` : '');
}

const PRUNE_FLAGS = ['--ops', 'down_blocks.0.resnets.0', '--samples', '2', '--steps', '1', '--latency-seconds', '0.3', '--ep', 'cpu', '--quiet'];

function prunePipelineJob(): Job {
  const ws = workspace('prune-pipeline');
  const p = pipelineCopy(ws);
  const out = join(ws, 'out');
  return {
    name: 'prune (pipeline)', ws, sources: p,
    args: ['prune', p, ...PRUNE_FLAGS, '--no-metric', '--force', '--out', out],
    moments: [
      randomMoment(300, 4500),
      // the staging folder appears as the write phase begins
      { label: 'staging folder created', when: (_, fresh) => !!fresh(ws, stagingOf('out')) },
      // the pruned U-Net's temp file in the staging folder: the model is being streamed to disk
      { label: 'model being written', when: (_, fresh) => { const s = fresh(ws, stagingOf('out')); return !!s && !!findEntry(join(ws, s, 'unet'), tempOf('model.onnx')); } },
      randomMoment(300, 4500),
    ],
    dirs: [{ dir: ws, allowed: (n) => n === 'p' || n === 'out' }],
    leftover: (n) => stagingOf('out').test(n) || n === 'out.lock',
    output: async () => {
      if (!existsSync(out)) return undefined;
      JSON.parse(readFileSync(join(out, 'unet', 'model.prune.json'), 'utf8'));
      assert.ok(existsSync(join(out, 'vae_decoder', 'model.onnx')) && existsSync(join(out, 'model_index.json')), 'the whole pipeline folder');
      return modelFingerprint(join(out, 'unet', 'model.onnx'));
    },
  };
}

function pruneModelJob(): Job {
  const ws = workspace('prune-model');
  const m = bareModel(ws);
  const out = join(ws, 'm', 'unet.pruned.onnx');
  return {
    name: 'prune (bare model)', ws, sources: m,
    args: ['prune', m, ...PRUNE_FLAGS],
    moments: [
      randomMoment(300, 3500),
      { label: 'model being written', when: (_, fresh) => { const s = fresh(join(ws, 'm'), stagingOf('unet.pruned.onnx')); return !!s && !!findEntry(join(ws, 'm', s), tempOf('unet.pruned.onnx')); } },
      randomMoment(300, 3500),
    ],
    dirs: [{ dir: join(ws, 'm'), allowed: (n) => ['unet.onnx', 'unet.pruned.onnx', 'unet.pruned.prune.json'].includes(n) }],
    leftover: (n) => stagingOf('unet.pruned.onnx').test(n) || n === 'unet.pruned.onnx.lock',
    output: async () => {
      if (!existsSync(out)) return undefined;
      // the model moves into place last: a model there has its record beside it
      JSON.parse(readFileSync(join(ws, 'm', 'unet.pruned.prune.json'), 'utf8'));
      return modelFingerprint(out);
    },
  };
}

const SAMPLE_FILES = ['conditions.json', 'latents.npy', 'metrics.json', 'samples.npy', 'samples.png'];

function sampleJob(): Job {
  const ws = workspace('sample');
  const p = pipelineCopy(ws);
  const out = join(ws, 's');
  return {
    name: 'sample', ws, sources: p,
    args: ['sample', p, '--out', out, '--n', '2', '--steps', '2', '--quiet'],
    moments: [
      // the output folder is made as the files start to be written
      { label: 'output folder created', when: () => existsSync(out) },
      randomMoment(300, 2500),
      randomMoment(300, 2500),
    ],
    dirs: [{ dir: ws, allowed: (n) => n === 'p' || n === 's' }, { dir: out, allowed: (n) => SAMPLE_FILES.includes(n) }],
    leftover: (n) => SAMPLE_FILES.some((f) => tempOf(f).test(n)),
    output: async () => {
      const present = SAMPLE_FILES.filter((f) => existsSync(join(out, f)));
      if (!present.length) return undefined;
      // every temp is written before any is renamed: the set is whole
      assert.deepEqual(present, SAMPLE_FILES, 'all the sample files or none');
      for (const f of ['conditions.json', 'metrics.json']) JSON.parse(readFileSync(join(out, f), 'utf8'));
      readNpy(join(out, 'latents.npy'));
      readNpy(join(out, 'samples.npy'));
      const png = readFileSync(join(out, 'samples.png'));
      assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
      assert.equal(png.subarray(png.length - 8, png.length - 4).toString('latin1'), 'IEND', 'the PNG is whole');
      return SAMPLE_FILES.map((f) => sha256(join(out, f))).join('+');
    },
  };
}

function convertJob(): Job {
  const ws = workspace('convert');
  const m = bareModel(ws);
  const out = join(ws, 'c.onnx');
  return {
    name: 'convert (external data)', ws, sources: join(ws, 'm'),
    args: ['convert', m, out, '--external-data'],
    moments: [
      randomMoment(200, 2200),
      { label: 'model being written', when: (_, fresh) => !!fresh(ws, tempOf('c.onnx')) || !!fresh(ws, tempOf('c.onnx.data')) },
      // the last rename has just happened: the output is there and must be whole
      { label: 'model renamed into place', when: (_, fresh) => !!fresh(ws, /^c\.onnx$/) },
      randomMoment(200, 2200),
    ],
    // a kill between the two renames may leave the new c.onnx.data without a c.onnx: no model, nothing wrong loaded
    dirs: [{ dir: ws, allowed: (n) => ['m', 'c.onnx', 'c.onnx.data'].includes(n) }],
    leftover: (n) => tempOf('c.onnx').test(n) || tempOf('c.onnx.data').test(n),
    output: async () => (existsSync(out) ? modelFingerprint(out) : undefined),
  };
}

function distillJob(): Job {
  const ws = workspace('distill');
  const p = pipelineCopy(ws);
  // the student: a copy of the teacher beside it in the pipeline (a different file; what it is does not matter here)
  const student = join(ws, 'student.onnx');
  copyFileSync(join(p, 'unet', 'model.onnx'), student);
  const teacher = join(p, 'unet', 'model.onnx');
  const out = join(ws, 'd.onnx');
  const run = join(ws, 'run');
  const common = ['--python', PYTHON, '--device', 'cpu'];
  const first = ['distill', '--student', student, '--teacher', teacher, '--out', out, '--run-dir', run, ...common,
    '--steps', '3', '--data-samples', '4', '--data-steps', '1', '--eval-samples', '2', '--eval-steps', '1', '--log-every', '1', '--seed', '1'];
  return {
    name: 'distill (trainer)', ws, sources: p,
    args: first,
    // a run folder that holds a run is continued with --resume (the same command refuses it, naming --resume)
    next: () => (existsSync(join(run, 'config.json')) ? ['distill', '--student', student, '--resume', run, ...common] : first),
    moments: [
      // the trainer's first line ('training on cpu …'): it is up, its run folder made
      { label: 'first progress line', when: (r) => /\n/.test(r.out()) },
      // the trainer's export folder or temp model beside the output: the model is being written
      { label: 'model being written', when: (_, fresh) => !!fresh(ws, /^\.export-\d+-/) || !!fresh(ws, tempOf('d.onnx')) },
    ],
    dirs: [
      { dir: ws, allowed: (n) => ['p', 'student.onnx', 'run', 'd.onnx', 'd.onnx.data'].includes(n) },
      { dir: run, allowed: (n) => !/\.tmp/.test(n) },
    ],
    leftover: (n) => /^\.export-\d+-\w+$/.test(n) || tempOf('d.onnx').test(n) || /\.tmp-\d+$/.test(n),
    output: async () => (existsSync(out) ? (await readModel(out), 'model') : undefined),
  };
}

const figures: Figures[] = [];

for (const make of [prunePipelineJob, pruneModelJob, sampleJob, convertJob, distillJob]) {
  test(`killed with SIGKILL: ${make.name.replace(/Job$/, '').replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)} leaves the originals, no half-written output, and the next run works`, {
    timeout: 240_000,
  }, async () => {
    const job = make();
    try {
      figures.push(await killAndResume(job));
    } finally {
      rmSync(job.ws, { recursive: true, force: true });
    }
  });
}

test('kill figures', () => {
  for (const f of figures) console.log(JSON.stringify(f));
  const kills = figures.flatMap((f) => f.kills);
  console.log(JSON.stringify({
    seed: SEED, runs: kills.length, killed: kills.filter((k) => k.killedAtMs !== undefined).length,
    completeAfterKill: kills.filter((k) => k.output === 'complete').length, runsLeavingLeftovers: kills.filter((k) => k.leftovers > 0).length,
  }));
});

/** The CLI under `ulimit -f BLOCKS` (512-byte blocks): a bigger write gets EFBIG (Node ignores SIGXFSZ). */
function limited(blocks: number, args: string[]) {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return spawnSync('bash', ['-c', `ulimit -f ${blocks}; exec ${quoted}`], { cwd: ROOT, encoding: 'utf8' });
}

test('a write past the file-size limit: one line naming the output, exit 2, no partial model, originals unchanged', { timeout: 120_000 }, () => {
  const ws = workspace('disk-full');
  try {
    const p = pipelineCopy(ws);
    const m = bareModel(ws);
    const before = { p: treeHashes(p), m: sha256(m) };
    const cases: { name: string; args: string[]; blocks: number; names: RegExp | string; gone: string[] }[] = [
      { name: 'prune (pipeline)', args: ['prune', p, ...PRUNE_FLAGS, '--no-metric', '--out', join(ws, 'out')], blocks: 3000, names: join(ws, 'out'), gone: [join(ws, 'out')] },
      { name: 'prune (bare model)', args: ['prune', m, ...PRUNE_FLAGS], blocks: 3000, names: join(ws, 'm', 'unet.pruned.onnx'), gone: [join(ws, 'm', 'unet.pruned.onnx'), join(ws, 'm', 'unet.pruned.prune.json')] },
      { name: 'convert', args: ['convert', m, join(ws, 'c.onnx')], blocks: 3000, names: join(ws, 'c.onnx'), gone: [join(ws, 'c.onnx')] },
      { name: 'convert (external data)', args: ['convert', m, join(ws, 'e.onnx'), '--external-data'], blocks: 3000, names: join(ws, 'e.onnx.data'), gone: [join(ws, 'e.onnx'), join(ws, 'e.onnx.data')] },
      { name: 'sample', args: ['sample', p, '--out', join(ws, 's'), '--n', '2', '--steps', '2', '--quiet'], blocks: 6, names: new RegExp(`^ld-surgeon: ${join(ws, 's')}/samples\\.(npy|png): could not be written, EFBIG`), gone: SAMPLE_FILES.map((f) => join(ws, 's', f)) },
    ];
    for (const c of cases) {
      const r = limited(c.blocks, c.args);
      assert.equal(r.status, 2, `${c.name}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${c.name}: one line: ${r.stderr}`);
      const named = typeof c.names === 'string' ? lines[0].startsWith(`ld-surgeon: ${c.names}: could not be written, EFBIG`) : c.names.test(lines[0]);
      assert.ok(named, `${c.name}: names ${c.names}: ${lines[0]}`);
      for (const f of c.gone) assert.ok(!existsSync(f), `${c.name}: no ${basename(f)}`);
      for (const dir of [ws, join(ws, 'm'), join(ws, 's')].filter(existsSync)) {
        assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.') || n.endsWith('.lock')), [], `${c.name}: no temp, staging or lock left in ${dir}`);
      }
      console.log(JSON.stringify({ diskFull: c.name, ulimitBlocks: c.blocks, error: lines[0] }));
    }
    assert.deepEqual(treeHashes(p), before.p);
    assert.equal(sha256(m), before.m);
    assert.ok(statSync(m).size > 3000 * 512, 'the limit is below the model size, so the write must fail');
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});
