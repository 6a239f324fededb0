// The hostile-input fuzz engine shared by bench/fuzz.ts (the full run) and test/onnx-fuzz.test.ts
// (the CI slice): mutates seed models into per-case folders under a temp root, runs each case in a
// worker thread with a time limit, and tallies outcomes. The temp root is removed at the end.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildSync } from 'esbuild';
import type { CaseRequest, CaseResult } from './case-worker';
import { mutate, rng, wireFields, type WireField } from './mutate';

export const ROOT = resolve(__dirname, '..', '..');
export const CORPUS = resolve(ROOT, '..', 'shared', 'corpus', 'onnx-backend');

export interface FuzzOptions {
  cases: number;
  seed: number;
  workers?: number;
  /** per-case time limit (default 60 s: a U-Net case takes ~5 s alone, several times that on a loaded 2-core machine) */
  timeoutMs?: number;
  /** seed models (default: the corpus models and the shipped example models) */
  seeds?: string[];
  /** folder to copy every crash/hang/outside-read case to, for minimising */
  saveDir?: string;
  /** worker heap limit: a case allocating past it dies as 'oom' */
  heapMb?: number;
  /** share of cases mutating an example model rather than a corpus one (default 0.03) */
  exampleShare?: number;
  onProgress?: (done: number) => void;
  /**
   * Positive controls for the outside-read check: these case ids get, instead of a mutated model, a
   * model.onnx that is a symlink to the sentinel outside the folder; each must be reported.
   */
  controlCases?: number[];
}

export type Outcome = CaseResult['outcome'] | 'hang' | 'oom' | 'worker-died';
type CaseOutcome = Partial<Omit<CaseResult, 'outcome'>> & { outcome: Outcome; ms: number };
export interface CaseRecord { id: number; seedModel: string; mutation: string; outcome: Outcome; stage?: string; ms: number; error?: string }
export interface FuzzSummary {
  cases: number;
  seed: number;
  seedModels: number;
  outcomes: Record<string, number>;
  /** cases that opened a path outside their folder, or saw the sentinel's bytes */
  outsideReads: number;
  failures: CaseRecord[];
  /** rejection reasons (file paths, numbers and names blanked), most frequent first, with counts */
  topRejections: [string, number][];
  slowest: CaseRecord[];
  wallS: number;
  peakRssMB: number;
}

export function defaultSeeds(): string[] {
  const out: string[] = [];
  if (existsSync(CORPUS)) {
    for (const suite of readdirSync(CORPUS).sort()) {
      const dir = join(CORPUS, suite);
      if (!statSync(dir).isDirectory()) continue;
      for (const t of readdirSync(dir).sort()) {
        const m = join(dir, t, 'model.onnx');
        if (existsSync(m)) out.push(m);
      }
    }
  }
  const ex = join(ROOT, 'examples');
  for (const pipe of readdirSync(ex).sort()) {
    if (!statSync(join(ex, pipe)).isDirectory()) continue;
    for (const part of readdirSync(join(ex, pipe)).sort()) {
      const m = join(ex, pipe, part, 'model.onnx');
      if (existsSync(m)) out.push(m);
    }
  }
  return out;
}

const FAILING = new Set<Outcome>(['crash', 'hang', 'oom', 'worker-died', 'unclear-error']);

