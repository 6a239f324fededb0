// The built webview (dist/webview.js + dist/webview.css) in headless Chromium, under the CSP the
// extension serves, driven through the dev harness's stand-in host (webview-ui/dev/harness.html):
// what a user sees and does — module-level graph, expand/collapse by mouse and keyboard, scores
// colouring blocks, search, weight statistics, Apply — and what reaches the host.
// Needs `npm run build` (npm test does it) and Chromium + playwright-core (scripts/setup.sh).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { harnessMissing, launchHarnessBrowser } from './helpers/harness-browser';

const ROOT = resolve(__dirname, '..');
const missing = harnessMissing;

/* eslint-disable @typescript-eslint/no-explicit-any */
let browser: any;
let page: any;
const problems: string[] = [];

async function open(query: string, ready = '#app[data-ready="true"]'): Promise<void> {
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('console', (m: any) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e: Error) => problems.push(e.message));
  await page.goto(`${pathToFileURL(join(ROOT, 'webview-ui/dev/harness.html')).href}?${query}`);
  await page.waitForSelector(ready, { timeout: 30_000 });
}

/** Page state read with a string expression: the page's CSP forbids what waitForFunction does. */
const read = <T>(expr: string): Promise<T> => page.evaluate(expr);

async function until<T>(expr: string, ok: (v: T) => boolean, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read<T>(expr);
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const keys = (sel: string) => read<string[]>(`[...document.querySelectorAll('${sel}')].map((e) => e.getAttribute('data-key'))`);
const sent = () => read<{ type: string; ids?: string[]; tensorName?: string }[]>('window.__harness.log');

before(async () => {
  if (missing) return;
  browser = await launchHarnessBrowser();
});

after(async () => {
  await browser?.close();
});

test('module level: the U-Net opens collapsed, laid out by the worker under the strict CSP', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=none');
  const items = await keys('g.item');
  for (const k of ['m:time_embedding', 'm:conv_in', 'm:down_blocks.0', 'm:mid_block', 'm:up_blocks.3', 'm:conv_out', 'i:sample', 'o:out_sample']) assert.ok(items.includes(k), `${k} drawn`);
  assert.ok(items.length < 30, `collapsed view stays small: ${items.length}`);
  assert.equal((await keys('g.group')).length, 0);
  const edges = await read<number>(`document.querySelectorAll('path.edge').length`);
  assert.ok(edges > 15, `edges drawn: ${edges}`);
  // every block has a laid-out position (not all stacked at the origin)
  const positions = await read<string[]>(`[...document.querySelectorAll('g.item')].map((e) => e.getAttribute('transform'))`);
  assert.ok(new Set(positions).size === positions.length, 'distinct positions');
  assert.deepEqual((await sent()).map((m) => m.type), ['ready']);
  assert.deepEqual(problems, [], 'no errors and no CSP violations');
  await page.close();
});

test('click and keyboard expand and collapse blocks; breadcrumbs follow', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=none');
  await page.click('[data-key="m:down_blocks.1"]');
  await until<string[]>(`[...document.querySelectorAll('g.group')].map((e) => e.getAttribute('data-key'))`, (v) => v.includes('m:down_blocks.1'), 'down_blocks.1 to open');
  const inside = await keys('g.item');
  assert.ok(inside.includes('m:down_blocks.1.resnets.0') && inside.includes('m:down_blocks.1.attentions.1'), 'its children are drawn');
  assert.ok(!inside.includes('m:down_blocks.1'));
  assert.deepEqual(await read<string[]>(`[...document.querySelectorAll('.crumb')].map((e) => e.textContent)`), ['model', 'down_blocks.1']);

  // keyboard: focus a child block, Enter opens it
  await page.focus('[data-key="m:down_blocks.1.attentions.0"]');
  await page.keyboard.press('Enter');
  await until<string[]>(`[...document.querySelectorAll('g.group')].map((e) => e.getAttribute('data-key'))`, (v) => v.includes('m:down_blocks.1.attentions.0'), 'attentions.0 to open by keyboard');
  assert.equal(await read<string>(`document.activeElement.getAttribute('data-key')`), 'm:down_blocks.1.attentions.0', 'focus stays on the opened group header');
  // Enter on the focused group header collapses it again
  await page.keyboard.press('Enter');
  await until<string[]>(`[...document.querySelectorAll('g.group')].map((e) => e.getAttribute('data-key'))`, (v) => !v.includes('m:down_blocks.1.attentions.0'), 'attentions.0 to close');
  // the crumb for the model collapses everything
  await page.click('.crumb >> nth=0');
  await until<number>(`document.querySelectorAll('g.group').length`, (n) => n === 0, 'all groups to close');
  assert.deepEqual(problems, []);
  await page.close();
});

