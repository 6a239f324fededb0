// A synthetic graph index shaped like torch.onnx's export of a Stable Diffusion v1 U-Net
// (diffusers UNet2DConditionModel, opset 17): the same module paths, the six-node GroupNorm, the
// Shape/Gather/Unsqueeze/Concat chains around every Reshape, skip Concats in the up blocks. Used by
// the harness page and the SD-scale benchmark; not shipped.
// type-only: the index module's runtime imports are node-only, and this file also runs in the browser
import type { GraphIndex, IndexAttribute, IndexModule, IndexNode } from '../../src/core/graph/graph-index';
import type { CandidateResult } from '../../src/protocol/webview';

type Shape = number[];

interface ModuleAcc {
  id: string;
  name: string;
  parent: string | null;
  nodes: number;
  ops: number;
  params: number;
  flops: number;
  opCounts: Record<string, number>;
}

interface NodeAcc {
  id: string;
  op: string;
  module: string;
  inputs: string[];
  outputs: string[];
  noise?: 'constant' | 'shape';
  flops?: number;
  attrs?: Record<string, unknown>;
}

interface ValueAcc {
  shape: Shape;
  dtype: string;
  kind: 'input' | 'initializer' | 'activation';
}

class Builder {
  modules = new Map<string, ModuleAcc>();
  nodes: NodeAcc[] = [];
  values: Record<string, ValueAcc> = {};
  /** nodes created while set are exporter noise of this kind */
  noise: 'constant' | 'shape' | undefined;
  private names = new Map<string, number>();
  private anon = 0;

  private ensureModule(path: string[]): string {
    let parent: string | null = null;
    for (let i = 1; i <= path.length; i++) {
      const id = path.slice(0, i).join('.');
      if (!this.modules.has(id)) this.modules.set(id, { id, name: path[i - 1], parent, nodes: 0, ops: 0, params: 0, flops: 0, opCounts: {} });
      parent = id;
    }
    return parent ?? '';
  }

  private charge(module: string, f: (m: ModuleAcc) => void): void {
    let id: string | null = module;
    while (id) {
      const m: ModuleAcc = this.modules.get(id)!;
      f(m);
      id = m.parent;
    }
  }

  input(name: string, shape: Shape, dtype = 'float32'): string {
    this.values[name] = { shape, dtype, kind: 'input' };
    return name;
  }

  weight(name: string | null, shape: Shape, scope: string[]): string {
    const module = this.ensureModule(scope);
    const n = name ?? `onnx::W_${++this.anon}`;
    this.values[n] = { shape, dtype: 'float32', kind: 'initializer' };
    const count = shape.reduce((a, b) => a * b, 1);
    this.charge(module, (m) => (m.params += count));
    return n;
  }

  node(scope: string[], op: string, inputs: string[], outShapes: Shape[], flops = 0, attrs?: Record<string, unknown>, dtype = 'float32'): string[] {
    const module = this.ensureModule(scope);
    const base = `/${scope.join('/')}${scope.length ? '/' : ''}${op}`;
    const k = this.names.get(base) ?? 0;
    this.names.set(base, k + 1);
    const id = k ? `${base}_${k}` : base;
    const outputs = outShapes.map((s, i) => {
      const v = outShapes.length > 1 ? `${id}_output_${i}` : `${id}_output_0`;
      this.values[v] = { shape: s, dtype: this.noise || op === 'Shape' ? 'int64' : dtype, kind: 'activation' };
      return v;
    });
    const noise = op === 'Constant' ? 'constant' : op === 'Shape' ? 'shape' : this.noise;
    this.nodes.push({ id, op, module, inputs, outputs, ...(noise ? { noise } : { flops }), ...(attrs ? { attrs } : {}) });
    this.charge(module, (m) => {
      m.nodes++;
      if (!noise) {
        m.ops++;
        m.flops += flops;
        m.opCounts[op] = (m.opCounts[op] ?? 0) + 1;
      }
    });
    return outputs;
  }

  constant(scope: string[], shape: Shape): string {
    return this.node(scope, 'Constant', [], [shape], 0, undefined, 'int64')[0];
  }

