// Reader benchmark: our lazy reader (readModel: the index, no weights) vs onnx-proto's whole-message
// ModelProto.decode after reading the file, on the same files, side by side. Prints JSON.
//
//   npx tsx bench/reader.ts [--runs N] [--models-dir DIR] [--synthetic] [model.onnx ...]
//
// Without model arguments it measures the 3 largest corpus models and, from DIR (default bench/out;
// generate them with bench/gen_sd_unet.py):
//   sd15-unet/model.onnx                 SD-1.5 U-Net, 1.1 MB graph + 3.4 GB external data
//   sd15-unet-w0.5-embedded/model.onnx   SD topology at width x0.5, ~880 MB single file (--embedded)
// and with --synthetic a 1.7 GB single-file model (1000 float32 initializers, generated once into
// bench/out/synthetic-1.7g/ by our own writer with externalData:'never').
// Each measurement runs in its own child process so peak RSS is honest; `baseline` is the RSS of a
// child that loads the same modules and reads nothing. Rows for the two SD models carry the targets
// of issue 16 and whether this run met them.
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { buildSync } from 'esbuild';
import { onnx } from 'onnx-proto';
import { readModel } from '../src/core/onnx/reader';
import { writeModel } from '../src/core/onnx/writer';
import { forEachTensor } from '../src/core/onnx/walk';
import { ElemType } from '../src/core/onnx/types';

const ROOT = resolve(__dirname, '..');
const CORPUS = resolve(ROOT, '..', 'shared', 'corpus', 'onnx-backend');
const SYNTHETIC = join(ROOT, 'bench', 'out', 'synthetic-1.7g', 'model.onnx');

type Side = 'ours' | 'onnx-proto' | 'baseline';
interface ChildResult { ms: number; cpuMs: number; maxRssMB: number; detail?: Record<string, number> }

/**
 * The reader as the CLI and extension ship it: one esbuild bundle (under tsx every cross-module
 * reference is a getter call, which a cold process pays for and a bundle does not).
 */
function bundleReader(): string {
  const out = join(ROOT, 'bench', 'out', 'reader.bundle.cjs');
  buildSync({
    entryPoints: [join(ROOT, 'src', 'core', 'onnx', 'reader.ts')], bundle: true, platform: 'node', format: 'cjs',
    target: 'node20', outfile: out, logLevel: 'warning',
  });
  return out;
}

async function child(side: Side, path: string, bundle: string): Promise<void> {
  const bundled = require(bundle) as { readModel: typeof readModel };
  // Both sides' modules are loaded before the clock starts: only the load is timed.
  let ms = 0;
  let cpu = { user: 0, system: 0 };
  let detail: Record<string, number> | undefined;
  if (side === 'ours') {
    const stats = { bytesRead: 0, fileBytes: 0 };
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const m = await bundled.readModel(path, { stats });
    ms = performance.now() - t0;
    cpu = process.cpuUsage(c0);
    detail = { nodes: m.graph.nodes.length, initializers: m.graph.initializers.length, onnxFileBytesRead: stats.bytesRead };
  } else if (side === 'onnx-proto') {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const m = onnx.ModelProto.decode(readFileSync(path));
    ms = performance.now() - t0;
    cpu = process.cpuUsage(c0);
    detail = { nodes: m.graph?.node?.length ?? 0, initializers: m.graph?.initializer?.length ?? 0 };
  }
  const out: ChildResult = { ms, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMB: process.resourceUsage().maxRSS / 1024, detail };
  process.stdout.write(JSON.stringify(out));
}