test('streamed scores colour blocks, fill the legend and drive the budget selection; Apply sends the roots', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=stream');
  await until<string>(`document.querySelector('.status-text')?.textContent ?? ''`, (t) => / scored$/.test(t), 'scoring to finish', 30_000);
  // mid_block has its own score: a heat fill on its body
  const fill = await read<string>(`document.querySelector('[data-key="m:mid_block"] .body').style.fill`);
  assert.match(fill, /^rgb\(/);
  assert.ok(await read<boolean>(`document.querySelector('[data-key="m:mid_block"]').classList.contains('scored')`));
  assert.ok(await read<boolean>(`document.querySelector('[data-key="m:time_embedding"]').classList.contains('unmodifiable')`), 'the unmodifiable module is drawn as such');
  const range = await read<string[]>(`[...document.querySelectorAll('.legend-range span')].map((e) => e.textContent)`);
  assert.notEqual(range[0], '—');
  // default budget: 20% of latency, picked lowest score first
  const checked = await read<number>(`document.querySelectorAll('.cand-row input:checked:not(:disabled)').length`);
  assert.ok(checked > 0);
  const latency = await read<string>(`document.querySelector('.meter.active .meter-value').textContent`);
  assert.ok(parseFloat(latency.replace('−', '')) >= 20, `predicted latency saving ${latency}`);
  await page.click('.sticky-actions .btn-primary');
  const apply = await until<{ type: string; ids?: string[] }[]>('window.__harness.log.filter((m) => m.type === "applyPrune")', (v) => v.length === 1, 'applyPrune');
  assert.equal(apply[0].ids!.length, checked, 'one id per selection root (covered layers are not sent)');
  await page.waitForSelector('.result-card.ok', { timeout: 10_000 });
  assert.match(await read<string>(`document.querySelector('.result-card .stat-value').textContent`), /×$/);
  // a check that measured nothing is a dash ("skipped: why"), never a tick
  const metricRow = await read<{ cls: string; text: string }>(`(() => { const li = [...document.querySelectorAll('.result-card .checks li')].find((l) => l.querySelector('.check-name')?.textContent === 'metric'); return { cls: li.className, text: li.textContent }; })()`);
  assert.equal(metricRow.cls, 'skip');
  assert.match(metricRow.text, /^–?metricskipped: the pipeline ships no metrics\/metric\.json$/);
  // before/after: a block holding removed modules says so
  await until<number>(`document.querySelectorAll('.inner-mark.is-removed').length`, (n) => n > 0, 'removed badges');
  await page.click('.result-card .btn-primary');
  const distill = await until<{ type: string }[]>('window.__harness.log.filter((m) => m.type === "distill")', (v) => v.length === 1, 'distill');
  assert.equal((distill[0] as { prunedPath?: string }).prunedPath, '/models/sd-v1-5/unet/model.pruned.onnx');
  assert.deepEqual(problems, []);
  await page.close();
});

test('search jumps to a module inside a collapsed block; weight statistics come from the host', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=all');
  await page.click('.search-input');
  await page.keyboard.type('down_blocks.2.attentions.1.proj_in');
  await page.waitForSelector('.search-results.open .sr.active');
  await page.keyboard.press('Enter');
  await until<string>(`document.querySelector('.insp-title')?.textContent ?? ''`, (t) => t === 'down_blocks.2.attentions.1.proj_in', 'inspector to show the match');
  const groups = await keys('g.group');
  assert.deepEqual(groups.sort(), ['m:down_blocks.2', 'm:down_blocks.2.attentions.1'], 'its ancestors opened, nothing else');
  assert.ok(await read<boolean>(`document.querySelector('[data-key="m:down_blocks.2.attentions.1.proj_in"]').classList.contains('selected')`));
  // the layer's Conv weight: ask the host for statistics
  await page.click('.tensor-kind button');
  await page.waitForSelector('.stats-row .histogram');
  const req = (await sent()).filter((m) => m.type === 'requestWeightStats');
  assert.deepEqual(req.map((m) => m.tensorName), ['down_blocks.2.attentions.1.proj_in.weight']);
  const bars = await read<number>(`document.querySelectorAll('.stats-row .histogram .bar').length`);
  assert.ok(bars > 10, `histogram bars: ${bars}`);
  assert.deepEqual(problems, []);
  await page.close();
});

