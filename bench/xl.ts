// Full-scale graphs (issue 19, "At full scale"): the SDXL U-Net and the FLUX-structured transformer that
// bench/gen_sdxl_unet.py and bench/gen_flux.py generate (random weights in a sidecar). Prints JSON, one
// case per model present in $LD_SURGEON_BENCH_MODELS/{sdxl-unet,flux}/model.onnx.
//
//   npm run build && LD_SURGEON_BENCH_MODELS=/work/bench-models npx tsx bench/xl.ts [--runs N] [--no-webview] [--full-prune]
//
// Per model, against the targets (inspect ≤ 2 s and ≤ 300 MB, candidates ≤ 2 s, first paint ≤ 1.5 s):
//   inspect, candidates  `ld-surgeon inspect|candidates --json` as a user runs them (dist/cli.js), wall time
//                        and peak RSS from /usr/bin/time; best of --runs (default 2)
//   graphIndex           read + analyse + buildGraphIndex in this process (what the graph editor is sent), ms and JSON bytes
//   webview              first paint at module level in headless Chromium (bench/webview.ts's firstPaintOf)
//   pruneWrite           20 blocks (FLUX: single_transformer_blocks.0..19; SDXL: the 20 transformer blocks of
//                        down_blocks.2's depth-10 stacks) pruned by the product's pruneModel in a child process,
//                        stopped once the output is written, re-read and its kept weights compared byte for byte
//                        (the onnxruntime checks after that load both models whole: they are measured by
//                        --full-prune, which runs the whole `ld-surgeon prune` under /usr/bin/time). RSS is
//                        sampled every 10 ms through the write phase; the output is discarded.
// `machine` carries the load average and cpuShare (bench/webview.ts: ~1 on an idle core) at the start.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { analyzeModel, buildGraphIndex } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { CancelledError } from '../src/core/errors';
import { pruneModel, type PruneProgress } from '../src/core/prune';
import { analysisShapes } from '../src/core/scoring/prepare';
import { resolveTarget } from '../src/core/scoring/target';
import { BENCH_MODELS, measureCpuShare } from './common';
import { firstPaintOf } from './webview';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const TARGET = { inspectMs: 2000, inspectPeakMB: 300, candidatesMs: 2000, firstPaintMs: 1500 };
const runs = process.argv.includes('--runs') ? Number(process.argv[process.argv.indexOf('--runs') + 1]) : 2;

interface XlCase {
  name: string;
  model: string;
  /** the input dims a user passes for a prune */
  inputs: Record<string, number[]>;
  /** the 20 blocks pruned */
  blocks: string[];
}

