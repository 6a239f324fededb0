// What several benchmarks share: where generated SD-scale models live, best-of-N timing, and the tensors
// analysis may fold.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { attr } from '../src/core/graph/attrs';
import type { Model, TensorData } from '../src/core/onnx/types';

/** Folder of generated models (`bench/gen_sd_unet.py DIR/sd15-unet`): LD_SURGEON_BENCH_MODELS, else bench/out. */
export const BENCH_MODELS = resolve(process.env.LD_SURGEON_BENCH_MODELS ?? join(__dirname, 'out'));

/** The generated SD-1.5-shaped U-Nets present, full width first. */
export function sdModels(): string[] {
  if (!existsSync(BENCH_MODELS)) return [];
  const names = readdirSync(BENCH_MODELS).filter((d) => d.startsWith('sd15-unet') && !d.includes('staging'));
  const rank = (d: string) => (d === 'sd15-unet' ? 0 : d.includes('w0.5') ? 1 : 2);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).map((d) => join(BENCH_MODELS, d, 'model.onnx')).filter((p) => existsSync(p));
}

export async function best<T>(runs: number, fn: () => T | Promise<T>): Promise<{ ms: number; result: T }> {
  let ms = Infinity;
  let result!: T;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    result = await fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms: +ms.toFixed(1), result };
}

/** Initializers and Constant values: what constant folding may read. */
export function foldCandidates(m: Model): TensorData[] {
  const out = [...m.graph.initializers];
  for (const n of m.graph.nodes) {
    const t = attr(n, 'value')?.t;
    if (t) out.push(t);
  }
  return out;
}

/**
 * CPU time a busy loop gets per second of wall time over 0.5 s: 1 on an idle core, less when others compete
 * (the benches report it beside their timings, which scale roughly with its inverse).
 */
export function measureCpuShare(): number {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let x = 0;
  while (performance.now() - t0 < 500) for (let i = 0; i < 10_000; i++) x = (x + i) | 0;
  const c = process.cpuUsage(c0);
  if (x === 0.5) console.error('unreachable');
  return Math.round(((c.user + c.system) / 1000 / (performance.now() - t0)) * 100) / 100;
}