test('an index the view cannot read is reported in the view and to the host, not left spinning', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=none&index=broken', '.app-error');
  assert.match(await read<string>(`document.querySelector('.app-error').textContent`), /Cannot show this graph.*malformed/);
  const errors = (await sent()).filter((m) => m.type === 'reportError') as { message?: string }[];
  assert.equal(errors.length, 1);
  assert.match(errors[0].message!, /cannot show the graph: the graph index is malformed/);
  await page.close();
});

test('a file the host cannot read shows the reader\'s error in the editor, and Reopen shows the graph once it reads', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=none&file=broken', '.app-error[data-load-error]');
  const text = await read<string>(`document.querySelector('.app-error').textContent`);
  assert.match(text, /Cannot read model\.onnx/);
  assert.match(text, /not a valid ONNX model: length 7713021 runs past the end/);
  assert.equal(await read<boolean>(`!!document.querySelector('.app-loading')`), false, 'no longer "Loading graph…"');
  await page.click('.app-error .btn');
  await page.waitForSelector('#app[data-ready="true"]', { timeout: 30_000 });
  assert.ok((await sent()).some((m) => m.type === 'reopen'), 'Reopen asked the host to read the file again');
  assert.ok((await keys('[data-key]')).length > 0, 'the graph is drawn');
  await page.close();
});

test('level of detail: at fit no label is drawn below 9 px on screen; zooming in brings the names back', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=all&depth=2');
  // a small window: the fitted graph is far below 1:1
  await page.setViewportSize({ width: 520, height: 420 });
  await page.keyboard.press('f');
  const drawn = `[...document.querySelectorAll('svg.graph text')].filter((t) => t.getClientRects().length > 0 && getComputedStyle(t).visibility !== 'hidden')`;
  const sizes = () => read<number[]>(`${drawn}.map((t) => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)`);
  await until<number>(`document.querySelector('svg.graph .viewport, svg.graph > g')?.getScreenCTM().a ?? 1`, (k) => k < 0.7, 'the fitted zoom');
  const atFit = await sizes();
  assert.ok(atFit.every((px) => px >= 8.99), `labels drawn at ${Math.min(...atFit).toFixed(1)} px`);
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.mouse.move(700, 450);
  for (let i = 0; i < 6; i++) await page.mouse.wheel(0, -400);
  const titles = await until<number>(`${drawn}.filter((t) => t.classList.contains('title')).length`, (n) => n > 0, 'names after zooming in');
  assert.ok(titles > 0);
  assert.ok((await sizes()).every((px) => px >= 8.99));
  await page.close();
});

test('the sidebar folds away and comes back; the canvas takes its width', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=all');
  const widths = () => read<[number, number]>(`[document.querySelector('.canvas-wrap').getBoundingClientRect().width, document.querySelector('.sidebar').getBoundingClientRect().width]`);
  const [canvas0, side0] = await widths();
  assert.ok(side0 > 200, `sidebar ${side0} px`);
  await page.click('.sidebar-toggle');
  const [canvas1, side1] = await widths();
  assert.equal(side1, 0);
  assert.ok(canvas1 >= canvas0 + side0 - 2, `canvas ${canvas0} → ${canvas1} px`);
  assert.equal(await read<string>(`document.querySelector('.sidebar-toggle').getAttribute('aria-pressed')`), 'true');
  await page.click('.sidebar-toggle');
  assert.ok((await widths())[1] > 200, 'the sidebar is back');
  await page.close();
});

