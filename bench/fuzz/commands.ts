// Hostile files through the commands (issue 15, 2nd bullet): seeded mutations of corpus models and the
// example U-Nets (a U-Net also placed as unet/model.onnx in a copy of its pipeline folder) go through
// the built CLI's inspect, candidates, score, prune and sample, each in its own process with a time
// limit, and through the model worker's open (the graph editor's path). Every run must end in success,
// or exit code 2 with one line naming the file; the case folder's files must be byte-identical
// afterwards, and a failed command must leave no output behind. Shared by bench/fuzz-commands.ts (the
// larger run) and test/commands-hostile.test.ts (the CI slice).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { ModelWorker } from '../../src/core/edit';
import { CORPUS, ROOT } from './engine';
import { mutate, rng, wireFields } from './mutate';

const CLI = join(ROOT, 'bin', 'ld-surgeon.js');
const WORKER_ENTRY = resolve(ROOT, 'src', 'worker', 'model-worker.ts');
const PIPELINES = ['digits-cond', 'digits-uncond', 'audio-digits'];

export interface CommandRun { caseId: number; target: string; command: string; status: number | null; signal: string | null; ms: number; problem?: string; stderr: string }
export interface CommandFuzzSummary {
  cases: number;
  pipelineCases: number;
  runs: number;
  /** per command: succeeded / refused (exit 2) / failed the contract */
  outcomes: Record<string, { ok: number; refused: number; bad: number }>;
  problems: CommandRun[];
  /** refusal messages (paths and numbers blanked), most frequent first */
  topRefusals: [string, number][];
  wallS: number;
}