const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function cases(): XlCase[] {
  const out: XlCase[] = [];
  const flux = join(BENCH_MODELS, 'flux', 'model.onnx');
  if (existsSync(flux)) {
    out.push({
      name: 'flux', model: flux,
      inputs: { hidden_states: [1, 64, 64], encoder_hidden_states: [1, 16, 4096], pooled_projections: [1, 768], timestep: [1], guidance: [1] },
      blocks: range('single_transformer_blocks.', 20),
    });
  }
  const sdxl = join(BENCH_MODELS, 'sdxl-unet', 'model.onnx');
  if (existsSync(sdxl)) {
    out.push({
      name: 'sdxl-unet', model: sdxl,
      inputs: { sample: [1, 4, 128, 128], timestep: [1], encoder_hidden_states: [1, 77, 2048], text_embeds: [1, 1280], time_ids: [1, 6] },
      blocks: [...range('down_blocks.2.attentions.0.transformer_blocks.', 10), ...range('down_blocks.2.attentions.1.transformer_blocks.', 10)],
    });
  }
  return out;
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const round = (x: number) => Math.round(x * 10) / 10;

/**
 * `node dist/cli.js ARGS` under /usr/bin/time: wall ms, CPU ms (user + system: about the wall time on an
 * idle core; on a loaded machine the wall time also counts waiting for one) and peak RSS MB, best of `runs`.
 */
function timedCli(args: string[]): { ms: number; cpuMs: number; peakMB: number; runs: { ms: number; cpuMs: number; peakMB: number }[] } {
  const all: { ms: number; cpuMs: number; peakMB: number }[] = [];
  for (let r = 0; r < runs; r++) {
    const p = spawnSync('/usr/bin/time', ['-f', 'LDTIME %e %M %U %S', process.execPath, CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
    if (p.status !== 0) throw new Error(`ld-surgeon ${args.join(' ')} failed (${p.status}): ${p.stderr.slice(-2000)}`);
    const m = /LDTIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(p.stderr);
    if (!m) throw new Error(`/usr/bin/time printed no figures: ${p.stderr.slice(-500)}`);
    all.push({ ms: Math.round(Number(m[1]) * 1000), cpuMs: Math.round((Number(m[3]) + Number(m[4])) * 1000), peakMB: Math.round(Number(m[2]) / 1024) });
  }
  return { ms: Math.min(...all.map((x) => x.ms)), cpuMs: Math.min(...all.map((x) => x.cpuMs)), peakMB: Math.min(...all.map((x) => x.peakMB)), runs: all };
}

const inputFlags = (inputs: Record<string, number[]>) => Object.entries(inputs).flatMap(([k, v]) => ['--input', `${k}=${v.join(',')}`]);

/** The child-process half of pruneWrite (see the header): prints one JSON line. */
async function pruneWriteChild(model: string, inputsJson: string, blocksJson: string): Promise<void> {
  const ac = new AbortController();
  const events: Record<string, number> = {};
  let sampling: NodeJS.Timeout | undefined;
  let rssAtWriteStart = 0;
  let writePeak = 0;
  let tWrite = 0;
  let writeMs = 0;
  let weightsChecked = 0;
  const t0 = performance.now();
  const sample = () => { writePeak = Math.max(writePeak, process.memoryUsage().rss); };
  const onProgress = (p: PruneProgress) => {
    events[p.phase] = (events[p.phase] ?? 0) + 1;
    if (p.phase === 'write' && !sampling) {
      rssAtWriteStart = process.memoryUsage().rss;
      writePeak = rssAtWriteStart;
      tWrite = performance.now();
      sampling = setInterval(sample, 10);
    } else if (p.phase === 'check' && sampling && !writeMs) {
      sample();
      clearInterval(sampling);
      writeMs = performance.now() - tWrite;
    }
    if (p.phase === 'check' && p.total !== undefined) weightsChecked = p.done ?? 0;
    // everything after the byte-for-byte weight check runs onnxruntime on both models (--full-prune)
    if (p.phase === 'latents' || p.phase === 'metric' || p.phase === 'latency' || (p.phase === 'check' && p.total !== undefined && p.done === p.total)) ac.abort();
  };
  const inputs = JSON.parse(inputsJson) as Record<string, number[]>;
  const shapes = Object.keys(inputs).length ? inputs : analysisShapes(await readModel(model), resolveTarget(model));
  const out = join(model, '..', `model.xl-bench-${process.pid}.onnx`);
  let stoppedAfterChecks = false;
  try {
    await pruneModel({ input: model, selection: { mode: 'ops', ids: JSON.parse(blocksJson) }, out, inputs: shapes, ep: 'cpu' }, { onProgress, signal: ac.signal });
  } catch (e) {
    if (!(e instanceof CancelledError)) throw e;
    stoppedAfterChecks = true;
  }
  if (existsSync(out)) throw new Error(`${out}: left behind`);
  const ru = process.resourceUsage();
  process.stdout.write(JSON.stringify({
    stoppedAfterChecks, wallMs: Math.round(performance.now() - t0), writeMs: Math.round(writeMs),
    rssAtWriteStartMB: mb(rssAtWriteStart), writePeakRssMB: mb(writePeak), writePhaseGrowthMB: mb(writePeak - rssAtWriteStart),
    processPeakRssMB: Math.round(ru.maxRSS / 1024), weightsComparedTensors: weightsChecked, progressEvents: events,
  }) + '\n');
}

function pruneWrite(c: XlCase): unknown {
  const p = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--prune-write-child', c.model, JSON.stringify(c.inputs), JSON.stringify(c.blocks)], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 26 });
  if (p.status !== 0) throw new Error(`pruneWrite ${c.name} failed (${p.status}): ${p.stderr.slice(-3000)}`);
  return JSON.parse(p.stdout.trim().split('\n').pop()!);
}

function fullPrune(c: XlCase): unknown {
  const out = join(c.model, '..', `model.xl-bench-full.onnx`);
  try {
    const r = timedCli(['prune', c.model, '--ops', c.blocks.join(','), '--ep', 'cpu', '--latency-seconds', '5', '--samples', '2', '--out', out, ...inputFlags(c.inputs)]);
    return { wallMs: r.ms, peakRssMB: r.peakMB };
  } finally {
    for (const f of [out, `${out}.data`, out.replace(/\.onnx$/, '.prune.json')]) if (existsSync(f)) spawnSync('rm', ['-f', f]);
  }
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const list = cases();
  if (!list.length) throw new Error(`no generated full-scale model in ${BENCH_MODELS} (sdxl-unet/ or flux/: bench/gen_sdxl_unet.py, bench/gen_flux.py)`);
  const machine = { cpus: cpus().length, loadavg1m: round(loadavg()[0]), cpuShare: measureCpuShare() };
  const results = [];
  for (const c of list) {
    process.stderr.write(`${c.name}: inspect, candidates…\n`);
    const weights = statSync(`${c.model}.data`, { throwIfNoEntry: false })?.size ?? 0;
    const inspect = timedCli(['inspect', c.model, '--json']);
    const candidates = timedCli(['candidates', c.model, '--json', ...inputFlags(c.inputs)]);
    const t = performance.now();
    const m = await readModel(c.model);
    const a = await analyzeModel(m, { inputShapes: Object.keys(c.inputs).length ? c.inputs : analysisShapes(m, resolveTarget(c.model)) });
    const index = buildGraphIndex(a);
    const indexMs = Math.round(performance.now() - t);
    const indexBytes = JSON.stringify(index).length;
    let webview: unknown = 'skipped (--no-webview)';
    let firstPaintMedian: number | undefined;
    if (!process.argv.includes('--no-webview')) {
      process.stderr.write(`${c.name}: first paint in Chromium…\n`);
      const fp = await firstPaintOf(index, runs);
      firstPaintMedian = [...fp.runs].sort((x, y) => x - y)[Math.floor((fp.runs.length - 1) / 2)];
      webview = { firstPaintMs: { median: firstPaintMedian, runs: fp.runs, layoutMs: fp.layoutMs } };
    }
    process.stderr.write(`${c.name}: prune of ${c.blocks.length} blocks, write phase…\n`);
    let write: unknown;
    try {
      write = pruneWrite(c);
    } catch (e) {
      write = { error: e instanceof Error ? e.message : String(e) };
    }
    const full = process.argv.includes('--full-prune') ? fullPrune(c) : 'skipped (--full-prune runs it: minutes, onnxruntime sessions of both models)';
    results.push({
      case: c.name, model: c.model, nodes: m.graph.nodes.length, weightBytes: weights, weightMB: mb(weights),
      inspect, candidates, graphIndex: { ms: indexMs, bytes: indexBytes, nodes: index.nodes.length, modules: index.modules.length },
      webview, pruneWrite: write, fullPrune: full,
      withinTarget: {
        inspectMs: inspect.ms <= TARGET.inspectMs, inspectCpuMs: inspect.cpuMs <= TARGET.inspectMs, inspectPeakMB: inspect.peakMB <= TARGET.inspectPeakMB,
        candidatesMs: candidates.ms <= TARGET.candidatesMs, candidatesCpuMs: candidates.cpuMs <= TARGET.candidatesMs,
        firstPaintMs: firstPaintMedian === undefined ? null : firstPaintMedian <= TARGET.firstPaintMs,
      },
    });
  }
  console.log(JSON.stringify({ bench: 'xl', runs, target: TARGET, machine, machineAtEnd: { loadavg1m: round(loadavg()[0]) }, results }, null, 1));
}

if (process.argv[2] === '--prune-write-child') {
  pruneWriteChild(process.argv[3], process.argv[4], process.argv[5]).catch((e) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
