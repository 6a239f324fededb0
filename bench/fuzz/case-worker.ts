// Runs fuzz cases inside a worker thread the engine can terminate (a hang must not stop the run).
// Each case: reader → analysis (graph, shapes, FLOPs) → writer → reader. The fs calls that open files
// are wrapped so a case that opens anything outside its own folder is caught even when nothing of the
// outside file ends up in a tensor; the sentinel's marker is also searched in every payload read and
// in the written files.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { dirname, join, relative, isAbsolute, resolve } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../../src/core/errors';
import { analyzeModel } from '../../src/core/graph/analyze';
import { readModel } from '../../src/core/onnx/reader';
import { readTensorBytes } from '../../src/core/onnx/tensor-data';
import { forEachTensor } from '../../src/core/onnx/walk';
import { writeModel } from '../../src/core/onnx/writer';
import type { TensorData } from '../../src/core/onnx/types';

export interface CaseRequest { id: number; model: string }
export interface CaseResult {
  id: number;
  outcome: 'ok' | 'rejected' | 'unclear-error' | 'crash';
  stage: 'read' | 'analyze' | 'write' | 'reread' | 'done';
  ms: number;
  error?: string;
  /** paths outside the case folder that the case opened, and whether the sentinel's bytes were seen */
  outside: string[];
  sentinelSeen: boolean;
}

const { marker, allowedRoots } = workerData as { marker: string; allowedRoots: string[] };
const MARKER = Buffer.from(marker);

let caseDir = '';
const outside: string[] = [];
const under = (dir: string, p: string) => { const rel = relative(dir, p); return !rel.startsWith('..') && !isAbsolute(rel); };
function track(p: unknown): void {
  if (!caseDir) return;
  const path = typeof p === 'string' ? p : p instanceof URL ? p.pathname : Buffer.isBuffer(p) ? p.toString() : undefined;
  if (path === undefined) return; // a file descriptor: its open() was tracked
  // symlinks followed: a link inside the folder to a file outside is a read outside
  let abs = resolve(path);
  try { abs = fs.realpathSync(abs); } catch { /* not there: the open fails anyway */ }
  if (under(caseDir, abs) || allowedRoots.some((r) => under(r, abs))) return;
  outside.push(abs);
}
// Wrap every fs entry point that opens a file by path, then republish them to ESM importers too.
type AnyFn = (...a: unknown[]) => unknown;
const fsAny = fs as unknown as Record<string, AnyFn>;
for (const name of ['openSync', 'open', 'readFileSync', 'readFile', 'createReadStream']) {
  const orig = fsAny[name];
  fsAny[name] = function (this: unknown, ...a: unknown[]) { track(a[0]); return orig.apply(this, a); };
}
const prom = fs.promises as unknown as Record<string, AnyFn>;
for (const name of ['open', 'readFile']) {
  const orig = prom[name];
  prom[name] = function (this: unknown, ...a: unknown[]) { track(a[0]); return orig.apply(this, a); };
}
syncBuiltinESMExports();

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const where = (e.stack ?? '').split('\n').slice(1, 4).map((l) => l.trim()).join(' | ');
  return `${e.name}: ${e.message.slice(0, 300)}${e instanceof UserError ? '' : ` @ ${where}`}`;
}

const hasMarker = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).includes(MARKER);

async function runCase(model: string): Promise<Omit<CaseResult, 'id' | 'ms'>> {
  caseDir = fs.realpathSync(dirname(model));
  outside.length = 0;
  let stage: CaseResult['stage'] = 'read';
  let sentinelSeen = false;
  try {
    const m = await readModel(model);
    stage = 'analyze';
    await analyzeModel(m);
    // Every external payload the model points at, decoded the way scoring and surgery read weights.
    const ext: TensorData[] = [];
    forEachTensor(m, (t) => { if (t.location.kind === 'external' && t.byteLength <= 1 << 20) ext.push(t); });
    for (const t of ext) if (hasMarker(await readTensorBytes(t))) sentinelSeen = true;
    stage = 'write';
    const out = join(caseDir, 'out', 'model.onnx');
    fs.mkdirSync(dirname(out), { recursive: true });
    const w = await writeModel(m, out, { durable: false });
    for (const f of [w.path, w.dataPath]) if (f && hasMarker(fs.readFileSync(f))) sentinelSeen = true;
    stage = 'reread';
    const back = await readModel(out);
    let n = 0;
    forEachTensor(back, () => { n++; });
    stage = 'done';
    return { outcome: 'ok', stage, outside: [...outside], sentinelSeen };
  } catch (e) {
    // A clear error is a UserError naming the file it is about (the model, or a file in its folder).
    const folder = dirname(model);
    const clear = e instanceof UserError && (e.message.includes(folder) || (e.file !== undefined && under(folder, e.file)));
    return { outcome: e instanceof UserError ? (clear ? 'rejected' : 'unclear-error') : 'crash', stage, error: describe(e), outside: [...outside], sentinelSeen };
  } finally {
    caseDir = '';
  }
}

parentPort!.on('message', async (req: CaseRequest) => {
  const t0 = performance.now();
  const r = await runCase(req.model);
  parentPort!.postMessage({ id: req.id, ms: performance.now() - t0, ...r } satisfies CaseResult);
});
