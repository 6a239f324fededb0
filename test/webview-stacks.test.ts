// Depth stacks in the built webview (headless Chromium, the dev harness as host): the shipped DiT's six
// transformer blocks draw as one item with a strip coloured by each block's score; hovering a cell shows
// that block's score and params, clicking it selects the block, double-click opens the stack block by
// block; the inspector's "prune the k lowest" (k checked 1..N-1) and the context menu's host message put
// the stack's k lowest-scored blocks into the prune selection. A FLUX-structured model's 38 single-stream
// blocks read as one item at module level.
// Needs `npm run build` and Chromium + playwright-core, like webview-browser.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { analyzeModel, buildGraphIndex, type GraphIndex } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import type { CandidateResult } from '../src/protocol/webview';
import { formatCount } from '../webview-ui/src/model/format';
import { harnessMissing, launchHarnessBrowser } from './helpers/harness-browser';
import { EXAMPLES } from './pipeline-fixtures';

const ROOT = resolve(__dirname, '..');
const missing = harnessMissing;
const PYTHON = process.env.LD_SURGEON_PYTHON ?? '/usr/bin/python3';
const noPython = spawnSync(PYTHON, ['-c', 'import onnx, numpy']).status !== 0;

/* eslint-disable @typescript-eslint/no-explicit-any */
let browser: any;
const tmp = mkdtempSync(join(tmpdir(), 'ld-surgeon-wv-stacks-'));

before(async () => {
  if (missing) return;
  browser = await launchHarnessBrowser();
});

after(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const BLOCK_SCORES = [0.5, 0.1, 0.9, 0.05, 0.7, 0.3];
const MEMBERS = BLOCK_SCORES.map((_, i) => `transformer_blocks.${i}`);

/** The blocks scored as above; pos_embed and an attention inside block 2 score lower than any block. */
function scoresFor(index: GraphIndex): CandidateResult[] {
  const mod = (id: string) => index.modules.find((m) => m.id === id)!;
  const r = (id: string, score: number): CandidateResult => ({ id, score, params: mod(id).params, flops: mod(id).flops, modification: 'remove' });
  return [...MEMBERS.map((id, i) => r(id, BLOCK_SCORES[i])), r('pos_embed', 0.01), r('transformer_blocks.2.attn1', 0.02)];
}

async function open(index: GraphIndex, scores: CandidateResult[] | null, query = '') {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e: Error) => problems.push(e.message));
  page.on('console', (m: any) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.addInitScript({ content: `window.__ldIndex = ${JSON.stringify(index)}; window.__ldScores = ${JSON.stringify(scores ?? [])};` });
  await page.goto(`${pathToFileURL(join(ROOT, 'webview-ui/dev/harness.html')).href}?scores=${scores ? 'all' : 'none'}${query}`);
  await page.waitForSelector('#app[data-ready="true"]', { timeout: 30_000 });
  const read = <T>(expr: string): Promise<T> => page.evaluate(expr);
  const until = async <T>(expr: string, ok: (v: T) => boolean, what: string, ms = 15_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await read<T>(expr);
      if (ok(v)) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
      await new Promise((res) => setTimeout(res, 25));
    }
  };
  // the first paint may be provisional: wait for the settled layout before pointing at things
  await until<string>(`document.querySelector('#app').dataset.layout ?? 'settled'`, (v) => v === 'settled', 'the settled layout');
  const keys = () => read<string[]>(`[...document.querySelectorAll('g.item')].map((e) => e.getAttribute('data-key'))`);
  /** the stack's members in the prune selection the host was last told of */
  const selectedMembers = async () => {
    const log = await read<{ type: string; ids?: string[] }[]>('window.__harness.log');
    const last = log.filter((m) => m.type === 'selectionChanged').at(-1);
    return (last?.ids ?? []).filter((id) => MEMBERS.includes(id)).sort();
  };
  return { page, problems, read, until, keys, selectedMembers };
}

const cell = (m: string) => `document.querySelector('[data-key="s:transformer_blocks"] .cell[data-member="${m}"]')`;