test('legibility: the legend never covers Apply or Distill, at any of a few window sizes', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=stream');
  await until<string>(`document.querySelector('.status-text')?.textContent ?? ''`, (t) => / scored$/.test(t), 'scoring to finish', 30_000);
  await page.click('.sticky-actions .btn-primary');
  await page.waitForSelector('.result-card.ok', { timeout: 10_000 });
  // The legend's box as drawn: clipped by the canvas that holds it (overflow: hidden), then compared
  // with each button's box; and the topmost element at each button's centre must be the button itself.
  const probe = `(() => {
    const box = (e) => { const r = e.getBoundingClientRect(); return { l: r.left, t: r.top, r: r.right, b: r.bottom }; };
    const clip = (a, c) => ({ l: Math.max(a.l, c.l), t: Math.max(a.t, c.t), r: Math.min(a.r, c.r), b: Math.min(a.b, c.b) });
    const meets = (a, b) => Math.min(a.r, b.r) > Math.max(a.l, b.l) && Math.min(a.b, b.b) > Math.max(a.t, b.t);
    const legend = clip(box(document.querySelector('.legend')), box(document.querySelector('.canvas-wrap')));
    const buttons = [document.querySelector('.sticky-actions .btn-primary'), document.querySelector('.result-card .btn-primary')];
    return buttons.map((btn) => {
      btn.scrollIntoView({ block: 'nearest' });
      const b = box(btn);
      const top = document.elementFromPoint((b.l + b.r) / 2, (b.t + b.b) / 2);
      return { label: btn.textContent, meets: meets(legend, b), onTop: !!top && (top === btn || btn.contains(top)) };
    });
  })()`;
  for (const [width, height] of [[1400, 900], [900, 640], [640, 480], [480, 360]]) {
    await page.setViewportSize({ width, height });
    for (const b of await read<{ label: string; meets: boolean; onTop: boolean }[]>(probe)) {
      assert.equal(b.meets, false, `${width}×${height}: the legend overlaps "${b.label}"`);
      assert.equal(b.onTop, true, `${width}×${height}: something covers "${b.label}"`);
    }
  }
  assert.deepEqual(problems, []);
  await page.close();
});

test('a reload brings back the last prune result card (checks, speed-up) from the webview state', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=stream');
  await until<string>(`document.querySelector('.status-text')?.textContent ?? ''`, (t) => / scored$/.test(t), 'scoring to finish', 30_000);
  await page.click('.sticky-actions .btn-primary');
  await page.waitForSelector('.result-card.ok', { timeout: 10_000 });
  const card = `document.querySelector('.result-card')?.textContent ?? ''`;
  const before = await read<string>(card);
  assert.match(before, /Pruned model written.*×/);
  await until<string>(`sessionStorage.getItem('ld-harness-state') ?? ''`, (s) => s.includes('"result"'), 'the state to be saved');
  await page.reload();
  await page.waitForSelector('#app[data-ready="true"]', { timeout: 30_000 });
  await page.waitForSelector('.result-card.ok', { timeout: 10_000 });
  assert.equal(await read<string>(card), before, 'the same card: checks and measured speed-up');
  assert.equal((await sent()).filter((m) => m.type === 'applyPrune').length, 0, 'nothing was pruned again');
  assert.deepEqual(problems, []);
  await page.close();
});

test('Measure quality on the prune result card: the host is asked for the pruned pipeline, the card shows both numbers and keeps them over a reload', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=stream');
  await until<string>(`document.querySelector('.status-text')?.textContent ?? ''`, (t) => / scored$/.test(t), 'scoring to finish', 30_000);
  await page.click('.sticky-actions .btn-primary');
  await page.waitForSelector('.result-card.ok [data-focus-id="measure"]', { timeout: 10_000 });
  await page.click('.result-card [data-focus-id="measure"]');
  const asked = await until<{ type: string }[]>(`window.__harness.log.filter((m) => m.type === 'measureQuality')`, (m) => m.length > 0, 'the measure request');
  assert.deepEqual(asked, [{ type: 'measureQuality', pipeline: '/models/sd-v1-5.pruned' }]);
  await page.waitForSelector('.result-card .quality', { timeout: 10_000 });
  const quality = `document.querySelector('.result-card .quality')?.textContent ?? ''`;
  const text = await read<string>(quality);
  assert.match(text, /n = 200, same seeds/);
  assert.match(text, /FID 13\.74 ±0\.80 → 15\.10 ±0\.90/);
  assert.match(text, /Latent distance 3\.214/);
  assert.match(await read<string>(`document.querySelector('.result-card [data-focus-id="measure"]').textContent`), /Measure again/);
  await until<string>(`sessionStorage.getItem('ld-harness-state') ?? ''`, (s) => s.includes('"quality"'), 'the state to be saved');
  await page.reload();
  await page.waitForSelector('.result-card .quality', { timeout: 30_000 });
  assert.equal(await read<string>(quality), text);
  assert.deepEqual(problems, []);
  await page.close();
});

