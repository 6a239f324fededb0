// The model summary `ld-surgeon inspect` prints, as data (InspectReport, the --json shape) and as
// an aligned text table.
import { elemTypeName } from '../onnx/types';
import type { ModelAnalysis, ModuleStats } from './analyze';
import { describeAssumption, type AssumedDim } from './assumed-shapes';
import { walkModules } from './modules';
import type { ScopeSource } from './modules';
import { factsFromType, type DimValue } from './shapes';
import { findStacks, type DepthStack } from './stacks';

/**
 * JSON printed by `ld-surgeon inspect --json` (schema id 'ld-surgeon/inspect@1').
 * Stable: later versions only add fields. All counts are plain numbers (FLOPs of an SD U-Net fit
 * in a double exactly enough); a dim is a number, a symbol such as "batch", or null (unknown).
 *
 * {
 *   schema: 'ld-surgeon/inspect@1',
 *   file: string,                       // absolute path of the .onnx file
 *   producer: { name, version },        // null when the model does not say
 *   irVersion: number,
 *   opsets: [{ domain, version }],      // domain '' is the default ONNX domain
 *   scopeSource: 'metadata' | 'node-names' | 'structure',   // where module paths came from
 *   inputs:  [{ name, elemType, shape }],   // shape used for analysis (declared + --input)
 *   outputs: [{ name, elemType, shape }],   // declared, completed by the shape pass
 *   totals: ModuleStatsJson,            // whole model (same fields as a module)
 *   flopsAt: null | {                   // set when input dims are symbolic: FLOPs are counted at
 *     inputs: { [name]: number[] },     //   these concrete input shapes,
 *     assumed: string,                  //   'batch=1, height=64, width=64'
 *     dims: [{ input, axis, symbol, value, rule }],  // rule: 'batch' | 'config' | 'spatial' | 'sequence' | 'default'
 *   },
 *   depth: number,                      // module depth listed (root is 0)
 *   modules: [ModuleReport],            // depth-first pre-order, the root (id '') first
 *   stacks: [{ id, parent, members }],  // depth stacks (runs of identical blocks; `prune --stack ID --k K`)
 * }
 * ModuleReport = {
 *   id: string,            // canonical dot-joined module path, '' for the whole model
 *   name: string,          // path relative to the parent
 *   parent: string | null,
 *   depth: number,
 *   children: number,      // direct submodules in the full tree (also those deeper than `depth`)
 *   ...ModuleStatsJson,    // totals over the module's subtree
 *   flopsShare: number | null,   // flops / model flops, 0..1 (null when the model's flops are 0)
 * }
 * ModuleStatsJson = { nodes, ops, noiseNodes, opCounts: { [opType]: count }, params, paramBytes,
 *                     macs, flops, uncounted }
 *   ops/opCounts exclude exporter noise (Constant, shape arithmetic, Identity of weights);
 *   uncounted = nodes whose FLOPs are unknown (no rule, or shapes unknown) and not in flops.
 */
export interface InspectReport {
  schema: 'ld-surgeon/inspect@1';
  file: string;
  producer: { name: string | null; version: string | null };
  irVersion: number;
  opsets: { domain: string; version: number }[];
  scopeSource: ScopeSource;
  inputs: IoReport[];
  outputs: IoReport[];
  totals: ModuleStats;
  /** the input shapes FLOPs were counted at, when the model's are symbolic */
  flopsAt: { inputs: Record<string, number[]>; assumed: string; dims: AssumedDim[] } | null;
  depth: number;
  modules: ModuleReport[];
  /** depth stacks (stacks.ts): what `prune --stack ID --k K` picks from */
  stacks: DepthStack[];
}

export interface IoReport {
  name: string;
  /** ONNX element type name, e.g. 'float', 'int64' */
  elemType: string;
  /** null when even the rank is unknown */
  shape: DimValue[] | null;
}

export interface ModuleReport extends ModuleStats {
  id: string;
  name: string;
  parent: string | null;
  depth: number;
  children: number;
  flopsShare: number | null;
}

export const INSPECT_SCHEMA = 'ld-surgeon/inspect@1' as const;