test('digits-dit: one stack item at module level, its strip coloured by score; hover and click a block; open and close the stack', { skip: missing ? `needs ${missing}` : false, timeout: 90_000 }, async () => {
  const index = buildGraphIndex(await analyzeModel(await readModel(join(EXAMPLES, 'digits-dit', 'transformer', 'model.onnx'))));
  const { page, problems, read, until, keys } = await open(index, scoresFor(index));
  try {
    const items = await keys();
    assert.ok(items.includes('s:transformer_blocks'), `the stack is drawn: ${items.join(', ')}`);
    assert.deepEqual(items.filter((k) => k.startsWith('m:transformer_blocks')), [], 'no block of it is drawn on its own');
    assert.deepEqual(await read<string[]>(`[...document.querySelectorAll('[data-key="s:transformer_blocks"] .cell')].map((c) => c.getAttribute('data-member'))`), MEMBERS);
    // colours follow the scores: the 0.9 block is darker (redder) than the 0.05 block, every cell is scored
    const fills = await until<string[]>(`[...document.querySelectorAll('[data-key="s:transformer_blocks"] .cell')].map((c) => c.style.fill)`, (f) => f.every((x) => /^rgb/.test(x)), 'score colours');
    const lum = (rgb: string) => { const [r, g, b] = rgb.match(/\d+/g)!.map(Number); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    assert.ok(lum(fills[2]) < lum(fills[3]), `block 2 (0.9) ${fills[2]} is darker than block 3 (0.05) ${fills[3]}`);
    assert.match(await read<string>(`document.querySelector('[data-key="s:transformer_blocks"] .sub').textContent`), /^6 blocks · .+ params$/);

    // hover a cell: that block's score and params
    const cellSel = '[data-key="s:transformer_blocks"] .cell[data-member="transformer_blocks.3"]';
    // the canvas may still settle (sidebar width, fit) under a resting pointer: point again until it is there
    const settle = async (act: () => Promise<void>, expr: string, ok: (v: string) => boolean, what: string) => {
      for (let i = 0; ; i++) {
        await act();
        try {
          return await until<string>(expr, ok, what, 1500);
        } catch (e) {
          if (i >= 8) throw e;
        }
      }
    };
    const tip = await settle(() => page.hover(cellSel), `document.querySelector('.tooltip.visible')?.textContent ?? ''`, (t) => t.startsWith('transformer_blocks.3'), 'the tooltip of block 3');
    assert.match(tip, /block 4 of 6 in transformer_blocks/);
    assert.match(tip, /LD-Pruner score0\.05/);
    assert.ok(tip.includes(`params${formatCount(index.modules.find((m) => m.id === 'transformer_blocks.3')!.params)}`), tip);

    // click it: the inspector shows the block, its cell and the stack show as selected
    await settle(() => page.click(cellSel), `document.querySelector('.insp-title')?.textContent ?? ''`, (t) => t === 'transformer_blocks.3', 'the inspector on block 3');
    assert.ok(await read<boolean>(`${cell('transformer_blocks.3')}.classList.contains('selected')`));
    assert.ok(await read<boolean>(`document.querySelector('[data-key="s:transformer_blocks"]').classList.contains('selected')`));
    assert.match(await read<string>(`document.querySelector('.stack-member').textContent`), /Block 4 of 6 in the depth stack transformer_blocks/);

    // double-click: the stack opens block by block
    await page.dblclick('[data-key="s:transformer_blocks"] .body', { position: { x: 30, y: 10 } });
    const opened = await until<string[]>(`[...document.querySelectorAll('g.item')].map((e) => e.getAttribute('data-key'))`, (k) => !k.includes('s:transformer_blocks'), 'the stack to open');
    for (const m of MEMBERS) assert.ok(opened.includes(`m:${m}`), `${m} drawn on its own`);
    // and the inspector's stack panel draws it compactly again
    await page.click('.stack-member .link');
    await until<string>(`document.querySelector('.insp-title')?.textContent ?? ''`, (t) => t === 'transformer_blocks', 'the stack in the inspector');
    await page.click('.inspector .actions .btn >> text=Show compactly');
    await until<string[]>(`[...document.querySelectorAll('g.item')].map((e) => e.getAttribute('data-key'))`, (k) => k.includes('s:transformer_blocks') && !k.includes('m:transformer_blocks.0'), 'the stack to close');
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

test('prune the k lowest of the stack: k checked 1..5, the 2 lowest-scored blocks join the selection (not lower-scored candidates outside it); the context menu\'s message does the same', { skip: missing ? `needs ${missing}` : false, timeout: 90_000 }, async () => {
  const index = buildGraphIndex(await analyzeModel(await readModel(join(EXAMPLES, 'digits-dit', 'transformer', 'model.onnx'))));
  // a budget of 0%: nothing selected until the stack action selects
  const { page, problems, read, until, selectedMembers } = await open(index, scoresFor(index), '&budget=params:0');
  try {
    await until<number>(`window.__harness.log.filter((m) => m.type === 'selectionChanged').at(-1)?.ids.length ?? -1`, (n) => n === 0, 'the 0% budget selection');
    // a click on the stack (not on a cell) selects it: the inspector's stack panel, blocks lowest score first
    await page.click('[data-key="s:transformer_blocks"] .body', { position: { x: 30, y: 10 } });
    await until<string>(`document.querySelector('.insp-title')?.textContent ?? ''`, (t) => t === 'transformer_blocks', 'the stack panel');
    assert.deepEqual(await read<string[]>(`[...document.querySelectorAll('.stack-members li')].map((li) => li.dataset.member)`), ['transformer_blocks.3', 'transformer_blocks.1', 'transformer_blocks.5', 'transformer_blocks.0', 'transformer_blocks.4', 'transformer_blocks.2']);
    const before = await selectedMembers();

    await page.fill('#stack-k', '6');
    assert.match(await read<string>(`document.querySelector('.stack-k-msg').textContent`), /k must be a whole number from 1 to 5/);
    await page.click('.stack-lowest .btn');
    assert.deepEqual(await selectedMembers(), before, 'k = 6 selects nothing');
    await page.fill('#stack-k', '0');
    assert.match(await read<string>(`document.querySelector('.stack-k-msg').textContent`), /from 1 to 5/);

    await page.fill('#stack-k', '2');
    assert.equal(await read<string>(`document.querySelector('.stack-k-msg').textContent`), '');
    await page.click('.stack-lowest .btn');
    await until<string>(`document.querySelector('.stack-k-msg').textContent`, (t) => t === 'the 2 lowest-scored blocks are selected for pruning', 'the confirmation');
    await until<string[]>(`(() => { const l = window.__harness.log.filter((m) => m.type === 'selectionChanged').at(-1); return (l?.ids ?? []).filter((id) => id.startsWith('transformer_blocks.')).sort(); })()`, (v) => JSON.stringify(v) === JSON.stringify(['transformer_blocks.1', 'transformer_blocks.3']), 'blocks 1 and 3 selected');
    // the strip marks them and says so; the prunes panel lists them checked
    await until<string[]>(`[...document.querySelectorAll('[data-key="s:transformer_blocks"] .cell.marked')].map((c) => c.dataset.member)`, (v) => v.join() === 'transformer_blocks.1,transformer_blocks.3', 'the marked cells');
    assert.equal(await read<string>(`document.querySelector('[data-key="s:transformer_blocks"] .stack-note').textContent`), '2 of 6 selected');
    await until<number>(`document.querySelectorAll('.cand-row.checked .cand-name[title="transformer_blocks.1"], .cand-row.checked .cand-name[title="transformer_blocks.3"]').length`, (n) => n === 2, 'the prunes panel rows');
    const all = await read<{ ids: string[] }[]>(`window.__harness.log.filter((m) => m.type === 'selectionChanged')`);
    assert.deepEqual(all.at(-1)!.ids.sort(), ['transformer_blocks.1', 'transformer_blocks.3'], 'pos_embed and block 2\'s attention score lower but are outside the stack');

    // Apply sends exactly what is selected: both blocks among the ids
    await page.click('.sticky-actions .btn-primary');
    const apply = await until<{ ids: string[] }[]>(`window.__harness.log.filter((m) => m.type === 'applyPrune')`, (v) => v.length === 1, 'applyPrune');
    assert.deepEqual(apply[0].ids.filter((id) => id.startsWith('transformer_blocks.')).sort(), ['transformer_blocks.1', 'transformer_blocks.3']);

    // the context menu's host message: k = 1 replaces the stack's part of the selection
    await page.evaluate(`window.__harness.send({ type: 'selectStackLowest', stackId: 'transformer_blocks', k: 1 })`);
    await until<string[]>(`(() => { const l = window.__harness.log.filter((m) => m.type === 'selectionChanged').at(-1); return (l?.ids ?? []).filter((id) => id.startsWith('transformer_blocks.')); })()`, (v) => v.join() === 'transformer_blocks.3', 'only block 3');
    // a k the stack cannot take is refused and reported, the selection stays
    await page.evaluate(`window.__harness.send({ type: 'selectStackLowest', stackId: 'transformer_blocks', k: 6 })`);
    const err = await until<{ message: string }[]>(`window.__harness.log.filter((m) => m.type === 'reportError')`, (v) => v.length === 1, 'the refusal');
    assert.match(err[0].message, /Prune the k lowest of transformer_blocks: k must be a whole number from 1 to 5/);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

test('a stack not fully scored: the k lowest are refused with the blocks that lack a score', { skip: missing ? `needs ${missing}` : false, timeout: 60_000 }, async () => {
  const index = buildGraphIndex(await analyzeModel(await readModel(join(EXAMPLES, 'digits-dit', 'transformer', 'model.onnx'))));
  const { page, problems, read, until, selectedMembers } = await open(index, scoresFor(index).filter((r) => r.id !== 'transformer_blocks.4'), '&budget=params:0');
  try {
    await until<number>(`window.__harness.log.filter((m) => m.type === 'selectionChanged').at(-1)?.ids.length ?? -1`, (n) => n === 0, 'the 0% budget selection');
    await page.click('[data-key="s:transformer_blocks"] .body', { position: { x: 30, y: 10 } });
    await until<string>(`document.querySelector('.insp-title')?.textContent ?? ''`, (t) => t === 'transformer_blocks', 'the stack panel');
    assert.ok(await read<boolean>(`${cell('transformer_blocks.4')}.classList.contains('unscored')`));
    await page.fill('#stack-k', '2');
    await page.click('.stack-lowest .btn');
    assert.match(await read<string>(`document.querySelector('.stack-k-msg').textContent`), /1 of the 6 blocks of transformer_blocks have no score yet \(transformer_blocks\.4\)/);
    assert.deepEqual(await selectedMembers(), [], 'nothing of the stack selected');
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

test('FLUX structure (19 double + 38 single blocks): two stack items at module level, 38 cells in one', { skip: missing ? `needs ${missing}` : noPython ? `${PYTHON} cannot import onnx` : false, timeout: 120_000 }, async () => {
  const dir = join(tmp, 'flux');
  const gen = spawnSync(PYTHON, [join(ROOT, 'bench', 'gen_flux.py'), dir, '--dim', '128'], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const index = buildGraphIndex(await analyzeModel(await readModel(join(dir, 'model.onnx'))));
  const { page, problems, read, keys } = await open(index, null);
  try {
    const items = await keys();
    assert.ok(items.includes('s:transformer_blocks') && items.includes('s:single_transformer_blocks'), items.join(', '));
    assert.deepEqual(items.filter((k) => /^m:(single_)?transformer_blocks\./.test(k)), []);
    assert.ok(items.length < 20, `module level stays small: ${items.length} items`);
    const cells = await read<number[]>(`[...document.querySelectorAll('[data-key="s:single_transformer_blocks"] .cell')].map((c) => c.getBoundingClientRect().width)`);
    assert.equal(cells.length, 38);
    assert.equal(await read<number>(`document.querySelectorAll('[data-key="s:transformer_blocks"] .cell').length`), 19);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});