/** Every file under dir (symlinks not followed) with its sha256; directories and links by kind. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p, { throwIfNoEntry: false });
      const rel = relative(dir, p);
      if (!st) continue;
      if (st.isSymbolicLink()) out.set(rel, 'link');
      else if (st.isDirectory()) { out.set(rel, 'dir'); walk(p); }
      else if (st.isFile()) out.set(rel, createHash('sha256').update(readFileSync(p)).digest('hex'));
      else out.set(rel, 'other');
    }
  };
  walk(dir);
  return out;
}

function diff(before: Map<string, string>, after: Map<string, string>): { changed: string[]; added: string[] } {
  const changed = [...before].filter(([k, v]) => after.get(k) !== v).map(([k]) => k);
  const added = [...after.keys()].filter((k) => !before.has(k));
  return { changed, added };
}

export function commandSeeds(): { corpus: string[]; unets: string[] } {
  const corpus: string[] = [];
  for (const suite of readdirSync(CORPUS).sort()) {
    const dir = join(CORPUS, suite);
    if (!statSync(dir).isDirectory()) continue;
    for (const t of readdirSync(dir).sort()) {
      const m = join(dir, t, 'model.onnx');
      if (statSync(m, { throwIfNoEntry: false })?.isFile() && statSync(m).size < 200_000) corpus.push(m);
    }
  }
  const unets = PIPELINES.map((p) => join(ROOT, 'examples', p, 'unet', 'model.onnx'));
  return { corpus, unets };
}

export async function runCommandFuzz(o: { cases: number; seed: number; timeoutMs?: number; unetShare?: number; only?: number[]; /** --ep of score and prune (default: the CLI's auto) */ ep?: string; onCase?: (id: number) => void }): Promise<CommandFuzzSummary> {
  const t0 = performance.now();
  const timeout = o.timeoutMs ?? 60_000;
  const { corpus, unets } = commandSeeds();
  const root = mkdtempSync(join(tmpdir(), 'ld-cmdfuzz-'));
  const sentinel = join(root, 'sentinel.bin');
  writeFileSync(sentinel, Buffer.from(`LDSURGEON-SENTINEL-${randomBytes(8).toString('hex')}`.repeat(64)));
  const outcomes: CommandFuzzSummary['outcomes'] = {};
  const problems: CommandRun[] = [];
  let runs = 0;
  const refusals = new Map<string, number>();
  let pipelineCases = 0;
  const worker = ModelWorker.start({ modulePath: WORKER_ENTRY });
  const tally = (run: CommandRun) => {
    runs++;
    const t = (outcomes[run.command] ??= { ok: 0, refused: 0, bad: 0 });
    if (run.problem) { t.bad++; problems.push(run); } else if (run.status === 0) t.ok++;
    else {
      t.refused++;
      const key = `${run.command}: ${run.stderr.trim().replaceAll(root, '…').replace(/\d+/g, 'N').slice(0, 160)}`;
      refusals.set(key, (refusals.get(key) ?? 0) + 1);
    }
  };
  try {
    for (let id = 0; id < o.cases; id++) {
      if (o.only && !o.only.includes(id)) continue;
      o.onCase?.(id);
      const r = rng((o.seed * 1_000_003 + id) >>> 0);
      const useUnet = r() < (o.unetShare ?? 0.5);
      const seedModel = useUnet ? unets[Math.floor(r() * unets.length)] : corpus[Math.floor(r() * corpus.length)];
      const bytes = new Uint8Array(readFileSync(seedModel));
      const m = mutate(r, bytes, wireFields(bytes), { sentinel });
      const dir = join(root, `c${id}`);
      const asPipeline = useUnet && r() < 0.5;
      let modelDir = dir;
      if (asPipeline) {
        pipelineCases++;
        cpSync(resolve(seedModel, '..', '..'), dir, { recursive: true });
        modelDir = join(dir, 'unet');
      } else mkdirSync(dir, { recursive: true });
      const model = join(modelDir, 'model.onnx');
      writeFileSync(model, m.bytes);
      // the neighbours the hostile external-data locations name (see mutate.ts hostileLocations)
      mkdirSync(join(modelDir, 'subdir'), { recursive: true });
      writeFileSync(join(modelDir, 'ok.bin'), new Uint8Array(8192));
      symlinkSync(sentinel, join(modelDir, 'link.bin'));
      symlinkSync('/dev/zero', join(modelDir, 'dev-zero'));
      const target = asPipeline ? dir : model;
      const label = `${relative(ROOT, seedModel)} ${m.kind}${asPipeline ? ' (pipeline)' : ''}`;
      const work = join(root, `w${id}`);
      const outDir = join(root, `o${id}`);
      mkdirSync(work);
      mkdirSync(outDir);

      const cli = (command: string, args: string[], outputs: string[]) => {
        const before = snapshot(dir);
        const t = performance.now();
        const p = spawnSync(process.execPath, [CLI, command, target, ...args], { cwd: root, encoding: 'utf8', timeout, killSignal: 'SIGKILL' });
        const run: CommandRun = { caseId: id, target: label, command, status: p.status, signal: p.signal, ms: Math.round(performance.now() - t), stderr: p.stderr.slice(-2000) };
        const after = snapshot(dir);
        const { changed, added } = diff(before, after);
        const lines = p.stderr.trim().split('\n');
        if (p.error && (p.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') run.problem = `hang (over ${timeout} ms)`;
        else if (p.signal) run.problem = `killed by ${p.signal} (a native crash)`;
        else if (p.status !== 0 && p.status !== 2) run.problem = `exit code ${p.status}`;
        else if (p.status === 2 && (lines.length !== 1 || !lines[0].startsWith('ld-surgeon: ') || !lines[0].includes(target)))
          run.problem = `refusal is not one line naming ${target}`;
        else if (changed.length) run.problem = `changed ${changed.join(', ')}`;
        else if (p.status === 2 && added.length) run.problem = `left ${added.join(', ')} behind`;
        else if (p.status === 2 && outputs.some((x) => statSync(x, { throwIfNoEntry: false }) && readdirSync(x).length)) run.problem = 'left output behind';
        tally(run);
        return p.status === 0 ? p.stdout : undefined;
      };
      cli('inspect', [], []);
      let firstCandidate: string | undefined;
      try { firstCandidate = (JSON.parse(cli('candidates', ['--json'], []) ?? '{}') as { candidates?: { id: string }[] }).candidates?.[0]?.id; } catch { /* refused: no id */ }
      const scored = cli('score', ['--samples', '2', '--steps', '1', '--no-profile', '--quiet', '--work-dir', work, ...(o.ep ? ['--ep', o.ep] : [])], [work]);
      if (readdirSync(work).length && !problems.some((x) => x.caseId === id && x.command === 'score')) tally({ caseId: id, target: label, command: 'score', status: 0, signal: null, ms: 0, stderr: '', problem: `left ${readdirSync(work).join(', ')} in --work-dir` });
      // prune the lowest-scored candidate, or (the score refused, the candidates listed) the first one by id
      const pick = scored !== undefined ? ['--lowest', '1'] : firstCandidate ? ['--ops', firstCandidate] : undefined;
      if (pick) {
        const prunedOut = join(outDir, asPipeline ? 'pruned' : 'pruned.onnx');
        cli('prune', [...pick, '--samples', '2', '--steps', '1', '--latency-seconds', '0.1', '--no-metric', '--quiet', '--out', prunedOut, ...(o.ep ? ['--ep', o.ep] : [])], [outDir]);
      }
      if (asPipeline) cli('sample', ['--n', '1', '--steps', '1', '--no-metrics', '--quiet', '--out', join(outDir, 'samples')], [outDir]);

      // the graph editor's open, in the model worker thread
      const before = snapshot(dir);
      const t = performance.now();
      const run: CommandRun = { caseId: id, target: label, command: 'editor-open', status: 0, signal: null, ms: 0, stderr: '' };
      try {
        const doc = await Promise.race([
          worker.open({ path: model }),
          new Promise<never>((_, rej) => setTimeout(() => rej(new Error('__hang__')), timeout).unref()),
        ]);
        await doc.close();
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        run.status = 2;
        run.stderr = msg;
        if (msg === '__hang__') run.problem = `hang (over ${timeout} ms)`;
        else if (msg.includes('\n    at ') || !msg.includes(model)) run.problem = 'refusal does not name the file in one line';
      }
      run.ms = Math.round(performance.now() - t);
      const { changed, added } = diff(before, snapshot(dir));
      if (!run.problem && (changed.length || added.length)) run.problem = `changed ${[...changed, ...added].join(', ')}`;
      tally(run);
      rmSync(dir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
      rmSync(outDir, { recursive: true, force: true });
    }
  } finally {
    await worker.dispose();
    rmSync(root, { recursive: true, force: true });
  }
  return { cases: o.cases, pipelineCases, runs, outcomes, problems, topRefusals: [...refusals].sort((a, b) => b[1] - a[1]).slice(0, 25), wallS: Math.round((performance.now() - t0) / 100) / 10 };
}