test('predicted quality drop: the accepted set\'s latent score and calibrated FID update as a prune is rejected; after Apply the card shows predicted vs measured', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=stream&calibration=fit');
  await until<string>(`document.querySelector('.status-text')?.textContent ?? ''`, (t) => / scored$/.test(t), 'scoring to finish', 30_000);
  const predicted = async () => {
    const latent = parseFloat((await read<string>(`document.querySelector('.predicted-drop .predicted-latent').textContent`)).replace('latent score ', ''));
    const fid = parseFloat((await read<string>(`document.querySelector('.predicted-drop .predicted-metric').textContent`)).replace('FID ', '').replace('−', '-'));
    return { latent, fid };
  };
  // the harness's report.json fit: 25 FID per latent-score unit
  const fits = (v: { latent: number; fid: number }) => v.latent > 0 && Math.abs(v.fid - 25 * v.latent) <= 0.002 + 0.01 * v.fid;
  // both numbers read in one go, and waited for: the panel may still be catching up with the last scores
  // (read one at a time, a loaded machine once saw a new latent score beside the previous FID)
  const both = `(() => { const l = document.querySelector('.predicted-drop .predicted-latent')?.textContent ?? ''; const m = document.querySelector('.predicted-drop .predicted-metric')?.textContent ?? ''; return { latent: parseFloat(l.replace('latent score ', '')), fid: parseFloat(m.replace('FID ', '').replace('−', '-')) }; })()`;
  await until<{ latent: number; fid: number }>(both, fits, 'the predicted FID to be 25 × the latent score', 10_000);
  const first = await predicted();
  assert.ok(fits(first), `FID ${first.fid} for latent ${first.latent}`);
  assert.match(await read<string>(`document.querySelector('.predicted-drop').textContent`), /fit through the origin, n=12, ρ 0\.81/);
  // reject the highest-scored accepted candidate: both numbers drop
  await page.locator('.cand-row input:checked:not(:disabled)').last().click();
  const second = await until<{ latent: number; fid: number }>(`(() => { const l = document.querySelector('.predicted-drop .predicted-latent')?.textContent ?? ''; const m = document.querySelector('.predicted-drop .predicted-metric')?.textContent ?? ''; return { latent: parseFloat(l.replace('latent score ', '')), fid: parseFloat(m.replace('FID ', '').replace('−', '-')) }; })()`, (v) => v.latent < first.latent, 'the prediction to follow the rejection');
  assert.ok(second.fid < first.fid, `FID ${second.fid} after rejecting, was ${first.fid}`);
  await page.click('.sticky-actions .btn-primary');
  await page.waitForSelector('.result-card.ok .predicted-vs-measured', { timeout: 10_000 });
  const rows = await read<string[][]>(`[...document.querySelectorAll('.predicted-vs-measured tr')].map((tr) => [...tr.children].map((c) => c.textContent))`);
  assert.deepEqual(rows[0], ['', 'predicted', 'measured']);
  assert.equal(rows[1][0], 'latent score');
  assert.ok(Math.abs(parseFloat(rows[1][1]) - second.latent) <= 1e-3 * Math.max(1, second.latent), `predicted latent ${rows[1][1]}`);
  assert.equal(rows[1][2], '0.213 (combined)');
  assert.equal(rows[2][0], 'FID');
  assert.match(rows[2][1], /^\+\d+\.\d{3} \(fit n=12, ρ 0\.81\)$/);
  assert.equal(rows[2][2], '+1.500 (n=16, indicative)');
  // Measure quality adds quality.json's drop beside the check's
  await page.click('.result-card [data-focus-id="measure"]');
  await until<string>(`document.querySelector('.predicted-vs-measured')?.textContent ?? ''`, (t) => t.includes('quality.json'), 'quality.json in the comparison');
  assert.match(await read<string>(`document.querySelector('.predicted-vs-measured').textContent`), /\+1\.500 \(n=16, indicative\) · \+1\.360 \(quality\.json, n=200\)/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('without a calibration the prunes panel says the prediction is in latent units and how to get a metric', { skip: missing ? `needs ${missing}` : false }, async () => {
  await open('scores=stream');
  await until<string>(`document.querySelector('.status-text')?.textContent ?? ''`, (t) => / scored$/.test(t), 'scoring to finish', 30_000);
  const text = await read<string>(`document.querySelector('.predicted-drop').textContent`);
  assert.match(text, /latent score \d/);
  assert.match(text, /latent units only; run ld-surgeon report for a metric prediction/);
  assert.equal(await read<number>(`document.querySelectorAll('.predicted-drop .predicted-metric').length`), 0);
  assert.deepEqual(problems, []);
  await page.close();
});
