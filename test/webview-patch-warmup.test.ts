// The graph view warms an edit's code while it is idle after its first paint (webview-ui/src/model/
// patchWarmUp.ts, App.warmPatchPathWhenIdle): the throw-away patch it runs must be a real patch of
// the index shown (else it warms nothing), must leave the index and view model it reads as they
// were, and the page must look and behave exactly as it did — the next real edit included.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EditableModel } from '../src/core/edit';
import type { GraphIndex } from '../src/core/graph';
import { applyGraphIndexPatch, type GraphIndexPatch } from '../src/core/graph/index-patch';
import { ViewGraph } from '../webview-ui/src/model/graph';
import { warmPatchPath, warmUpPatch } from '../webview-ui/src/model/patchWarmUp';
import { syntheticUnet } from '../webview-ui/dev/syntheticUnet';
import { drawnOnPage, harnessMissing, launchHarnessBrowser } from './helpers/harness-browser';
import { EXAMPLES } from './pipeline-fixtures';

const ROOT = resolve(__dirname, '..');
const COND = join(EXAMPLES, 'digits-cond', 'unet', 'model.onnx');
const BLOCK = 'up_blocks.1';
const BYPASSED = 'up_blocks.1.attentions.0';

/** What the view model holds, as plain data (nodes, values, modules, edges, stacks). */
function snapshot(g: ViewGraph): string {
  return JSON.stringify({ nodes: g.nodes, values: [...g.values.values()], modules: [...g.modules.values()], edges: g.edges, stacks: g.stacks, inputs: g.inputs, outputs: g.outputs, hidden: [...g.hidden] });
}

for (const [name, load] of [
  ['the synthetic SD U-Net', async () => syntheticUnet({ depth: 1 })],
  ['the digits-cond U-Net', async () => JSON.parse((await EditableModel.open(COND)).graphIndexJson()) as GraphIndex],
] as const) {
  test(`${name}: the warm-up patch is a real edit of the index (everything after its middle remapped), and warming leaves the index and view model as they were`, async () => {
    const index = await load();
    const graph = new ViewGraph(index);
    const indexBefore = JSON.stringify(index);
    const graphBefore = snapshot(graph);

    const patch = warmUpPatch(index);
    const next = applyGraphIndexPatch(index, patch);
    // what it warms is the path an edit takes: the patched view model equals one built from scratch
    const patched = ViewGraph.patched(graph, index, patch, next);
    assert.equal(snapshot(patched), snapshot(new ViewGraph(next)));
    assert.equal(patched.nodes.length, graph.nodes.length + 1, 'one node more');
    assert.deepEqual(patched.nodes.filter((n) => graph.nodeIndex.has(n.id)).map((n) => n.id), graph.nodes.map((n) => n.id), 'every node kept, in order');
    const shifted = next.nodes.slice(patch.nodes.at + 1).filter((n, k) => n !== index.nodes[patch.nodes.at + k]);
    assert.ok(shifted.length > index.nodes.length / 4, `the nodes after the middle are remapped (${shifted.length})`);
    for (const n of patched.nodes) {
      const was = graph.nodes[graph.nodeIndex.get(n.id) ?? -1];
      if (was) assert.deepEqual({ ...n, index: 0 }, { ...was, index: 0 }, `${n.id} reads the same values in the same module`);
    }

    assert.ok(warmPatchPath(index, graph) >= 0);
    assert.equal(JSON.stringify(index), indexBefore, 'the index is left as it was');
    assert.equal(snapshot(graph), graphBefore, 'the view model is left as it was');
  });
}

/* eslint-disable @typescript-eslint/no-explicit-any */
let browser: any;

before(async () => {
  if (!harnessMissing) browser = await launchHarnessBrowser();
});

after(async () => {
  await browser?.close();
});

