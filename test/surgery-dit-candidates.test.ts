// Candidates on a diffusion transformer named as diffusers' DiT/PixArt exports name it (transformer_blocks.N
// with norm1 (adaLN, its condition projection norm1.emb), attn1, norm2, ff.net.0/ff.net.2, proj_out): whole blocks,
// attention-only and feed-forward-only, each keeping the token residual stream; never a channel slice or zero-pad
// of token features or vectors (ff.net.0 "zero-padded from 32 to 128", norm1.emb), which stay available on request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeModel, type ModelAnalysis } from '../src/core/graph';
import { findCandidates, type Candidate } from '../src/core/surgery';
import { GraphBuilder } from './helpers/graph-builder';

const T = 16;
const D = 32;

/** Two pre-norm transformer blocks with adaLN-style conditioning, node scopes under `/${stack}.N/`. */
async function dit(stack: string): Promise<ModelAnalysis> {
  const g = new GraphBuilder('dit');
  g.input('tokens', [1, T, D]);
  g.input('cond', [1, D]);
  let x = g.node('MatMul', ['tokens', g.weight('pe', [D, D])], { name: '/pos_embed/proj/MatMul' });
  for (let b = 0; b < 2; b++) {
    const s = `/${stack}.${b}`;
    const w = (n: string, dims: number[]) => g.weight(`${stack}.${b}.${n}`, dims);
    // adaLN: the condition vector is projected (norm1.emb, D -> 2D) and scales the normalised tokens
    const emb = g.node('MatMul', ['cond', w('norm1.emb', [D, 2 * D])], { name: `${s}/norm1/emb/MatMul` });
    const mod = g.node('Unsqueeze', [g.node('MatMul', [emb, w('norm1.mod', [2 * D, D])], { name: `${s}/norm1/MatMul` }), g.ints(`${stack}.${b}.ax`, [1])], { name: `${s}/norm1/Unsqueeze` });
    const ln1 = g.node('LayerNormalization', [x, w('norm1.g', [D])], { name: `${s}/norm1/LayerNormalization`, attrs: { axis: -1 } });
    const h = g.node('Mul', [ln1, mod], { name: `${s}/norm1/Mul` });
    const q = g.node('MatMul', [h, w('q', [D, D])], { name: `${s}/attn1/to_q/MatMul` });
    const k = g.node('MatMul', [h, w('k', [D, D])], { name: `${s}/attn1/to_k/MatMul` });
    const v = g.node('MatMul', [h, w('v', [D, D])], { name: `${s}/attn1/to_v/MatMul` });
    const kt = g.node('Transpose', [k], { name: `${s}/attn1/Transpose`, attrs: { perm: [0, 2, 1] } });
    const p = g.node('Softmax', [g.node('MatMul', [q, kt], { name: `${s}/attn1/MatMul` })], { name: `${s}/attn1/Softmax`, attrs: { axis: -1 } });
    const o = g.node('MatMul', [g.node('MatMul', [p, v], { name: `${s}/attn1/MatMul_1` }), w('o', [D, D])], { name: `${s}/attn1/to_out.0/MatMul` });
    // adaLN-Zero's gate on the attention branch (computed from the condition, outside attn1)
    const x1 = g.node('Add', [x, g.node('Mul', [mod, o], { name: `${s}/Mul` })], { name: `${s}/Add` });
    const ln2 = g.node('LayerNormalization', [x1, w('norm2.g', [D])], { name: `${s}/norm2/LayerNormalization`, attrs: { axis: -1 } });
    const f0 = g.node('Relu', [g.node('MatMul', [ln2, w('ff0', [D, 4 * D])], { name: `${s}/ff/net.0/proj/MatMul` })], { name: `${s}/ff/net.0/Relu` });
    const f2 = g.node('MatMul', [f0, w('ff2', [4 * D, D])], { name: `${s}/ff/net.2/MatMul` });
    x = g.node('Add', [x1, f2], { name: `${s}/Add_1` });
  }
  g.node('MatMul', [x, g.weight('po', [D, 8])], { name: '/proj_out/MatMul', outputs: ['out'] });
  g.output('out', [1, T, 8]);
  return analyzeModel(g.model());
}

const byId = (list: Candidate[]) => new Map(list.map((c) => [c.id, c]));

test('a DiT offers whole blocks, attention-only and feed-forward-only, all keeping the token residual stream', async () => {
  const list = findCandidates(await dit('transformer_blocks'));
  const c = byId(list);
  for (const b of [0, 1]) {
    const block = c.get(`transformer_blocks.${b}`)!;
    assert.equal(block.kind, 'transformer-block');
    assert.equal(block.modification?.method, 'identity', block.reason);
    assert.equal(c.get(`transformer_blocks.${b}.attn1`)!.kind, 'attention');
    assert.equal(c.get(`transformer_blocks.${b}.attn1`)!.modification?.method, 'skip-residual');
    assert.equal(c.get(`transformer_blocks.${b}.attn1`)!.modification?.bypassedNode, `/transformer_blocks.${b}/Add`);
    assert.match(c.get(`transformer_blocks.${b}.attn1`)!.modification!.description, /through a gating Mul/);
    assert.equal(c.get(`transformer_blocks.${b}.ff`)!.kind, 'feed-forward');
    assert.equal(c.get(`transformer_blocks.${b}.ff`)!.modification?.bypassedNode, `/transformer_blocks.${b}/Add_1`);
  }
  assert.deepEqual(list.filter((x) => /norm1\.emb|ff\.net\./.test(x.id)).map((x) => x.id), [], 'pieces inside a block are not candidates');
  for (const x of list) assert.doesNotMatch(x.modification?.description ?? '', /sliced|zero-padded/, x.id);
});

test('channel slicing/padding of token features and vectors is refused by default and offered on request', async () => {
  const a = await dit('blocks'); // no diffusers naming: every scope is a generic module candidate
  const plain = byId(findCandidates(a));
  assert.equal(plain.get('blocks.0.ff.net.0')!.modification, null);
  assert.match(plain.get('blocks.0.ff.net.0')!.reason ?? '', /channels change .* on token features/);
  assert.equal(plain.get('blocks.0.norm1.emb')!.modification, null);
  assert.match(plain.get('blocks.0.norm1.emb')!.reason ?? '', /on a vector/);
  assert.equal(plain.get('blocks.0')!.modification?.method, 'identity', 'the whole block still is identity on the tokens');
  const asked = byId(findCandidates(a, { tokenChannelEdits: true }));
  assert.equal(asked.get('blocks.0.ff.net.0')!.modification?.method, 'resample');
  assert.match(asked.get('blocks.0.ff.net.0')!.modification!.description, /zero-padded from 32 to 128 channels/);
  assert.match(asked.get('blocks.0.norm1.emb')!.modification!.description, /zero-padded from 32 to 64 channels/);
});
