// A small hand-written graph index (the host's format, src/core/graph/graph-index.ts) shaped like a
// two-level U-Net, for the webview's pure-logic tests. Node lists read like the exporter's names.
import type { GraphIndex, IndexModule } from '../src/core/graph/graph-index';
import type { CandidateResult } from '../src/protocol/webview';

type NodeSpec = [id: string, op: string, module: string, inputs: string[], outputs: string[], noise?: 'constant' | 'shape'];

/** Builds an index from node specs; modules come from the node's module paths (dot-joined). */
export function buildIndex(nodes: NodeSpec[], opts: { inputs: string[]; outputs: string[]; initializers?: string[]; params?: Record<string, number>; flops?: Record<string, number> }): GraphIndex {
  const moduleIds = new Set<string>(['']);
  for (const [, , m] of nodes) {
    const parts = m ? m.split('.') : [];
    // module paths join `name.index` pairs: 'down.0.resnets.0' has ancestors 'down.0'
    const segs: string[] = [];
    for (const p of parts) {
      if (/^\d+$/.test(p) && segs.length) segs[segs.length - 1] += `.${p}`;
      else segs.push(p);
    }
    for (let i = 1; i <= segs.length; i++) moduleIds.add(segs.slice(0, i).join('.'));
  }
  const sorted = [...moduleIds].sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1));
  const parentOf = (id: string): string => {
    let best = '';
    for (const c of sorted) if (c && c !== id && id.startsWith(c + '.') && c.length > best.length) best = c;
    return best;
  };
  const modules: IndexModule[] = [];
  const index = new Map<string, number>();
  const walk = (id: string, parent: number, depth: number) => {
    index.set(id, modules.length);
    const inside = (m: string) => id === '' || m === id || m.startsWith(id + '.');
    const own = nodes.filter(([, , m]) => inside(m));
    const real = own.filter((n) => !n[5]);
    const opCounts: Record<string, number> = {};
    for (const n of real) opCounts[n[1]] = (opCounts[n[1]] ?? 0) + 1;
    const sum = (table: Record<string, number> | undefined) => Object.entries(table ?? {}).filter(([m]) => inside(m)).reduce((s, [, v]) => s + v, 0);
    modules.push({ id, name: id === '' ? '' : id.slice(parentOf(id) ? parentOf(id).length + 1 : 0), parent, depth, nodes: own.length, ops: real.length, params: sum(opts.params), paramBytes: 4 * sum(opts.params), macs: sum(opts.flops) / 2, flops: sum(opts.flops), uncounted: 0, opCounts });
    const me = modules.length - 1;
    // children in order of their first node, as the exporter's module tree lists them
    const first = (c: string) => nodes.findIndex(([, , m]) => m === c || m.startsWith(c + '.'));
    const kids = sorted.filter((c) => c && c !== id && parentOf(c) === id).sort((a, b) => first(a) - first(b));
    for (const c of kids) walk(c, me, depth + 1);
  };
  walk('', -1, 0);

  const values: GraphIndex['values'] = { name: [], shape: [], elemType: [] };
  const vIndex = new Map<string, number>();
  const producer = new Map<string, number>();
  nodes.forEach(([, , , , outs], i) => outs.forEach((o) => producer.set(o, i)));
  const init = new Set(opts.initializers ?? []);
  const initializers: number[] = [];
  const vi = (name: string): number => {
    if (!name) return -1;
    let i = vIndex.get(name);
    if (i === undefined) {
      i = values.name.length;
      values.name.push(name);
      values.shape.push('[1,4,8,8]');
      values.elemType.push(1);
      vIndex.set(name, i);
      if (init.has(name)) initializers.push(i);
    }
    return i;
  };
  const inputs = opts.inputs.map(vi);
  const idxNodes = nodes.map(([id, op, m, ins, outs, noise]) => ({ id, op, module: index.get(m)!, in: ins.map(vi), out: outs.map(vi), ...(noise ? { noise } : { flops: 0 }) }));
  const edges: [number, number, number][] = [];
  idxNodes.forEach((n, to) => {
    for (const x of new Set(n.in)) {
      const p = x >= 0 ? producer.get(values.name[x]) : undefined;
      if (p !== undefined) edges.push([p, to, x]);
    }
  });
  return { schema: 'ld-surgeon/graph-index@1', modules, nodes: idxNodes, values, edges, inputs, outputs: opts.outputs.map(vi), initializers };
}

/**
 * time_embedding feeds every ResNet (a broadcast); down.0 and up.0 are blocks with a ResNet each,
 * down.0's output also skips to up.0; norm1 is the six-node GroupNorm with its shape noise.
 */
