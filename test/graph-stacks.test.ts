// Depth stacks (src/core/graph/stacks.ts): the runs of identical blocks the graph view draws compactly
// and `prune --stack` picks from. Found in the shipped DiT and the full-depth SDXL/FLUX structures;
// never in lists that are not depth (a U-Net's resnets interleaved with attentions, parallel heads),
// lists of two, or the positional modules of an unscoped model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { analyzeModel, buildGraphIndex, findStacks, resolveStack, type DepthStack } from '../src/core/graph';
import { stackKProblem } from '../src/protocol/webview';
import { readModel } from '../src/core/onnx/reader';
import { GraphBuilder } from './helpers/graph-builder';
import { EXAMPLES } from './pipeline-fixtures';

const PYTHON = process.env.LD_SURGEON_PYTHON ?? '/usr/bin/python3';
const BENCH = resolve(__dirname, '..', 'bench');
const probe = spawnSync(PYTHON, ['-c', 'import onnx, numpy'], { encoding: 'utf8' });
const skipGen = probe.status === 0 ? false : `${PYTHON} cannot import onnx and numpy (scripts/setup.sh installs them)`;
const tmp = mkdtempSync(join(tmpdir(), 'ld-surgeon-stacks-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

async function stacksOf(path: string): Promise<DepthStack[]> {
  const a = await analyzeModel(await readModel(path));
  return findStacks(a.view, a.tree, a.noise);
}

const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}.${i}`);

test('digits-dit: its six transformer blocks are one stack, in the graph index too', async () => {
  const a = await analyzeModel(await readModel(join(EXAMPLES, 'digits-dit', 'transformer', 'model.onnx')));
  // block 0 carries the conditioning SiLU the exporter shares with the others: still the same block
  assert.deepEqual(findStacks(a.view, a.tree, a.noise), [{ id: 'transformer_blocks', parent: '', members: range('transformer_blocks', 6) }]);
  assert.deepEqual(buildGraphIndex(a).stacks, [{ id: 'transformer_blocks', parent: '', members: range('transformer_blocks', 6) }]);
});

test('SDXL-shaped fixture and the digits U-Net: lists of two blocks and interleaved resnets are no stacks', async () => {
  // test/fixtures/sdxl-unet has transformer_blocks.0..1 per attention; up blocks have resnets.0..2 and
  // attentions.0..2, each reading the other list, not its own predecessor
  assert.deepEqual(await stacksOf('test/fixtures/sdxl-unet/model.onnx'), []);
  assert.deepEqual(await stacksOf(join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx')), []);
  const a = await analyzeModel(await readModel('test/fixtures/sdxl-unet/model.onnx'));
  assert.equal(buildGraphIndex(a).stacks, undefined, 'no stacks: no field');
});

test('an unscoped model (ResNet-18 without names): positional blocks are never stacks', async () => {
  const a = await analyzeModel(await readModel('test/fixtures/structural/resnet18_noname.onnx'));
  assert.equal(a.tree.source, 'structure');
  assert.ok([...a.tree.byId.keys()].some((id) => /block\.2$/.test(id)), 'the structural tree has block lists');
  assert.deepEqual(findStacks(a.view, a.tree, a.noise), []);
});

const CORPUS = '../shared/corpus/onnx-backend';

test('the ONNX backend corpus (scoped and unscoped, ~1,900 models): no stacks anywhere', { skip: existsSync(CORPUS) ? false : `no ${CORPUS}`, timeout: 120_000 }, async () => {
  let n = 0;
  const found: string[] = [];
  for (const sub of ['pytorch-converted', 'node']) {
    for (const d of readdirSync(join(CORPUS, sub))) {
      const p = join(CORPUS, sub, d, 'model.onnx');
      if (!existsSync(p)) continue;
      let a;
      try {
        a = await analyzeModel(await readModel(p));
      } catch {
        continue; // models the reader or analysis refuses are other tests' business
      }
      n++;
      for (const st of findStacks(a.view, a.tree, a.noise)) found.push(`${sub}/${d}: ${st.id}`);
    }
  }
  assert.ok(n > 1000, `${n} models analysed`);
  assert.deepEqual(found, []);
});

/** `blocks.i` (i in `indices`): x → MatMul(w_i) → Add(x); `heads.j` read the same input side by side. */
function listModel(indices: number[], heads = 0) {
  const b = new GraphBuilder();
  let x = b.input('x', [2, 8]);
  for (const i of indices) {
    const w = b.weight(`blocks.${i}.w`, [8, 8]);
    const h = b.node('MatMul', [x, w], { name: `/blocks.${i}/lin/MatMul` });
    x = b.node('Add', [x, h], { name: `/blocks.${i}/Add` });
  }
  const outs: string[] = [];
  for (let j = 0; j < heads; j++) outs.push(b.node('MatMul', [x, b.weight(`heads.${j}.w`, [8, 8])], { name: `/heads.${j}/MatMul` }));
  b.output(outs.length ? b.node('Concat', outs, { name: '/Concat', attrs: { axis: 1 } }) : x);
  return b.model();
}

test('a pruned stack (gaps in the indices) is still a stack; parallel heads of one shape are not', async () => {
  const a = await analyzeModel(listModel([0, 2, 3, 5], 3));
  assert.deepEqual(findStacks(a.view, a.tree, a.noise), [{ id: 'blocks', parent: '', members: ['blocks.0', 'blocks.2', 'blocks.3', 'blocks.5'] }]);
  const two = await analyzeModel(listModel([0, 1]));
  assert.deepEqual(findStacks(two.view, two.tree, two.noise), [], 'two members are too few');
});

test('a member built differently (other weight dims) breaks the stack', async () => {
  const b = new GraphBuilder();
  let x = b.input('x', [2, 8]);
  for (let i = 0; i < 3; i++) {
    const w = b.weight(`blocks.${i}.w`, i === 2 ? [8, 8, 1] : [8, 8]);
    const wr = i === 2 ? b.node('Squeeze', [w, b.ints(`ax${i}`, [2])], { name: `/blocks.${i}/Squeeze` }) : w;
    x = b.node('Add', [x, b.node('MatMul', [x, wr], { name: `/blocks.${i}/lin/MatMul` })], { name: `/blocks.${i}/Add` });
  }
  b.output(x);
  const a = await analyzeModel(b.model());
  assert.deepEqual(findStacks(a.view, a.tree, a.noise), []);
});

test('resolveStack: by its own id, or by the one module holding it; several in one module is ambiguous', () => {
  const s = (id: string, parent: string): DepthStack => ({ id, parent, members: [] });
  const list = [s('down_blocks.2.attentions.0.transformer_blocks', 'down_blocks.2.attentions.0'), s('transformer_blocks', ''), s('single_transformer_blocks', '')];
  assert.equal(resolveStack(list, 'down_blocks.2.attentions.0').stack, list[0]);
  assert.equal(resolveStack(list, 'down_blocks.2.attentions.0.transformer_blocks').stack, list[0]);
  assert.equal(resolveStack(list, 'single_transformer_blocks').stack, list[2]);
  assert.deepEqual(resolveStack(list, '').ambiguous, [list[1], list[2]]);
  assert.deepEqual(resolveStack(list, 'mid_block'), {});
});

test('stackKProblem: k for a stack of N is a whole number 1..N-1, typed (the context menu\'s input box) or sent (the view)', () => {
  for (const ok of ['1', '5', ' 3 ', 1, 5]) assert.equal(stackKProblem(ok, 6), undefined, String(ok));
  for (const bad of ['0', '6', '-1', '2.5', '', 'two', '1e1', 0, 6, 2.5, NaN]) {
    assert.match(stackKProblem(bad, 6) ?? '', /^k must be a whole number from 1 to 5 \(the stack has 6 blocks; at least one stays\)$/, String(bad));
  }
});

test('full-depth SDXL U-Net (width ×0.1) and FLUX structure: the depth-10 stacks, 3 double and 4 single blocks', { skip: skipGen, timeout: 180_000 }, async () => {
  const gen = (script: string, dir: string, args: string[]) => {
    const r = spawnSync(PYTHON, [join(BENCH, script), dir, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${script} failed: ${r.stderr}`);
    return join(dir, 'model.onnx');
  };
  const sdxl = await stacksOf(gen('gen_sdxl_unet.py', join(tmp, 'sdxl'), ['--width-mult', '0.1']));
  const attn = ['down_blocks.2.attentions.0', 'down_blocks.2.attentions.1', 'mid_block.attentions.0', 'up_blocks.0.attentions.0', 'up_blocks.0.attentions.1', 'up_blocks.0.attentions.2'];
  assert.deepEqual(sdxl, attn.map((p) => ({ id: `${p}.transformer_blocks`, parent: p, members: range(`${p}.transformer_blocks`, 10) })));
  const flux = await stacksOf(gen('gen_flux.py', join(tmp, 'flux'), ['--dim', '128', '--double', '3', '--single', '4']));
  assert.deepEqual(flux, [
    { id: 'transformer_blocks', parent: '', members: range('transformer_blocks', 3) },
    { id: 'single_transformer_blocks', parent: '', members: range('single_transformer_blocks', 4) },
  ]);
});