/** Everything the page shows and keeps: the whole document's markup, the viewport, and the state it saved for a reload. */
async function seen(page: any): Promise<{ html: string; viewport: string; state: string }> {
  return page.evaluate(`(() => ({
    html: document.body.innerHTML,
    viewport: document.querySelector('g.viewport').getAttribute('transform'),
    state: sessionStorage.getItem('ld-harness-state') ?? '',
  }))()`);
}

async function measures(page: any, name: string, count: number): Promise<void> {
  const end = Date.now() + 30_000;
  while ((await page.evaluate(`performance.getEntriesByName('${name}', 'measure').length`)) < count) {
    if (Date.now() > end) throw new Error(`${name} was never measured`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const drawn = drawnOnPage;

test('the edit path warmed while the view is idle changes nothing on the page, and the next edit draws what a view that never warmed draws', { skip: harnessMissing || false }, async () => {
  const doc = await EditableModel.open(COND);
  const original = JSON.parse(doc.graphIndexJson()) as GraphIndex;
  await doc.apply({ kind: 'bypass', module: BYPASSED });
  const patch = JSON.parse(JSON.stringify(doc.graphIndexPatch(0))) as GraphIndexPatch;

  // idle callbacks are held until the test runs them, so the page can be read before and after
  const open = async (warm: boolean) => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (e: Error) => problems.push(e.message));
    page.problems = problems;
    await page.addInitScript({ content: `window.__ldIndex = ${JSON.stringify(original)}; window.__ldScores = [];
      window.__idle = []; window.requestIdleCallback = (fn) => { window.__idle.push(fn); return window.__idle.length; };` });
    await page.goto(`${pathToFileURL(join(ROOT, 'webview-ui/dev/harness.html')).href}?scores=none`);
    await page.waitForSelector('#app[data-layout="settled"]', { timeout: 30_000 });
    await page.click(`[data-key="m:${BLOCK}"]`);
    await page.waitForSelector(`g.group[data-key="m:${BLOCK}"]`, { timeout: 30_000 });
    await page.waitForSelector('#app:not([data-layout="provisional"])', { timeout: 30_000 });
    // the saved state is written 200 ms after a change; the warm-up waits until nothing new was drawn for 600 ms
    await new Promise((r) => setTimeout(r, 1000));
    if (warm) {
      const before = await seen(page);
      // every warm-up run, as the idle moments would give them (each run queues the next)
      const runs: number = await page.evaluate(`(() => { let n = 0; while (window.__idle.length && n < 20) { window.__idle.shift()({ didTimeout: false, timeRemaining: () => 50 }); n++; } return n; })()`);
      assert.ok(runs >= 1, 'a warm-up was waiting for an idle moment');
      assert.ok(await page.evaluate(`performance.getEntriesByName('ld:warm-patch', 'measure').length`) >= 1, 'the warm-up ran');
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(await seen(page), before, 'the page, its viewport and its saved state are exactly as before the warm-up');
    }
    await page.evaluate(`window.postMessage(${JSON.stringify({ type: 'patch', patch })}, '*')`);
    await measures(page, 'ld:patched', 1);
    await page.waitForSelector('#app[data-layout="settled"]', { timeout: 30_000 });
    return page;
  };
  const warmed = await open(true);
  const cold = await open(false);
  assert.equal(await cold.evaluate(`performance.getEntriesByName('ld:warm-patch', 'measure').length`), 0, 'the other view never warmed');
  assert.deepEqual(await drawn(warmed), await drawn(cold));
  const places = (page: any) => page.evaluate(`Object.fromEntries([...document.querySelectorAll('g.item, g.group')].map((e) => [e.getAttribute('data-key'), e.getAttribute('transform')]))`);
  assert.deepEqual(await places(warmed), await places(cold), 'the edit laid out the same');
  assert.equal(await warmed.evaluate(`document.querySelector('.inspector-body').textContent`), await cold.evaluate(`document.querySelector('.inspector-body').textContent`));
  assert.deepEqual([...warmed.problems, ...cold.problems], []);
  await warmed.close();
  await cold.close();
});