export function buildInspectReport(a: ModelAnalysis, depth: number): InspectReport {
  const m = a.model;
  const g = m.graph;
  const totals = a.total.get(a.tree.root)!;
  const modules: ModuleReport[] = [];
  walkModules(a.tree.root, (mod) => {
    if (mod.depth > depth) return;
    const t = a.total.get(mod)!;
    modules.push({
      id: mod.id,
      name: mod.name,
      parent: mod.parent ? mod.parent.id : null,
      depth: mod.depth,
      children: mod.children.length,
      ...t,
      flopsShare: totals.flops > 0 ? t.flops / totals.flops : null,
    });
  });
  const io = (name: string, declaredType: number | undefined, shape: DimValue[] | undefined): IoReport => ({
    name,
    elemType: elemTypeName(declaredType ?? a.shapes.get(name)?.elemType ?? 0),
    shape: shape ?? null,
  });
  return {
    schema: INSPECT_SCHEMA,
    file: m.path,
    producer: { name: m.producerName || null, version: m.producerVersion || null },
    irVersion: m.irVersion,
    opsets: m.opsetImports.map((o) => ({ domain: o.domain, version: o.version })),
    scopeSource: a.tree.source,
    inputs: a.view.dataInputs().map((v) => io(v.name, factsFromType(v.type)?.elemType, a.inputShapes[v.name])),
    outputs: g.outputs.map((v) => io(v.name, factsFromType(v.type)?.elemType, a.shapes.get(v.name)?.shape ?? factsFromType(v.type)?.shape)),
    totals,
    flopsAt: a.flopsAssumption ? { inputs: a.flopsAssumption.inputs, assumed: describeAssumption(a.flopsAssumption), dims: a.flopsAssumption.dims } : null,
    depth,
    modules,
    stacks: findStacks(a.view, a.tree, a.noise),
  };
}

// ---------------------------------------------------------------------------------------------
// text

/** 1234 → '1.23K', 8.6e8 → '860M', 1.2e12 → '1.20T' (three significant digits). */
export function humanCount(n: number): string {
  const units = ['', 'K', 'M', 'G', 'T', 'P'];
  let u = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  if (u === 0) return String(Math.round(v));
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}${units[u]}`;
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}

function shapeText(s: DimValue[] | null): string {
  return s ? `[${s.map((d) => (d === null ? '?' : d)).join(', ')}]` : '[?]';
}

/** The human-readable summary: header, inputs/outputs, and the module table. */
export function renderInspectText(r: InspectReport): string {
  const lines: string[] = [];
  const t = r.totals;
  const opset = r.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ');
  lines.push(r.file);
  lines.push(`  producer   ${[r.producer.name, r.producer.version].filter(Boolean).join(' ') || '(unknown)'}`);
  lines.push(`  ir_version ${r.irVersion}   opset ${opset}`);
  for (const i of r.inputs) lines.push(`  input      ${i.name}: ${i.elemType} ${shapeText(i.shape)}`);
  for (const o of r.outputs) lines.push(`  output     ${o.name}: ${o.elemType} ${shapeText(o.shape)}`);
  lines.push(`  nodes      ${t.nodes} (${t.ops} ops, ${t.noiseNodes} exporter noise)`);
  lines.push(`  params     ${humanCount(t.params)} (${humanBytes(t.paramBytes)})`);
  lines.push(`  FLOPs      ${humanCount(t.flops)} (${humanCount(t.macs)} MACs)${t.uncounted ? `, ${t.uncounted} ops uncounted` : ''}`);
  if (r.flopsAt) {
    const at = Object.entries(r.flopsAt.inputs).map(([k, v]) => `${k} ${shapeText(v)}`).join(', ');
    lines.push(`  FLOPs at   ${at} (assumed ${r.flopsAt.assumed}: the model's dims are symbolic; --input name=d1,d2,... counts other sizes)`);
  }
  const top = Object.entries(t.opCounts).sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (top.length) lines.push(`  top ops    ${top.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (r.stacks?.length) lines.push(`  stacks     ${r.stacks.map((x) => `${x.id} (${x.members.length} blocks)`).join(', ')} (prune --stack ID --k K)`);
  lines.push(`  modules    from ${r.scopeSource === 'metadata' ? 'torch name_scopes metadata' : r.scopeSource === 'node-names' ? 'node name scopes' : 'the graph structure (no scopes in the model: blocks are single-entry/single-exit regions)'}`);
  lines.push('');

  const rows = r.modules.map((m) => [
    m.depth === 0 ? '(model)' : `${'  '.repeat(m.depth - 1)}${m.id}`,
    String(m.ops),
    humanCount(m.params),
    humanCount(m.flops) + (m.uncounted ? '+' : ''),
    m.flopsShare === null ? '-' : `${(100 * m.flopsShare).toFixed(1)}%`,
  ]);
  const header = ['module', 'ops', 'params', 'FLOPs', '% FLOPs'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  lines.push(fmt(header));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) lines.push(fmt(row));
  if (t.uncounted) {
    lines.push('');
    lines.push(`FLOPs marked + leave out ops whose cost is unknown (${t.uncounted} in all)${hasSymbolicInput(r) && !r.flopsAt ? '; give concrete input shapes with --input name=d1,d2,...' : ''}.`);
  }
  return lines.join('\n');
}

function hasSymbolicInput(r: InspectReport): boolean {
  return r.inputs.some((i) => !i.shape || i.shape.some((d) => typeof d !== 'number'));
}