export function tinyUnet(): GraphIndex {
  return buildIndex(
    [
      ['/time_embedding/linear_1/Gemm', 'Gemm', 'time_embedding.linear_1', ['t', 'time_embedding.linear_1.weight'], ['temb0']],
      ['/time_embedding/act/Sigmoid', 'Sigmoid', 'time_embedding.act', ['temb0'], ['temb1']],
      ['/time_embedding/act/Mul', 'Mul', 'time_embedding.act', ['temb0', 'temb1'], ['temb']],
      ['/conv_in/Conv', 'Conv', 'conv_in', ['x', 'conv_in.weight'], ['h0']],
      ['/down.0/resnets.0/norm1/Constant', 'Constant', 'down.0.resnets.0.norm1', [], ['c0'], 'constant'],
      ['/down.0/resnets.0/norm1/Reshape', 'Reshape', 'down.0.resnets.0.norm1', ['h0', 'c0'], ['n0']],
      ['/down.0/resnets.0/norm1/InstanceNormalization', 'InstanceNormalization', 'down.0.resnets.0.norm1', ['n0', 'ones', 'zeros'], ['n1']],
      ['/down.0/resnets.0/norm1/Shape', 'Shape', 'down.0.resnets.0.norm1', ['h0'], ['s0'], 'shape'],
      ['/down.0/resnets.0/norm1/Reshape_1', 'Reshape', 'down.0.resnets.0.norm1', ['n1', 's0'], ['n2']],
      ['/down.0/resnets.0/norm1/Mul', 'Mul', 'down.0.resnets.0.norm1', ['n2', 'gamma'], ['n3']],
      ['/down.0/resnets.0/norm1/Add', 'Add', 'down.0.resnets.0.norm1', ['n3', 'beta'], ['n4']],
      ['/down.0/resnets.0/conv1/Conv', 'Conv', 'down.0.resnets.0.conv1', ['n4', 'down.0.resnets.0.conv1.weight'], ['r0']],
      ['/down.0/resnets.0/time_emb_proj/Gemm', 'Gemm', 'down.0.resnets.0.time_emb_proj', ['temb', 'w_t0'], ['tp0']],
      ['/down.0/resnets.0/Add', 'Add', 'down.0.resnets.0', ['r0', 'tp0'], ['r1']],
      ['/down.0/resnets.0/Add_1', 'Add', 'down.0.resnets.0', ['h0', 'r1'], ['d0']],
      ['/down.0/downsample/Conv', 'Conv', 'down.0.downsample', ['d0', 'w_ds'], ['d1']],
      ['/mid/resnets.0/time_emb_proj/Gemm', 'Gemm', 'mid.resnets.0.time_emb_proj', ['temb', 'w_tm'], ['tpm']],
      ['/mid/resnets.0/Add', 'Add', 'mid.resnets.0', ['d1', 'tpm'], ['m0']],
      ['/mid/attentions.0/Softmax', 'Softmax', 'mid.attentions.0', ['m0'], ['m1']],
      ['/up.0/Concat', 'Concat', 'up.0', ['m1', 'd0'], ['u0']],
      ['/up.0/resnets.0/time_emb_proj/Gemm', 'Gemm', 'up.0.resnets.0.time_emb_proj', ['temb', 'w_tu'], ['tpu']],
      ['/up.0/resnets.0/conv1/Conv', 'Conv', 'up.0.resnets.0.conv1', ['u0', 'w_u'], ['u1']],
      ['/up.0/resnets.0/Add', 'Add', 'up.0.resnets.0', ['u1', 'tpu'], ['u2']],
      ['/conv_out/Conv', 'Conv', 'conv_out', ['u2', 'conv_out.weight'], ['y']],
    ],
    {
      inputs: ['x', 't'],
      outputs: ['y'],
      initializers: ['time_embedding.linear_1.weight', 'conv_in.weight', 'ones', 'zeros', 'gamma', 'beta', 'down.0.resnets.0.conv1.weight', 'w_t0', 'w_ds', 'w_tm', 'w_tu', 'w_u', 'conv_out.weight'],
      params: {
        'time_embedding.linear_1': 100, 'conv_in': 50, 'down.0.resnets.0.norm1': 10, 'down.0.resnets.0.conv1': 400, 'down.0.resnets.0.time_emb_proj': 40,
        'down.0.downsample': 300, 'mid.resnets.0.time_emb_proj': 40, 'mid.attentions.0': 0, 'up.0.resnets.0.time_emb_proj': 40, 'up.0.resnets.0.conv1': 500, 'conv_out': 20,
      },
      flops: {
        'time_embedding.linear_1': 200, 'conv_in': 1000, 'down.0.resnets.0.conv1': 8000, 'down.0.resnets.0': 100, 'down.0.downsample': 2000,
        'mid.resnets.0': 50, 'mid.attentions.0': 3000, 'up.0': 10, 'up.0.resnets.0.conv1': 9000, 'conv_out': 500,
      },
    },
  );
}

export function result(id: string, score: number | null, params: number, flops: number, latencyShare?: number, modification: CandidateResult['modification'] = 'remove'): CandidateResult {
  return { id, score, params, flops, ...(latencyShare !== undefined ? { latencyShare } : {}), modification };
}