export async function runFuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const t0 = performance.now();
  const seeds = o.seeds ?? defaultSeeds();
  const timeoutMs = o.timeoutMs ?? 60_000;
  const root = mkdtempSync(join(tmpdir(), 'ld-fuzz-'));
  const sentinel = join(root, 'sentinel.bin');
  const marker = `LDSURGEON-SENTINEL-${randomBytes(8).toString('hex')}`;
  writeFileSync(sentinel, Buffer.from(marker.repeat(512)));
  // Workers do not inherit tsx's loader: the case runner goes to them as one bundled script.
  const workerScript = join(root, 'case-worker.cjs');
  buildSync({
    entryPoints: [join(__dirname, 'case-worker.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    outfile: workerScript, logLevel: 'warning',
  });
  const parsed = new Map<string, { bytes: Uint8Array; fields: WireField[] }>();
  const seedOf = (p: string) => {
    let s = parsed.get(p);
    if (!s) {
      if (parsed.size > 64) parsed.delete(parsed.keys().next().value as string);
      const bytes = new Uint8Array(readFileSync(p));
      s = { bytes, fields: wireFields(bytes) };
      parsed.set(p, s);
    }
    return s;
  };
  // The example U-Nets are 7 MB (about 5 s a case, 100 times a corpus model): a small share of the
  // cases, so the run covers the corpus' op variety mostly.
  const exampleShare = o.exampleShare ?? 0.03;
  const examples = seeds.filter((s) => !s.startsWith(CORPUS));
  const corpus = seeds.filter((s) => s.startsWith(CORPUS));

  const records: CaseRecord[] = [];
  const outcomes: Record<string, number> = {};
  let outsideReads = 0;
  const rejections = new Map<string, number>();
  let peakRss = 0;
  const rssTimer = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()); }, 200);

  function prepare(id: number): { req: CaseRequest; rec: CaseRecord; dir: string } {
    const r = rng((o.seed * 1_000_003 + id) >>> 0);
    const list = examples.length && (r() < exampleShare || !corpus.length) ? examples : corpus;
    const seedModel = list[Math.floor(r() * list.length)];
    const s = seedOf(seedModel);
    const m = mutate(r, s.bytes, s.fields, { sentinel });
    const dir = join(root, `c${id}`);
    mkdirSync(join(dir, 'subdir'), { recursive: true });
    const control = o.controlCases?.includes(id) ?? false;
    if (control) symlinkSync(sentinel, join(dir, 'model.onnx'));
    else writeFileSync(join(dir, 'model.onnx'), m.bytes);
    writeFileSync(join(dir, 'ok.bin'), new Uint8Array(8192));
    symlinkSync('../sentinel.bin', join(dir, 'link.bin'));
    symlinkSync(root, join(dir, 'linkdir'));
    symlinkSync('/dev/zero', join(dir, 'dev-zero'));
    if (m.kind.includes('fifo')) execFileSync('mkfifo', [join(dir, 'fifo')]);
    return {
      req: { id, model: join(dir, 'model.onnx') },
      rec: { id, seedModel: seedModel.replace(ROOT + '/', '').replace(resolve(CORPUS, '..') + '/', ''), mutation: control ? 'control:symlink-to-sentinel' : m.kind, outcome: 'ok', ms: 0 },
      dir,
    };
  }

  function finish(c: { rec: CaseRecord; dir: string }, res: CaseOutcome): void {
    Object.assign(c.rec, { outcome: res.outcome, stage: res.stage, ms: Math.round(res.ms), error: res.error });
    const outside = (res.outside?.length ?? 0) > 0 || res.sentinelSeen === true;
    if (outside) {
      outsideReads++;
      c.rec.error = `${c.rec.error ?? ''} [outside: ${res.sentinelSeen ? 'sentinel bytes seen; ' : ''}${(res.outside ?? []).slice(0, 3).join(', ')}]`;
    }
    outcomes[res.outcome] = (outcomes[res.outcome] ?? 0) + 1;
    if (res.outcome === 'rejected' && res.error) {
      const reason = res.error.replace(/^UserError: /, '').split(c.dir).join('').replace(/'[^']*'/g, "'…'").replace(/\d+/g, 'N').slice(0, 100);
      rejections.set(reason, (rejections.get(reason) ?? 0) + 1);
    }
    records.push(c.rec);
    if (o.saveDir && (FAILING.has(res.outcome) || outside)) {
      mkdirSync(o.saveDir, { recursive: true });
      writeFileSync(join(o.saveDir, `case-${c.rec.id}.onnx`), readFileSync(join(c.dir, 'model.onnx')));
      writeFileSync(join(o.saveDir, `case-${c.rec.id}.json`), JSON.stringify(c.rec, null, 2));
    }
    rmSync(c.dir, { recursive: true, force: true });
    o.onProgress?.(records.length);
  }

  let next = 0;
  const lane = async (): Promise<void> => {
    let w: Worker | undefined;
    const spawn = () => new Worker(workerScript, {
      workerData: { marker, allowedRoots: [ROOT] },
      resourceLimits: { maxOldGenerationSizeMb: o.heapMb ?? 1024 },
    });
    try {
      while (next < o.cases) {
        const c = prepare(next++);
        w ??= spawn();
        const worker = w;
        const res = await new Promise<CaseOutcome>((done) => {
          const start = performance.now();
          const timer = setTimeout(() => { cleanup(); done({ outcome: 'hang', ms: performance.now() - start }); }, timeoutMs);
          const onMsg = (m: CaseResult) => { cleanup(); done(m); };
          const onErr = (e: Error & { code?: string }) => {
            cleanup();
            done({ outcome: e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'oom' : 'worker-died', ms: performance.now() - start, error: `${e.name}: ${e.message}` });
          };
          const onExit = (code: number) => { cleanup(); done({ outcome: 'worker-died', ms: performance.now() - start, error: `worker exited with ${code}` }); };
          const cleanup = () => { clearTimeout(timer); worker.off('message', onMsg); worker.off('error', onErr); worker.off('exit', onExit); };
          worker.on('message', onMsg);
          worker.on('error', onErr);
          worker.on('exit', onExit);
          worker.postMessage(c.req);
        });
        if (res.outcome === 'hang' || res.outcome === 'oom' || res.outcome === 'worker-died') {
          await worker.terminate();
          w = undefined;
        }
        finish(c, res);
      }
    } finally {
      await w?.terminate();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.workers ?? 2) }, lane));
  } finally {
    clearInterval(rssTimer);
    rmSync(root, { recursive: true, force: true });
  }
  peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
  records.sort((a, b) => a.id - b.id);
  return {
    cases: records.length,
    seed: o.seed,
    seedModels: seeds.length,
    outcomes,
    outsideReads,
    failures: records.filter((r) => FAILING.has(r.outcome) || (r.error ?? '').includes('[outside:')),
    topRejections: [...rejections].sort((a, b) => b[1] - a[1]),
    slowest: [...records].sort((a, b) => b.ms - a.ms).slice(0, 10),
    wallS: Math.round((performance.now() - t0) / 100) / 10,
    peakRssMB: Math.round(peakRss / 1048576),
  };
}
