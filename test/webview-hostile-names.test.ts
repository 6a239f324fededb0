// Model strings are data, never markup: a model whose module, node, value and attribute names are
// HTML (an <img onerror>, an <svg onload>, a closing quote) is rendered by the built webview in
// headless Chromium under the extension's CSP; nothing it names may become an element or run.
// Needs `npm run build` and Chromium + playwright-core, like webview-browser.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { analyzeModel, buildGraphIndex } from '../src/core/graph';
import { GraphBuilder } from './helpers/graph-builder';
import { harnessMissing, launchHarnessBrowser } from './helpers/harness-browser';

const ROOT = resolve(__dirname, '..');
const missing = harnessMissing;

const IMG = '<img src=x onerror=__pwned=1>';
const SVG = '"><svg onload=__pwned=2>';

/* eslint-disable @typescript-eslint/no-explicit-any */
let browser: any;

before(async () => {
  if (missing) return;
  browser = await launchHarnessBrowser();
});

after(async () => {
  await browser?.close();
});

test('node, module, value and attribute names that are HTML are shown as text, never parsed', { skip: missing ? `needs ${missing}` : false }, async () => {
  const b = new GraphBuilder();
  const x = b.input(`x${IMG}`, [1, 4, 8, 8]);
  const w = b.weight(`w${SVG}`, [4, 4, 3, 3]);
  const c = b.node('Conv', [x, w], { name: `/${IMG}/conv${SVG}`, attrs: { auto_pad: IMG, pads: [1, 1, 1, 1] } });
  const r = b.node('Relu', [c], { name: `/${SVG}/relu`, outputs: [`y${IMG}`] });
  b.output(r, [1, 4, 8, 8]);
  const index = buildGraphIndex(await analyzeModel(b.model()));

  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const problems: string[] = [];
  page.on('pageerror', (e: Error) => problems.push(e.message));
  try {
    await page.addInitScript({ content: `window.__ldIndex = ${JSON.stringify(index)};` });
    await page.goto(`${pathToFileURL(join(ROOT, 'webview-ui/dev/harness.html')).href}?scores=none`);
    await page.waitForSelector('#app[data-ready="true"]', { timeout: 30_000 });
    const keys: string[] = await page.evaluate(`[...document.querySelectorAll('g.item')].map((e) => e.getAttribute('data-key'))`);
    assert.ok(keys.includes(`m:${IMG}`) && keys.includes(`m:${SVG}`), `the HTML-named modules are drawn as blocks: ${JSON.stringify(keys)}`);
    // expand both modules so the nodes, their attribute and value names are on screen too
    for (const k of [`m:${IMG}`, `m:${SVG}`]) {
      await page.evaluate(`[...document.querySelectorAll('g.item')].find((e) => e.getAttribute('data-key') === ${JSON.stringify(k)})?.dispatchEvent(new MouseEvent('dblclick', { bubbles: true }))`);
      await new Promise((res) => setTimeout(res, 300));
    }
    const dom: { imgs: number; svgsWithOnload: number; pwned: unknown; text: string } = await page.evaluate(`({
      imgs: document.querySelectorAll('img').length,
      svgsWithOnload: document.querySelectorAll('[onload], [onerror]').length,
      pwned: window.__pwned,
      text: document.body.textContent,
    })`);
    assert.equal(dom.imgs, 0, 'no <img> element came from a name');
    assert.equal(dom.svgsWithOnload, 0, 'no element has an onload/onerror attribute');
    assert.equal(dom.pwned, undefined, 'no injected handler ran');
    assert.ok(dom.text.includes(IMG), 'the name is shown literally, as text');
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});