  /** The builder's graph in the host's index format (src/core/graph/graph-index.ts). */
  toIndex(inputs: string[], outputs: string[]): GraphIndex {
    const root: ModuleAcc = { id: '', name: '', parent: null, nodes: 0, ops: 0, params: 0, flops: 0, opCounts: {} };
    const children = new Map<string, string[]>();
    for (const m of this.modules.values()) {
      const p = m.parent ?? '';
      if (!children.has(p)) children.set(p, []);
      children.get(p)!.push(m.id);
      if (m.parent === null) {
        root.params += m.params;
        root.flops += m.flops;
      }
    }
    for (const n of this.nodes) {
      if (n.module === '') {
        root.nodes++;
        if (!n.noise) root.ops++;
      }
    }
    for (const m of this.modules.values()) if (m.parent === null) {
      root.nodes += m.nodes;
      root.ops += m.ops;
      for (const [op, c] of Object.entries(m.opCounts)) root.opCounts[op] = (root.opCounts[op] ?? 0) + c;
    }
    const modules: IndexModule[] = [];
    const moduleIndex = new Map<string, number>();
    const walk = (m: ModuleAcc, parent: number, depth: number) => {
      moduleIndex.set(m.id, modules.length);
      modules.push({ id: m.id, name: m.name, parent, depth, nodes: m.nodes, ops: m.ops, params: m.params, paramBytes: m.params * 4, macs: m.flops / 2, flops: m.flops, uncounted: 0, opCounts: m.opCounts });
      const me = modules.length - 1;
      for (const c of children.get(m.id) ?? []) walk(this.modules.get(c)!, me, depth + 1);
    };
    walk(root, -1, 0);
    const values: GraphIndex['values'] = { name: [], shape: [], elemType: [] };
    const valueIndex = new Map<string, number>();
    const nodeOf = new Map<string, number>();
    this.nodes.forEach((n, i) => n.outputs.forEach((o) => nodeOf.set(o, i)));
    const initializers: number[] = [];
    const vi = (name: string): number => {
      if (!name) return -1;
      let i = valueIndex.get(name);
      if (i === undefined) {
        const v = this.values[name];
        i = values.name.length;
        values.name.push(name);
        values.shape.push(v ? `[${v.shape.join(',')}]` : '?');
        values.elemType.push(v?.dtype === 'int64' ? 7 : 1);
        valueIndex.set(name, i);
        if (v?.kind === 'initializer') initializers.push(i);
      }
      return i;
    };
    const inIdx = inputs.map(vi);
    const nodes: IndexNode[] = this.nodes.map((n) => ({
      id: n.id,
      op: n.op,
      module: moduleIndex.get(n.module)!,
      in: n.inputs.map(vi),
      out: n.outputs.map(vi),
      ...(n.noise ? { noise: n.noise } : { flops: n.flops ?? 0 }),
      // attributes as a future index version may carry them (the webview reads them when present)
      ...(n.attrs ? { attrs: indexAttrs(n.attrs) } : {}),
    }));
    const edges: [number, number, number][] = [];
    nodes.forEach((n, to) => {
      for (const x of new Set(n.in)) {
        if (x < 0) continue;
        const p = nodeOf.get(values.name[x]);
        if (p !== undefined) edges.push([p, to, x]);
      }
    });
    return { schema: 'ld-surgeon/graph-index@1', modules, nodes, values, edges, inputs: inIdx, outputs: outputs.map(vi), initializers };
  }
}

const numel = (s: Shape) => s.reduce((a, b) => a * b, 1);

export interface SyntheticOptions {
  /** latent side (64 for SD 512²) */
  latent?: number;
  batch?: number;
  /** channel multiplier: 1 = SD v1 (320/640/1280/1280) */
  width?: number;
  /** transformer blocks per attention (1 for SD v1; more gives a larger graph) */
  depth?: number;
}

