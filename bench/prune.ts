// Prune benchmark: the blocks BK-SDM removes, pruned from SD-1.5-shaped U-Nets (bench/gen_sd_unet.py,
// random weights), with measured CPU latency and parameters before and after. Prints JSON.
//
//   npx tsx bench/prune.ts [--width-mult 0.25] [--no-full] [--latency-seconds 60] [--min-runs 5] [--samples 2] [--keep]
//                          [--models DIR]
//
// Models: DIR/sd15-unet-w<mult>/model.onnx (DIR defaults to bench/out; generated when absent: Debian's
// /usr/bin/python3 with torch) and, when present, the full-width DIR/sd15-unet/model.onnx. Sets:
//   bk-sdm-base:  one ResNet+attention pair per down stage (down_blocks.{0,1,2}.resnets.1 + .attentions.1,
//                 down_blocks.3.resnets.1) and one per up stage (up_blocks.{1,2,3}.resnets.2 + .attentions.2,
//                 up_blocks.0.resnets.2);
//   bk-sdm-small: the base set plus the whole mid block (mid_block.resnets.0, .attentions.0, .resnets.1).
// Every id is checked against the model's candidate list (what `ld-surgeon candidates` prints) first.
// Each prune runs the full checked pipeline of `ld-surgeon prune` (re-read, structure, weights byte for
// byte, onnxruntime, latent score, interleaved latency); pruned models are deleted afterwards unless --keep.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { analyzeModel } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import { pruneModel, type PruneRecord } from '../src/core/prune';
import { findCandidates } from '../src/core/surgery';

const ROOT = resolve(__dirname, '..');

const BASE = [
  'down_blocks.0.resnets.1', 'down_blocks.0.attentions.1',
  'down_blocks.1.resnets.1', 'down_blocks.1.attentions.1',
  'down_blocks.2.resnets.1', 'down_blocks.2.attentions.1',
  'down_blocks.3.resnets.1',
  'up_blocks.0.resnets.2',
  'up_blocks.1.resnets.2', 'up_blocks.1.attentions.2',
  'up_blocks.2.resnets.2', 'up_blocks.2.attentions.2',
  'up_blocks.3.resnets.2', 'up_blocks.3.attentions.2',
];
const SMALL = [...BASE, 'mid_block.resnets.0', 'mid_block.attentions.0', 'mid_block.resnets.1'];
const SETS: Record<string, string[]> = { 'bk-sdm-base': BASE, 'bk-sdm-small': SMALL };

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const flag = (name: string) => process.argv.includes(name);
const OUT = resolve(arg('--models', join(ROOT, 'bench', 'out')));