function measure(side: Side, path: string, bundle: string): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', side, path, bundle], {
    cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`${side} on ${path} failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout) as ChildResult;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The .onnx size, and the size of the external data files its tensors point into. */
async function modelBytes(path: string): Promise<{ onnx: number; external: number }> {
  const files = new Set<string>();
  forEachTensor(await readModel(path), (t) => { if (t.location.kind === 'external') files.add(t.location.file); });
  return { onnx: statSync(path).size, external: [...files].reduce((n, f) => n + statSync(f).size, 0) };
}

async function makeSynthetic(path: string, tensors = 1000, rows = 425, cols = 1000): Promise<void> {
  const dir = resolve(path, '..');
  mkdirSync(dir, { recursive: true });
  // The weights are staged in a scratch file and referenced as external data, so our writer streams
  // them into the single-file model without the generator ever holding 1.7 GB.
  const scratch = join(dir, 'scratch.bin');
  const each = rows * cols * 4;
  const ws = createWriteStream(scratch);
  const block = randomBytes(each);
  for (let i = 0; i < tensors; i++) {
    block.writeUInt32LE(i, 0);
    if (!ws.write(Buffer.from(block))) await once(ws, 'drain');
  }
  ws.end();
  await once(ws, 'finish');
  const inits = Array.from({ length: tensors }, (_, i) => ({
    name: `w${i}`, elemType: ElemType.FLOAT, dims: [rows, cols], byteLength: each,
    location: { kind: 'external' as const, file: scratch, location: 'scratch.bin', offset: i * each, length: each },
  }));
  const nodes = inits.map((w, i) => ({
    name: `add${i}`, opType: 'Add', domain: '', inputs: [i ? `h${i}` : 'x', w.name], outputs: [i === tensors - 1 ? 'y' : `h${i + 1}`], attributes: [],
  }));
  const f = (name: string, dims: number[]) => ({ name, type: { kind: 'tensor' as const, elemType: ElemType.FLOAT, shape: dims.map((value) => ({ value })) } });
  try {
    await writeModel({
      path: '', irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 'ld-surgeon bench', metadataProps: [], functions: [],
      graph: { name: 'synthetic', nodes, inputs: [f('x', [1, cols])], outputs: [f('y', [rows, cols])], valueInfo: [], initializers: inits, sparseInitializers: [] },
    }, path, { externalData: 'never' });
  } finally {
    rmSync(scratch, { force: true });
  }
}

/** Issue 16's targets, by the model folder's name. */
const TARGETS: Record<string, { what: string; met: (ours: Row, proto: Row) => boolean }> = {
  'sd15-unet': { what: 'ours.ms <= onnx-proto.ms', met: (o, p) => o.ms <= p.ms },
  'sd15-unet-w0.5-embedded': { what: 'ours.ms <= 150 and ours.peakRssMB <= 150', met: (o) => o.ms <= 150 && o.peakRssMB <= 150 },
};
interface Row { ms: number; cpuMs: number; peakRssMB: number }

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1] as Side, args[2], args[3]);
  let runs = 3;
  let synthetic = false;
  let modelsDir = join(ROOT, 'bench', 'out');
  const models: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--runs') runs = Number(args[++i]);
    else if (args[i] === '--synthetic') synthetic = true;
    else if (args[i] === '--models-dir') modelsDir = resolve(args[++i]);
    else models.push(resolve(args[i]));
  }
  if (!models.length) {
    if (existsSync(CORPUS)) {
      const all: [number, string][] = [];
      for (const suite of readdirSync(CORPUS)) {
        const sd = join(CORPUS, suite);
        if (!statSync(sd).isDirectory()) continue;
        for (const t of readdirSync(sd)) {
          const p = join(sd, t, 'model.onnx');
          if (existsSync(p)) all.push([statSync(p).size, p]);
        }
      }
      models.push(...all.sort((a, b) => b[0] - a[0]).slice(0, 3).map(([, p]) => p));
    }
    for (const name of Object.keys(TARGETS)) {
      const p = join(modelsDir, name, 'model.onnx');
      if (existsSync(p)) models.push(p);
      else process.stderr.write(`${p} is missing (bench/gen_sd_unet.py ${join(modelsDir, name)}${name.includes('embedded') ? ' --width-mult 0.5 --embedded' : ''}); skipped\n`);
    }
    if (synthetic) {
      if (!existsSync(SYNTHETIC)) {
        process.stderr.write(`generating ${SYNTHETIC} (1.7 GB, once)...\n`);
        await makeSynthetic(SYNTHETIC);
      }
      models.push(SYNTHETIC);
    }
  }
  const bundle = bundleReader();
  const results = [];
  for (const path of models) {
    const size = await modelBytes(path);
    const row: Record<string, unknown> = { model: path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path, onnxBytes: size.onnx, externalDataBytes: size.external };
    // The sides take turns run by run, so a change in the machine's load hits both alike.
    const sides: Side[] = ['baseline', 'ours', 'onnx-proto'];
    const all = new Map<Side, ChildResult[]>(sides.map((s) => [s, []]));
    for (let r = 0; r < runs; r++) for (const side of sides) all.get(side)!.push(measure(side, path, bundle));
    for (const side of sides) {
      const rs = all.get(side)!;
      row[side] = { ms: +median(rs.map((r) => r.ms)).toFixed(1), cpuMs: +median(rs.map((r) => r.cpuMs)).toFixed(1), peakRssMB: +median(rs.map((r) => r.maxRssMB)).toFixed(1), ...(rs[0].detail ?? {}) };
      if (side === 'baseline') row[side] = { peakRssMB: (row[side] as ChildResult & { peakRssMB: number }).peakRssMB };
    }
    const target = TARGETS[basename(dirname(path))];
    if (target) row.target = { check: target.what, met: target.met(row.ours as Row, row['onnx-proto'] as Row) };
    results.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
  process.stdout.write(JSON.stringify({ bench: 'reader', runs, node: process.version, cpus: cpus().length, loadAverage: loadavg().map((l) => +l.toFixed(1)), results }, null, 2) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