export function syntheticUnet(o: SyntheticOptions = {}): GraphIndex {
  const B = o.batch ?? 2;
  const L = o.latent ?? 64;
  const W = o.width ?? 1;
  const depth = o.depth ?? 1;
  const ch = [320, 640, 1280, 1280].map((c) => c * W);
  const ctxDim = 768;
  const tokens = 77;
  const heads = 8;
  const b = new Builder();

  const shapeChain = (scope: string[], x: string, rank: number): string => {
    // what torch.onnx emits for x.view(b, -1, h, d): Shape → Gather(i) → Unsqueeze per dim → Concat
    b.noise = 'shape';
    const sh = b.node(scope, 'Shape', [x], [[rank]])[0];
    const dims: string[] = [];
    for (let i = 0; i < Math.min(rank, 2); i++) {
      const idx = b.constant(scope, []);
      const g = b.node(scope, 'Gather', [sh, idx], [[]], 0, { axis: 0 })[0];
      const axes = b.constant(scope, [1]);
      dims.push(b.node(scope, 'Unsqueeze', [g, axes], [[1]])[0]);
    }
    dims.push(b.constant(scope, [1]), b.constant(scope, [1]));
    const out = b.node(scope, 'Concat', dims, [[dims.length]], 0, { axis: 0 }, 'int64')[0];
    b.noise = undefined;
    return out;
  };

  const conv = (scope: string[], x: string, s: Shape, cout: number, k = 3, stride = 1): [string, Shape] => {
    const mod = scope.join('.');
    const cin = s[1];
    const w = b.weight(`${mod}.weight`, [cout, cin, k, k], scope);
    const bias = b.weight(`${mod}.bias`, [cout], scope);
    const out: Shape = [s[0], cout, Math.ceil(s[2] / stride), Math.ceil(s[3] / stride)];
    const f = 2 * cin * k * k * numel(out);
    return [b.node(scope, 'Conv', [x, w, bias], [out], f, { kernel_shape: [k, k], strides: [stride, stride], pads: [k >> 1, k >> 1, k >> 1, k >> 1], dilations: [1, 1], group: 1 })[0], out];
  };

  const groupNorm = (scope: string[], x: string, s: Shape, eps = 1e-5): string => {
    const shp = b.constant(scope, [3]);
    const r = b.node(scope, 'Reshape', [x, shp], [[s[0], 32, numel(s) / s[0] / 32]])[0];
    const ones = b.weight(null, [32], scope);
    const zeros = b.weight(null, [32], scope);
    const inorm = b.node(scope, 'InstanceNormalization', [r, ones, zeros], [[s[0], 32, numel(s) / s[0] / 32]], 5 * numel(s), { epsilon: eps })[0];
    const sh = b.node(scope, 'Shape', [x], [[s.length]])[0];
    const back = b.node(scope, 'Reshape', [inorm, sh], [s])[0];
    const gamma = b.weight(null, [s[1], 1, 1], scope);
    const beta = b.weight(null, [s[1], 1, 1], scope);
    const mul = b.node(scope, 'Mul', [back, gamma], [s], numel(s))[0];
    return b.node(scope, 'Add', [mul, beta], [s], numel(s))[0];
  };

  const silu = (scope: string[], x: string, s: Shape): string => {
    const sg = b.node(scope, 'Sigmoid', [x], [s], 4 * numel(s))[0];
    return b.node(scope, 'Mul', [x, sg], [s], numel(s))[0];
  };

  const linear = (scope: string[], x: string, s: Shape, out: number, bias = true): [string, Shape] => {
    const mod = scope.join('.');
    const inF = s[s.length - 1];
    const os: Shape = [...s.slice(0, -1), out];
    const f = 2 * inF * numel(os);
    if (s.length === 2) {
      const w = b.weight(`${mod}.weight`, [out, inF], scope);
      const bb = b.weight(`${mod}.bias`, [out], scope);
      return [b.node(scope, 'Gemm', [x, w, bb], [os], f, { transB: 1 })[0], os];
    }
    const w = b.weight(null, [inF, out], scope);
    let y = b.node(scope, 'MatMul', [x, w], [os], f)[0];
    if (bias) y = b.node(scope, 'Add', [b.weight(`${mod}.bias`, [out], scope), y], [os], numel(os))[0];
    return [y, os];
  };

  const layerNorm = (scope: string[], x: string, s: Shape): string => {
    const mod = scope.join('.');
    const g = b.weight(`${mod}.weight`, [s[s.length - 1]], scope);
    const bb = b.weight(`${mod}.bias`, [s[s.length - 1]], scope);
    return b.node(scope, 'LayerNormalization', [x, g, bb], [s], 8 * numel(s), { axis: -1, epsilon: 1e-5 })[0];
  };

  const resnet = (scope: string[], x: string, s: Shape, temb: string, cout: number): [string, Shape] => {
    let h = groupNorm([...scope, 'norm1'], x, s);
    h = silu([...scope, 'nonlinearity'], h, s);
    let hs: Shape;
    [h, hs] = conv([...scope, 'conv1'], h, s, cout);
    const t = silu([...scope, 'nonlinearity'], temb, [B, 1280 * W]);
    let [tp, tps] = linear([...scope, 'time_emb_proj'], t, [B, 1280 * W], cout);
    tp = b.node(scope, 'Unsqueeze', [tp, b.constant(scope, [1])], [[...tps, 1]])[0];
    tp = b.node(scope, 'Unsqueeze', [tp, b.constant(scope, [1])], [[...tps, 1, 1]])[0];
    h = b.node(scope, 'Add', [h, tp], [hs], numel(hs))[0];
    h = groupNorm([...scope, 'norm2'], h, hs);
    h = silu([...scope, 'nonlinearity'], h, hs);
    [h, hs] = conv([...scope, 'conv2'], h, hs, cout);
    let skip = x;
    if (s[1] !== cout) [skip] = conv([...scope, 'conv_shortcut'], x, s, cout, 1);
    const sum = b.node(scope, 'Add', [skip, h], [hs], numel(hs))[0];
    return [b.node(scope, 'Div', [sum, b.constant(scope, [])], [hs], numel(hs))[0], hs];
  };

  const attention = (scope: string[], x: string, s: Shape, ctx: string | null): string => {
    const dim = s[2];
    const d = dim / heads;
    const [q] = linear([...scope, 'to_q'], x, s, dim, false);
    const kvIn = ctx ?? x;
    const kvShape: Shape = ctx ? [B, tokens, ctxDim] : s;
    const [k] = linear([...scope, 'to_k'], kvIn, kvShape, dim, false);
    const [v] = linear([...scope, 'to_v'], kvIn, kvShape, dim, false);
    const split = (t: string, n: number): string => {
      const shp = shapeChain(scope, t, 3);
      const r = b.node(scope, 'Reshape', [t, shp], [[B, n, heads, d]])[0];
      const tr = b.node(scope, 'Transpose', [r], [[B, heads, n, d]], 0, { perm: [0, 2, 1, 3] })[0];
      return b.node(scope, 'Reshape', [tr, b.constant(scope, [3])], [[B * heads, n, d]])[0];
    };
    const n = s[1];
    const m = kvShape[1];
    const qh = split(q, n);
    const kh = split(k, m);
    const vh = split(v, m);
    const kt = b.node(scope, 'Transpose', [kh], [[B * heads, d, m]], 0, { perm: [0, 2, 1] })[0];
    let sc = b.node(scope, 'MatMul', [qh, kt], [[B * heads, n, m]], 2 * B * heads * n * m * d)[0];
    sc = b.node(scope, 'Mul', [sc, b.constant(scope, [])], [[B * heads, n, m]], B * heads * n * m)[0];
    const p = b.node(scope, 'Softmax', [sc], [[B * heads, n, m]], 5 * B * heads * n * m, { axis: -1 })[0];
    const o = b.node(scope, 'MatMul', [p, vh], [[B * heads, n, d]], 2 * B * heads * n * m * d)[0];
    const shp = shapeChain(scope, o, 3);
    const r = b.node(scope, 'Reshape', [o, shp], [[B, heads, n, d]])[0];
    const tr = b.node(scope, 'Transpose', [r], [[B, n, heads, d]], 0, { perm: [0, 2, 1, 3] })[0];
    const merged = b.node(scope, 'Reshape', [tr, b.constant(scope, [3])], [s])[0];
    return linear([...scope, 'to_out.0'], merged, s, dim)[0];
  };

  const feedForward = (scope: string[], x: string, s: Shape): string => {
    const dim = s[2];
    const [pr, ps] = linear([...scope, 'net.0', 'proj'], x, s, dim * 8);
    const half: Shape = [...ps.slice(0, -1), dim * 4];
    const gs = [...scope, 'net.0'];
    const a = b.node(gs, 'Slice', [pr, b.constant(gs, [1]), b.constant(gs, [1]), b.constant(gs, [1])], [half])[0];
    const gate = b.node(gs, 'Slice', [pr, b.constant(gs, [1]), b.constant(gs, [1]), b.constant(gs, [1])], [half])[0];
    // GELU as exported at opset 17: x * 0.5 * (1 + erf(x / sqrt 2))
    const dv = b.node(gs, 'Div', [gate, b.constant(gs, [])], [half], numel(half))[0];
    const erf = b.node(gs, 'Erf', [dv], [half], 8 * numel(half))[0];
    const ad = b.node(gs, 'Add', [erf, b.constant(gs, [])], [half], numel(half))[0];
    const mu = b.node(gs, 'Mul', [gate, ad], [half], numel(half))[0];
    const g = b.node(gs, 'Mul', [mu, b.constant(gs, [])], [half], numel(half))[0];
    const h = b.node(gs, 'Mul', [a, g], [half], numel(half))[0];
    return linear([...scope, 'net.2'], h, half, dim)[0];
  };

  const transformer = (scope: string[], x: string, s: Shape, ctx: string): string => {
    // every transformer block reads the text conditioning through attn2
    const [Bn, C, H, Wd] = s;
    let h = groupNorm([...scope, 'norm'], x, s, 1e-6);
    let hs: Shape;
    [h, hs] = conv([...scope, 'proj_in'], h, s, C, 1);
    h = b.node(scope, 'Transpose', [h], [[Bn, H, Wd, C]], 0, { perm: [0, 2, 3, 1] })[0];
    const seq: Shape = [Bn, H * Wd, C];
    h = b.node(scope, 'Reshape', [h, shapeChain(scope, h, 4)], [seq])[0];
    for (let t = 0; t < depth; t++) {
      const tb = [...scope, `transformer_blocks.${t}`];
      let y = attention([...tb, 'attn1'], layerNorm([...tb, 'norm1'], h, seq), seq, null);
      h = b.node(tb, 'Add', [y, h], [seq], numel(seq))[0];
      y = attention([...tb, 'attn2'], layerNorm([...tb, 'norm2'], h, seq), seq, ctx);
      h = b.node(tb, 'Add', [y, h], [seq], numel(seq))[0];
      y = feedForward([...tb, 'ff'], layerNorm([...tb, 'norm3'], h, seq), seq);
      h = b.node(tb, 'Add', [y, h], [seq], numel(seq))[0];
    }
    h = b.node(scope, 'Reshape', [h, shapeChain(scope, h, 3)], [[Bn, H, Wd, C]])[0];
    h = b.node(scope, 'Transpose', [h], [[Bn, C, H, Wd]], 0, { perm: [0, 3, 1, 2] })[0];
    [h] = conv([...scope, 'proj_out'], h, hs, C, 1);
    return b.node(scope, 'Add', [h, x], [s], numel(s))[0];
  };

  const sample = b.input('sample', [B, 4, L, L]);
  const timestep = b.input('timestep', [1]);
  b.input('encoder_hidden_states', [B, tokens, ctxDim]);

  // time embedding
  const tsExp = b.node(['time_proj'], 'Expand', [timestep, b.constant(['time_proj'], [1])], [[B]])[0];
  const tsUn = b.node(['time_proj'], 'Unsqueeze', [tsExp, b.constant(['time_proj'], [1])], [[B, 1]])[0];
  const tsCast = b.node(['time_proj'], 'Cast', [tsUn], [[B, 1]], 0, { to: 1 })[0];
  const freqs = b.node(['time_proj'], 'Mul', [tsCast, b.constant(['time_proj'], [1, 160])], [[B, 160]], B * 160)[0];
  const sin = b.node(['time_proj'], 'Sin', [freqs], [[B, 160]], B * 160)[0];
  const cos = b.node(['time_proj'], 'Cos', [freqs], [[B, 160]], B * 160)[0];
  const emb = b.node(['time_proj'], 'Concat', [cos, sin], [[B, 320]], 0, { axis: -1 })[0];
  let [temb] = linear(['time_embedding', 'linear_1'], emb, [B, 320], 1280 * W);
  temb = silu(['time_embedding', 'act'], temb, [B, 1280 * W]);
  [temb] = linear(['time_embedding', 'linear_2'], temb, [B, 1280 * W], 1280 * W);

  let [h, hs] = conv(['conv_in'], sample, [B, 4, L, L], ch[0]);
  const skips: [string, Shape][] = [[h, hs]];
  for (let i = 0; i < 4; i++) {
    const scope = [`down_blocks.${i}`];
    for (let j = 0; j < 2; j++) {
      [h, hs] = resnet([...scope, `resnets.${j}`], h, hs, temb, ch[i]);
      if (i < 3) h = transformer([...scope, `attentions.${j}`], h, hs, 'encoder_hidden_states');
      skips.push([h, hs]);
    }
    if (i < 3) {
      [h, hs] = conv([...scope, 'downsamplers.0', 'conv'], h, hs, ch[i], 3, 2);
      skips.push([h, hs]);
    }
  }
  [h, hs] = resnet(['mid_block', 'resnets.0'], h, hs, temb, ch[3]);
  h = transformer(['mid_block', 'attentions.0'], h, hs, 'encoder_hidden_states');
  [h, hs] = resnet(['mid_block', 'resnets.1'], h, hs, temb, ch[3]);

  for (let i = 0; i < 4; i++) {
    const scope = [`up_blocks.${i}`];
    const c = ch[3 - i];
    for (let j = 0; j < 3; j++) {
      const [sk, ss] = skips.pop()!;
      const cat: Shape = [hs[0], hs[1] + ss[1], hs[2], hs[3]];
      h = b.node(scope, 'Concat', [h, sk], [cat], 0, { axis: 1 })[0];
      [h, hs] = resnet([...scope, `resnets.${j}`], h, cat, temb, c);
      if (i > 0) h = transformer([...scope, `attentions.${j}`], h, hs, 'encoder_hidden_states');
    }
    if (i < 3) {
      const up: Shape = [hs[0], hs[1], hs[2] * 2, hs[3] * 2];
      h = b.node([...scope, 'upsamplers.0'], 'Resize', [h, '', b.constant([...scope, 'upsamplers.0'], [4])], [up], numel(up), { mode: 'nearest' })[0];
      [h, hs] = conv([...scope, 'upsamplers.0', 'conv'], h, up, c);
    }
  }
  h = groupNorm(['conv_norm_out'], h, hs);
  h = silu(['conv_act'], h, hs);
  [h] = conv(['conv_out'], h, hs, 4);
  const last = b.node([], 'Identity', [h], [[B, 4, L, L]])[0];
  // name the model output like the exporter does
  b.values['out_sample'] = { shape: [B, 4, L, L], dtype: 'float32', kind: 'activation' };
  b.nodes[b.nodes.length - 1].outputs = ['out_sample'];
  delete b.values[last];
  return b.toIndex(['sample', 'timestep', 'encoder_hidden_states'], ['out_sample']);
}