function ensureSmall(mult: string): string {
  const dir = join(OUT, `sd15-unet-w${mult}`);
  const model = join(dir, 'model.onnx');
  if (!existsSync(model)) {
    process.stderr.write(`generating ${dir} (width ×${mult}) with /usr/bin/python3 bench/gen_sd_unet.py …\n`);
    const r = spawnSync('/usr/bin/python3', [join(ROOT, 'bench', 'gen_sd_unet.py'), dir, '--width-mult', mult], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gen_sd_unet.py failed (${r.status})`);
  }
  return model;
}

function inputsOf(model: string): Record<string, number[]> {
  const cfg = JSON.parse(readFileSync(join(model, '..', 'config.json'), 'utf8')) as { sample_size: number; in_channels: number; cross_attention_dim: number };
  return { sample: [1, cfg.in_channels, cfg.sample_size, cfg.sample_size], timestep: [1], encoder_hidden_states: [1, 77, cfg.cross_attention_dim] };
}

/** Each id must be a modifiable candidate of the model (the list `ld-surgeon candidates` prints). */
async function checkIds(model: string, inputs: Record<string, number[]>): Promise<Record<string, string>> {
  const m = await readModel(model);
  const candidates = findCandidates(await analyzeModel(m, { inputShapes: inputs }), { granularity: 'both' });
  const methods: Record<string, string> = {};
  for (const id of SMALL) {
    const c = candidates.find((x) => x.id === id);
    if (!c) throw new Error(`${model}: '${id}' is not a candidate`);
    if (!c.modification) throw new Error(`${model}: '${id}' cannot be modified: ${c.reason}`);
    methods[id] = c.modification.method;
  }
  return methods;
}

function summary(r: PruneRecord) {
  const pct = (a: number, b: number) => Math.round(((b - a) / a) * 1000) / 10;
  const ratio = (a: number, b: number) => Math.round((b / a) * 1000) / 1000;
  return {
    removed: r.removed.length,
    params: { before: r.before.params, after: r.after.params, changePercent: pct(r.before.params, r.after.params) },
    flops: { before: r.before.flops, after: r.after.flops, changePercent: pct(r.before.flops, r.after.flops) },
    // pruned / original (BK-SDM-Small target: latency ≤ 0.65)
    ratios: { params: ratio(r.before.params, r.after.params), flops: ratio(r.before.flops, r.after.flops), latency: r.latency && ratio(r.latency.originalMs, r.latency.prunedMs) },
    latencyMs: r.latency && {
      ep: r.latency.ep, call: r.latency.call, runs: r.latency.runs,
      before: Math.round(r.latency.originalMs * 10) / 10, after: Math.round(r.latency.prunedMs * 10) / 10,
      changePercent: Math.round(r.latency.changePercent * 10) / 10,
      beforeRuns: r.latency.originalRunsMs.map(Math.round), afterRuns: r.latency.prunedRunsMs.map(Math.round),
    },
    fileBytes: { before: r.before.fileBytes, after: r.after.fileBytes },
    latentScore: r.latents && { variant: r.latents.variant, samples: r.latents.samples, value: r.latents.score },
    checks: Object.fromEntries(r.checks.map((c) => [c.name, c.status === 'failed' ? `FAILED: ${c.detail}` : c.status])),
    seconds: Math.round(r.seconds),
  };
}

async function main(): Promise<void> {
  const mult = arg('--width-mult', '0.25');
  const latencySeconds = Number(arg('--latency-seconds', '60'));
  const minRuns = Number(arg('--min-runs', '5'));
  const samples = Number(arg('--samples', '2'));
  const models = [ensureSmall(mult)];
  const full = join(OUT, 'sd15-unet', 'model.onnx');
  if (existsSync(full) && !flag('--no-full')) models.push(full);

  const results = [];
  for (const model of models) {
    const inputs = inputsOf(model);
    const methods = await checkIds(model, inputs);
    const sets: Record<string, unknown> = {};
    for (const [name, ids] of Object.entries(SETS)) {
      process.stderr.write(`${model}: pruning the ${name} set (${ids.length} candidates)…\n`);
      const out = join(model, '..', `model.${name}.onnx`);
      const record = await pruneModel({ input: model, selection: { mode: 'ops', ids }, out, inputs, samples, latencySeconds, minRuns, ep: 'cpu' }, {
        onProgress: (p) => { if (!p.total) process.stderr.write(`  ${p.phase}: ${p.message}\n`); },
      });
      sets[name] = summary(record);
      if (!flag('--keep')) for (const f of [record.output.model, record.output.externalData, record.output.record]) if (f) rmSync(f, { force: true });
    }
    results.push({ model, inputs, candidates: methods, sets });
  }
  const report = {
    bench: 'prune',
    note: 'BK-SDM block sets pruned from SD-1.5-shaped U-Nets with random weights; latency = median of interleaved runs of one U-Net call (batch 1, no guidance) on CPU, original vs pruned in the same process',
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAverageAtEnd: loadavg().map((x) => Math.round(x * 10) / 10) },
    results,
  };
  process.stdout.write(JSON.stringify(report, null, 1) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
