// Latency attribution from an onnxruntime profile (the Chrome-trace JSON that enableProfiling
// writes). Kernel events are named after the node that ran, but graph optimisation renames fused
// and re-laid-out nodes ('/…/conv1/Conv_output_0_nchwc', '/…/Mul/QuickGeluFusion/'), so an event
// belongs to the original node whose name (or output name) is the longest prefix of the event name.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Node } from '../onnx/types';

export interface NodeTimes {
  /** microseconds per original node index (median kernel time × runs) */
  byNode: Map<number, number>;
  /** all kernel time of the original model's nodes (our gate nodes excluded), microseconds */
  totalUs: number;
  /** kernel time no original node could be matched to (fused helper nodes), microseconds */
  unattributedUs: number;
  runs: number;
}

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
}

/** Our own nodes in the gated model: they do not exist in the model being scored. */
const OWN = /ld_surgeon/;

export function attributeProfile(events: readonly TraceEvent[], nodes: readonly Node[]): NodeTimes {
  const index = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (n.name) index.set(n.name, i);
    for (const o of n.outputs) if (o && !index.has(o)) index.set(o, i);
  });
  const cache = new Map<string, number | undefined>();
  const lookup = (name: string): number | undefined => {
    if (cache.has(name)) return cache.get(name);
    let hit: number | undefined;
    for (let cut = name.length; cut > 0 && hit === undefined; cut--) {
      if (cut < name.length && !'/_'.includes(name[cut])) continue;
      hit = index.get(name.slice(0, cut));
    }
    cache.set(name, hit);
    return hit;
  };
  // per kernel, the median over runs: a busy machine preempts single kernels, and one preempted
  // kernel must not make its module look expensive
  const samples = new Map<string, number[]>();
  let runs = 0;
  for (const e of events) {
    if (e.name === 'model_run') runs++;
    if (e.cat !== 'Node' || typeof e.name !== 'string' || !e.name.endsWith('_kernel_time') || typeof e.dur !== 'number') continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    if (OWN.test(name)) continue;
    let list = samples.get(name);
    if (!list) samples.set(name, (list = []));
    list.push(e.dur);
  }
  const byNode = new Map<number, number>();
  let total = 0;
  let unattributed = 0;
  for (const [name, durs] of samples) {
    const us = median(durs) * Math.max(1, runs);
    total += us;
    const i = lookup(name);
    if (i === undefined) unattributed += us;
    else byNode.set(i, (byNode.get(i) ?? 0) + us);
  }
  return { byNode, totalUs: total, unattributedUs: unattributed, runs };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Reads the profile in `dir` written for the gated model (the one mentioning its gate nodes). */
export function readGatedProfile(dir: string): TraceEvent[] | undefined {
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const text = readFileSync(join(dir, f), 'utf8');
    if (!text.includes('ld_surgeon')) continue;
    const j = JSON.parse(text) as unknown;
    if (Array.isArray(j)) return j as TraceEvent[];
  }
  return undefined;
}

/** Share of the total per candidate (its region's node indices). */
export function latencyShares(times: NodeTimes, regions: ReadonlyMap<string, readonly number[]>): Map<string, number> {
  const out = new Map<string, number>();
  if (!(times.totalUs > 0)) return out;
  for (const [id, nodes] of regions) {
    let us = 0;
    for (const i of nodes) us += times.byNode.get(i) ?? 0;
    out.set(id, us / times.totalUs);
  }
  return out;
}
