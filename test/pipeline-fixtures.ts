// Shared by the pipeline tests: where the example pipelines are, and U-Net variants built as
// modified copies (the originals are never touched).
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readModel } from '../src/core/onnx/reader';
import { writeModel } from '../src/core/onnx/writer';
import type { Model } from '../src/core/onnx/types';

export const EXAMPLES = resolve(__dirname, '..', 'examples');
export const DIGITS_COND = join(EXAMPLES, 'digits-cond');
export const DIGITS_XL = join(EXAMPLES, 'digits-xl');

export function tempDir(prefix: string): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes an edited copy of `src` (an .onnx file) to `out`. */
export async function editModel(src: string, out: string, edit: (m: Model) => void): Promise<string> {
  const m = await readModel(src);
  edit(m);
  await writeModel(m, out, { durable: false });
  return out;
}

/** Replaces every initializer whose name starts with `prefix` by zeros; returns how many. */
export function zeroInitializers(m: Model, prefix: string): number {
  let count = 0;
  for (const t of m.graph.initializers) {
    if (!t.name.startsWith(prefix)) continue;
    const bytes = new Uint8Array(t.dims.reduce((a, b) => a * b, 1) * 4);
    t.location = { kind: 'inline', bytes, field: 'raw' };
    t.byteLength = bytes.length;
    delete t.externalData;
    count++;
  }
  return count;
}

/**
 * Adds a float input `gate` [1] that scales the U-Net's output (out_sample = conv_out · gate),
 * the shape of change scoring makes when it feeds per-candidate inputs to a modified U-Net.
 */
export function addOutputGate(m: Model): void {
  const producer = m.graph.nodes.find((n) => n.outputs.includes('out_sample'));
  if (!producer) throw new Error('no node produces out_sample');
  producer.outputs = producer.outputs.map((o) => (o === 'out_sample' ? 'out_sample_ungated' : o));
  m.graph.inputs.push({ name: 'gate', type: { kind: 'tensor', elemType: 1, shape: [{ value: 1 }] } });
  m.graph.nodes.push({ name: '/gate/Mul', opType: 'Mul', domain: '', inputs: ['out_sample_ungated', 'gate'], outputs: ['out_sample'], attributes: [] });
}

/** A copy of a pipeline folder (to break it, or to swap a component). */
export function copyPipeline(src: string, dir: string): string {
  const out = join(dir, 'pipeline');
  cpSync(src, out, { recursive: true });
  return out;
}