/**
 * Plausible LD-Pruner results for the synthetic U-Net's blocks and layers: scores grow with depth
 * from the outer stages and are log-spread; convolutions inside up-block ResNets need a
 * replacement; the shared nonlinearity and the time embedding cannot be modified.
 */
export function syntheticScores(index: GraphIndex, seed = 7): CandidateResult[] {
  let state = seed;
  const rand = () => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const root = index.modules.find((m) => m.id === '')!;
  const out: CandidateResult[] = [];
  const candidate = /(^|\.)(resnets|attentions)\.\d+$|\.(conv1|conv2|proj_in|proj_out|attn1|attn2|ff|conv_shortcut|time_emb_proj)$|^mid_block$|^(conv_act|time_embedding)$/;
  for (const m of index.modules) {
    if (!m.id || !candidate.test(m.id)) continue;
    const stage = /(down|up)_blocks\.(\d)/.exec(m.id);
    const inner = stage ? (stage[1] === 'down' ? +stage[2] : 3 - +stage[2]) : 4;
    const base = /attentions\.\d+$|attn1$/.test(m.id) ? 0.004 : /resnets\.\d+$/.test(m.id) ? 0.06 : 0.02;
    const score = base * Math.exp(inner * 0.55 + (rand() - 0.5) * 2.2);
    const unmodifiable = /time_embedding|nonlinearity|conv_act/.test(m.id);
    const replace = /up_blocks\.\d\.resnets\.\d+$/.test(m.id);
    const avg = score * (0.55 + 0.2 * rand());
    out.push({
      id: m.id,
      score: unmodifiable ? null : score,
      variants: unmodifiable ? undefined : { avg, std: score - avg, 'avg*std': avg * (score - avg) },
      params: m.params,
      flops: m.flops,
      latencyShare: root.flops ? (m.flops / root.flops) * (0.85 + 0.3 * rand()) : undefined,
      modification: unmodifiable ? 'none' : replace ? 'replace' : 'remove',
      reason: unmodifiable
        ? 'shared by every ResNet: removing it changes all blocks at once'
        : replace
          ? 'input has the skip channels: replaced by a 1×1 projection of the non-skip channels'
          : undefined,
    });
  }
  return out;
}

/** The synthetic nodes' attribute records as the index carries them (typed entries). */
function indexAttrs(attrs: Record<string, unknown>): IndexAttribute[] {
  return Object.entries(attrs).map(([name, v]): IndexAttribute => {
    if (typeof v === 'string') return { name, type: 'string', value: v };
    if (typeof v === 'number') return Number.isInteger(v) ? { name, type: 'int', value: v } : { name, type: 'float', value: v };
    if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return (v as number[]).every(Number.isInteger) ? { name, type: 'ints', value: v as number[] } : { name, type: 'floats', value: v as number[] };
    return { name, type: 'other' };
  });
}
