// Graph webview benchmark: time to first paint at module level and time to expand a block, in
// headless Chromium, on SD-scale graph indexes. Prints JSON.
//
//   npm run build && npx tsx bench/webview.ts [--runs N] [--cpu-only] [--case SUBSTRING] [--baseline OLD/webview.js] [--pause-ms N]
//
// Cases: the synthetic SD v1 U-Net of webview-ui/dev/syntheticUnet.ts with 1 and 3 transformer
// blocks per attention (~4k and ~10k nodes; ~550 and ~1.1k modules), plus the index of
// $LD_SURGEON_BENCH_MODELS/sd15-unet/model.onnx (bench/gen_sd_unet.py; default bench/out) when it
// exists, and of the full-scale SDXL U-Net and FLUX transformer there (bench/gen_sdxl_unet.py,
// bench/gen_flux.py; first paint only: their blocks are named differently). --case keeps the cases whose name contains SUBSTRING. --baseline runs another build of
// the webview bundle (say a copy of dist/webview.js from before a change) in the same harness,
// page for page alternating with the current one, and reports it beside it as `baseline`. `cpuShare` (the fraction
// of one core a busy loop got over 0.5 s, measured before the runs; ~1 on an idle machine) tells
// how loaded the machine was: timings scale roughly with its inverse. Each run opens a fresh
// page of the dev harness (webview-ui/dev/harness.html: the real dist/webview.js under the real
// CSP, fed by a stand-in host), reads the page's own performance measures:
//   ld:first-paint  init message received → module-level graph laid out, drawn and painted
//                   (split as `firstPaintParts`: ld:index, index → view model; ld:layout, the ELK
//                   layout in the worker, cold on a fresh page; ld:render, drawing it)
//                   The first paint is drawn from a provisional layout when ELK is still cold
//                   (webview-ui/src/layout/quickLayout.ts); `settledMs` is init → ELK's layout drawn in
//                   its place (ld:settled; equal to the first paint when ELK was warm). The expansions
//                   are clicked once it has settled, as a user's first click comes after seeing the graph.
//   ld:expand       click on a block → its expansion laid out, drawn and painted; `parts`: the page's
//                   ld:layout (waiting for ELK, 0 when the layout was cached or laid out ahead) and
//                   ld:render (drawing it). A build that draws a click ELK has not answered within
//                   100 ms from an interim layout (webview-ui/src/layout/expansionLayout.ts) reports,
//                   for the runs that did, `settledMs` (click → ELK's layout drawn in its place,
//                   ld:expand-settled; a run drawn from ELK's layout at once counts its expandMs) and
//                   `interimRuns` (how many runs drew the interim layout first). The clicks follow each other at once (the worst case: nothing
//                   laid out ahead but the hovered block); --pause-ms N waits N ms before each click, as a
//                   user reading the graph does, in which the view lays likely expansions out ahead
//   editRedrawMs    (sd15-unet) a bypass of mid_block.attentions.0 and its undo as the view receives them
//                   — a `patch` of its index; a --baseline from before patches gets a whole init — from
//                   posting the message to the frame that shows the edited graph, with the patch's and the
//                   whole index's JSON bytes. A build that redraws an edit in place draws it first from an
//                   interim layout (kept items where they were; webview-ui/src/layout/interimLayout.ts) unless
//                   ELK's is cached (the undo): `settledMs` is until ELK's layout is drawn in its place
//                   (ld:patch-settled); `parts` are the page's ld:patch:* measures
// and expands down_blocks.1 → attentions.0 → transformer_blocks.0 → attn1 (the deepest path).
// Wall-clock numbers only mean something on a quiet machine, so each case also reports `cpuMs`:
// the CPU time (process.cpuUsage, in node on the same V8 and the same ELK build) of the work
// behind each step — index → view model for the first paint, visible graph + ELK layout for every
// step, warm as in a running view — which is about what the wall time is on an idle core, plus
// ~20-50 ms of DOM drawing (the page's ld:render measure). `cpuMsFreshElk` is the same layouts' CPU in
// a fresh process, each run once in the order a page runs them: ELK as it is in a page just opened,
// its code not yet optimised (several times cpuMs: this, not the graph's size, is what an expansion waits for).
// Needs Debian's chromium and playwright-core (bash test/e2e/setup.sh installs both).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { analyzeModel, buildGraphIndex } from '../src/core/graph';
import { readModel } from '../src/core/onnx/reader';
import type { GraphIndex } from '../src/protocol/webview';
import ELK from 'elkjs/lib/elk.bundled.js';
import { toElk, fromElk, warmUpGraph } from '../webview-ui/src/model/elkGraph';
import { ViewGraph } from '../webview-ui/src/model/graph';
import { computeVisible } from '../webview-ui/src/model/visible';
import { syntheticUnet } from '../webview-ui/dev/syntheticUnet';
import { analysisShapes } from '../src/core/scoring/prepare';
import { resolveTarget } from '../src/core/scoring/target';
import { EditableModel } from '../src/core/edit';
import type { GraphIndexPatch } from '../src/core/graph/index-patch';
import { BENCH_MODELS, measureCpuShare } from './common';

const ROOT = resolve(__dirname, '..');
const runs = process.argv.includes('--runs') ? Number(process.argv[process.argv.indexOf('--runs') + 1]) : 3;
const cpuOnly = process.argv.includes('--cpu-only');
const argOf = (flag: string) => (process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined);
const caseFilter = argOf('--case');
const baselineBundle = argOf('--baseline');
/** wait this long before each expansion's click (a user reading the graph; the view may lay likely expansions out meanwhile) */
const pauseMs = Number(argOf('--pause-ms') ?? 0);
const BUDGET = { firstPaintMs: 1000, expandMs: 200 };
/** issue 19's first paint for the full-scale SDXL and FLUX graphs */
const XL_FIRST_PAINT_MS = 1500;
const CHAIN = ['down_blocks.1', 'down_blocks.1.attentions.0', 'down_blocks.1.attentions.0.transformer_blocks.0', 'down_blocks.1.attentions.0.transformer_blocks.0.attn1'];

interface Case {
  name: string;
  query: string;
  index: GraphIndex;
  /** whether the harness must be handed the index (else it builds the same synthetic one) */
  inject: boolean;
  /** the first paint's target (ms) */
  firstPaintBudget: number;
  /** expand CHAIN (U-Nets named as diffusers names SD-1.5's) */
  expand: boolean;
  /** EDIT and its undo: each as the patch the view is sent now and the whole index (JSON) it was sent before */
  edit?: { edit: { patch: GraphIndexPatch; json: string }; undo: { patch: GraphIndexPatch; json: string } };
}

/** the edit whose re-render is measured (after the expansions: the view keeps them open) */
const EDIT = { kind: 'bypass', module: 'mid_block.attentions.0' } as const;

const cpuNow = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

/** CPU milliseconds of the view's work per step, outside the browser (see the header). */
async function cpuCosts(index: GraphIndex, expand = true): Promise<Record<string, number>> {
  const elk = new ELK();
  await elk.layout(warmUpGraph());
  // label sizes as the page measures them are close to these; layout cost hardly depends on them
  const size = (it: { kind: string }) => ({ w: it.kind === 'node' ? 100 : 170, h: it.kind === 'node' ? 36 : 48 });
  const json = JSON.stringify(index);
  const steps: [string, string[]][] = [['moduleLevel', []], ...(expand ? CHAIN.map((_, i) => [CHAIN[i], CHAIN.slice(0, i + 1)] as [string, string[]]) : [])];
  const out: Record<string, number> = {};
  let t = cpuNow();
  const g = new ViewGraph(JSON.parse(json));
  out.indexToViewModel = round(cpuNow() - t);
  for (let pass = 0; pass < 2; pass++) {
    for (const [name, expanded] of steps) {
      const samples: number[] = [];
      for (let r = 0; r < 3; r++) {
        t = cpuNow();
        fromElk(await elk.layout(toElk(computeVisible(g, new Set(expanded)), size)));
        samples.push(cpuNow() - t);
      }
      // the first pass warms ELK's code as a running view would be; the second is reported
      if (pass === 1) out[name] = round(median(samples));
    }
  }
  return out;
}

/**
 * CPU ms of each step's ELK layout in a fresh node process, in the order a page runs them (the
 * warm-up graph, the module level, then each expansion once): ELK as it is in a page that has just
 * opened, its code not yet optimised — against cpuMs, ELK after a few dozen layouts.
 */
function cpuCostsFreshElk(index: GraphIndex, expand = true): Record<string, number> {
  const size = (it: { kind: string }) => ({ w: it.kind === 'node' ? 100 : 170, h: it.kind === 'node' ? 36 : 48 });
  const g = new ViewGraph(index);
  const steps: [string, string[]][] = [['moduleLevel', []], ...(expand ? CHAIN.map((_, i) => [CHAIN[i], CHAIN.slice(0, i + 1)] as [string, string[]]) : [])];
  const inputs = [['warmUp', warmUpGraph()], ...steps.map(([name, expanded]) => [name, toElk(computeVisible(g, new Set(expanded)), size)])];
  const script = `const ELK = require('elkjs/lib/elk.bundled.js');
    const steps = JSON.parse(require('fs').readFileSync(0, 'utf8'));
    const now = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };
    (async () => {
      const elk = new ELK();
      const out = {};
      for (const [name, graph] of steps) { const t = now(); await elk.layout(graph); out[name] = Math.round((now() - t) * 10) / 10; }
      console.log(JSON.stringify(out));
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, input: JSON.stringify(inputs), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`fresh ELK process failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, number>;
}

/** An edit first drawn from an interim layout: message posted → ELK's layout drawn in its place. */
const settledOf = (xs: number[]) => (xs.length ? { settledMs: { median: round(median(xs)), runs: xs.map(round) } } : {});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const round = (x: number) => Math.round(x * 10) / 10;

function cpuWithinBudget(cpu: Record<string, number>, firstPaintMs = BUDGET.firstPaintMs): boolean {
  return cpu.indexToViewModel + cpu.moduleLevel <= firstPaintMs && CHAIN.every((id) => cpu[id] === undefined || cpu[id] <= BUDGET.expandMs);
}

async function main(): Promise<void> {
  if (cpuOnly) {
    const results = [];
    for (const d of [1, 3]) {
      const index = syntheticUnet({ depth: d });
      const cpuMs = await cpuCosts(index);
      results.push({ case: `synthetic-sd-depth${d}`, nodes: index.nodes.length, modules: index.modules.length, cpuMs, cpuWithinBudget: cpuWithinBudget(cpuMs) });
    }
    console.log(JSON.stringify({ bench: 'webview', mode: 'cpu-only', budget: BUDGET, machine: { cpus: cpus().length, loadavg1m: round(loadavg()[0]), cpuShare: measureCpuShare() }, results }, null, 2));
    return;
  }
  if (!existsSync(join(ROOT, 'dist/webview.js'))) throw new Error('dist/webview.js is missing: run npm run build first');
  const e2e = join(ROOT, 'test/e2e/package.json');
  if (!existsSync(join(ROOT, 'test/e2e/node_modules/playwright-core'))) throw new Error('playwright-core is missing: run bash test/e2e/setup.sh');
  const { chromium } = createRequire(e2e)('playwright-core');
  await build({ entryPoints: [join(ROOT, 'webview-ui/dev/harness.ts')], outfile: join(ROOT, 'out/harness/harness.js'), bundle: true, format: 'iife', platform: 'browser', target: 'es2022', logLevel: 'warning' });

  let cases: Case[] = [1, 3].map((d) => ({ name: `synthetic-sd-depth${d}`, query: `scores=all&depth=${d}`, index: syntheticUnet({ depth: d }), inject: false, firstPaintBudget: BUDGET.firstPaintMs, expand: true }));
  const real = join(BENCH_MODELS, 'sd15-unet/model.onnx');
  if (existsSync(real) && (!caseFilter || 'sd15-unet'.includes(caseFilter))) {
    // the index the graph editor is sent (per-sample shapes), and an edit of it and its undo
    const doc = await EditableModel.open(real);
    const index = JSON.parse(doc.graphIndexJson()) as GraphIndex;
    await doc.apply(EDIT);
    const edit = { patch: doc.graphIndexPatch(0), json: doc.graphIndexJson() };
    doc.undo();
    const undo = { patch: doc.graphIndexPatch(1), json: doc.graphIndexJson() };
    cases.push({ name: `sd15-unet (${real})`, query: 'scores=all', index, inject: true, firstPaintBudget: BUDGET.firstPaintMs, expand: true, edit: { edit, undo } });
  }
  for (const name of ['sdxl-unet', 'flux']) {
    const path = join(BENCH_MODELS, name, 'model.onnx');
    if (!existsSync(path) || (caseFilter && !name.includes(caseFilter))) continue;
    const m = await readModel(path);
    const a = await analyzeModel(m, { inputShapes: analysisShapes(m, resolveTarget(path)) });
    cases.push({ name: `${name} (${path})`, query: 'scores=all', index: buildGraphIndex(a), inject: true, firstPaintBudget: XL_FIRST_PAINT_MS, expand: false });
  }
  if (caseFilter) cases = cases.filter((c) => c.name.includes(caseFilter));
  const pages: { label: string; html: string }[] = [{ label: 'current', html: join(ROOT, 'webview-ui/dev/harness.html') }];
  if (baselineBundle) pages.push({ label: 'baseline', html: baselineHarness(resolve(baselineBundle)) });

  const cpuShare = measureCpuShare();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--allow-file-access-from-files'],
  });
  const results = [];
  try {
    for (const c of cases) {
      const per = new Map(pages.map((p) => [p.label, { first: [] as number[], settled: [] as number[], parts: { index: [] as number[], layout: [] as number[], render: [] as number[] }, expand: CHAIN.map(() => [] as number[]), expandSettled: CHAIN.map(() => [] as (number | undefined)[]), expandParts: CHAIN.map(() => ({ layout: [] as number[], render: [] as number[] })), redraw: [[], []] as number[][], redrawSettled: [[], []] as number[][], redrawParts: [[], []] as Record<string, number | undefined>[][] }]));
      let size: Record<string, number> = {};
      for (let r = 0; r < runs; r++) {
        for (const p of pages) {
          const acc = per.get(p.label)!;
          const m = await measurePage(browser, c, p.html);
          acc.first.push(m.first);
          acc.settled.push(m.settled);
          acc.parts.index.push(m.index);
          acc.parts.layout.push(m.layout);
          acc.parts.render.push(m.render);
          m.expand.forEach((d, i) => acc.expand[i].push(d));
          (m.expandSettled ?? []).forEach((d, i) => acc.expandSettled[i].push(d));
          m.expandParts.forEach((d, i) => {
            acc.expandParts[i].layout.push(d.layout);
            acc.expandParts[i].render.push(d.render);
          });
          m.redraw.forEach((d, i) => acc.redraw[i].push(d));
          m.redrawSettled.forEach((d, i) => acc.redrawSettled[i].push(d));
          m.redrawParts.forEach((d, i) => acc.redrawParts[i].push(d));
          size = { nodes: m.nodes, modules: m.modules, indexBytes: m.bytes };
        }
      }
      const summary = (acc: NonNullable<ReturnType<typeof per.get>>) => ({
        firstPaintMs: {
          median: round(median(acc.first)),
          runs: acc.first.map(round),
          firstPaintParts: { index: round(median(acc.parts.index)), layout: round(median(acc.parts.layout)), render: round(median(acc.parts.render)) },
        },
        settledMs: { median: round(median(acc.settled)), runs: acc.settled.map(round) },
        ...(c.edit ? {
          editRedrawMs: {
            what: `${EDIT.kind} ${EDIT.module}: message posted → the edited graph drawn (this build: a patch; a --baseline from before patches: a whole init)`,
            edit: { median: round(median(acc.redraw[0])), runs: acc.redraw[0].map(round), ...settledOf(acc.redrawSettled[0]), parts: acc.redrawParts[0], patchBytes: JSON.stringify(c.edit.edit.patch).length, indexBytes: c.edit.edit.json.length },
            undo: { median: round(median(acc.redraw[1])), runs: acc.redraw[1].map(round), ...settledOf(acc.redrawSettled[1]), parts: acc.redrawParts[1], patchBytes: JSON.stringify(c.edit.undo.patch).length, indexBytes: c.edit.undo.json.length },
          },
        } : {}),
        ...(c.expand ? {
          expandMs: Object.fromEntries(CHAIN.map((id, i) => [id, {
            median: round(median(acc.expand[i])),
            runs: acc.expand[i].map(round),
            // medians of the page's ld:layout (waiting for ELK's layout, 0 when cached; up to 100 ms and the
            // interim layout when ELK is slower) and ld:render (drawing it)
            parts: { layout: round(median(acc.expandParts[i].layout)), render: round(median(acc.expandParts[i].render)) },
            // the runs drawn from an interim layout first: click → ELK's layout drawn in its place, per run
            // (null: that run drew ELK's layout at once, so its expandMs is already the settled time)
            ...(acc.expandSettled[i].some((x) => x !== undefined) ? { settledMs: acc.expandSettled[i].map((x, r) => round(x ?? acc.expand[i][r])), interimRuns: acc.expandSettled[i].filter((x) => x !== undefined).length } : {}),
          }])),
        } : {}),
        withinBudget: median(acc.first) <= c.firstPaintBudget && acc.expand.every((x) => !x.length || median(x) <= BUDGET.expandMs),
      });
      const cpuMsFreshElk = cpuCostsFreshElk(c.index, c.expand);
      const cpuMs = await cpuCosts(c.index, c.expand);
      results.push({
        case: c.name,
        ...size,
        cpuMs,
        cpuMsFreshElk,
        cpuWithinBudget: cpuWithinBudget(cpuMs, c.firstPaintBudget),
        ...summary(per.get('current')!),
        ...(baselineBundle ? { baseline: { bundle: resolve(baselineBundle), ...summary(per.get('baseline')!) } } : {}),
      });
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify({ bench: 'webview', runs, pauseMs, budget: BUDGET, machine: { cpus: cpus().length, loadavg1m: round(loadavg()[0]), cpuShare }, results }, null, 2));
}

/** One fresh page of the harness `html` on case `c`: the first paint, its parts, and each expansion of CHAIN. */
async function measurePage(browser: any, c: Case, html: string) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e: Error) => errors.push(e.message));
  if (c.inject) await page.addInitScript({ content: `window.__ldIndex = ${JSON.stringify(c.index)};` });
  await page.goto(`${pathToFileURL(html).href}?${c.query}`);
  await page.waitForSelector('#app[data-ready="true"]', { timeout: 60_000 });
  // a bundle from before provisional layouts (a --baseline) draws ELK's layout first: settled = first paint
  const settles = readFileSync(bundleOf(html), 'utf8').includes('ld:settled');
  if (settles) await page.waitForSelector('#app[data-layout="settled"]', { timeout: 60_000 });
  // page code goes in as a string: tsx would wrap a function's inner helpers in its own __name
  const m: { first: number; settled: number; index: number; layout: number; render: number; nodes: number; modules: number; bytes: number } = await page.evaluate(`(() => {
    const d = (n) => performance.getEntriesByName(n, 'measure')[0].duration;
    const h = window.__harness.index;
    const settled = performance.getEntriesByName('ld:settled', 'measure')[0];
    return { first: d('ld:first-paint'), settled: settled ? settled.duration : d('ld:first-paint'), index: d('ld:index'), layout: d('ld:layout'), render: d('ld:render'), nodes: h.nodes.length, modules: h.modules.length, bytes: JSON.stringify(h).length };
  })()`);
  const expand: number[] = [];
  const expandSettled: (number | undefined)[] = [];
  const expandParts: { layout: number; render: number }[] = [];
  for (let i = 0; i < (c.expand ? CHAIN.length : 0); i++) {
    if (pauseMs) await new Promise((res) => setTimeout(res, pauseMs));
    const settledBefore: number = await page.evaluate(`performance.getEntriesByName('ld:expand-settled', 'measure').length`);
    await page.click(`[data-key="m:${CHAIN[i]}"]`);
    // polled from here: waitForFunction would eval inside the page, which its CSP forbids
    const until = Date.now() + 30_000;
    while ((await page.evaluate(`performance.getEntriesByName('ld:expand', 'measure').length`)) < i + 1) {
      if (Date.now() > until) throw new Error(`${c.name}: expanding ${CHAIN[i]} never finished`);
      await new Promise((res) => setTimeout(res, 10));
    }
    expand.push(await page.evaluate(`performance.getEntriesByName('ld:expand', 'measure')[${i}].duration`));
    expandParts.push(await page.evaluate(`(() => {
      const last = (n) => { const e = performance.getEntriesByName(n, 'measure'); return e[e.length - 1].duration; };
      return { layout: last('ld:layout'), render: last('ld:render') };
    })()`));
    // a build that draws an expansion ELK is slow with from an interim layout first: until ELK's is drawn
    // in its place (ld:expand-settled; the expansion is then 'provisional' until it)
    // (read in this order: the page measures ld:expand-settled before it marks the layout settled)
    const provisional = (await page.evaluate(`document.querySelector('#app').dataset.layout`)) === 'provisional';
    const settledCount = () => page.evaluate(`performance.getEntriesByName('ld:expand-settled', 'measure').length`);
    if (provisional || (await settledCount()) > settledBefore) {
      while ((await settledCount()) <= settledBefore) {
        if (Date.now() > until) throw new Error(`${c.name}: ELK's layout of ${CHAIN[i]} was never drawn`);
        await new Promise((res) => setTimeout(res, 10));
      }
      expandSettled.push(await page.evaluate(`(() => { const e = performance.getEntriesByName('ld:expand-settled', 'measure'); return e[e.length - 1].duration; })()`));
    } else expandSettled.push(undefined);
  }
  // an edit and its undo as the view receives them: a patch (this build) or a whole init (a build from before patches)
  const redraw: number[] = [];
  const redrawSettled: number[] = [];
  const parts: Record<string, number | undefined>[] = [];
  if (c.edit) {
    const patches = readFileSync(bundleOf(html), 'utf8').includes('ld:patched');
    for (const step of [c.edit.edit, c.edit.undo]) {
      const n = redraw.length;
      const measure = patches ? 'ld:patched' : 'ld:first-paint';
      const msg = patches ? { type: 'patch', patch: step.patch } : { type: 'init', graphJson: step.json, modelName: 'model.onnx', modelPath: '/models/model.onnx' };
      const t0: number = await page.evaluate(`(() => { window.postMessage(${JSON.stringify(msg)}, '*'); return performance.now(); })()`);
      const until = Date.now() + 60_000;
      while ((await page.evaluate(`performance.getEntriesByName('${measure}', 'measure').length`)) < (patches ? n + 1 : n + 2)) {
        if (Date.now() > until) throw new Error(`${c.name}: the edit was never drawn`);
        await new Promise((res) => setTimeout(res, 10));
      }
      // from posting the message (its structured clone included) to the frame that shows the result
      const endOf = (name: string) => `(() => { const e = performance.getEntriesByName('${name}', 'measure'); const m = e[e.length - 1]; return m.startTime + m.duration; })()`;
      const end: number = await page.evaluate(endOf(measure));
      redraw.push(end - t0);
      // a build that draws an edit from an interim layout first: until ELK's layout is drawn in its place
      if (settles && patches && readFileSync(bundleOf(html), 'utf8').includes('ld:patch-settled')) {
        while ((await page.evaluate(`performance.getEntriesByName('ld:patch-settled', 'measure').length`)) < n + 1) {
          if (Date.now() > until) throw new Error(`${c.name}: ELK's layout of the edit was never drawn`);
          await new Promise((res) => setTimeout(res, 10));
        }
        redrawSettled.push((await page.evaluate(endOf('ld:patch-settled'))) - t0);
      }
      if (patches) {
        // the page's own measures of the redraw's parts: ld:patch:* of this build (before the edit
        // redrew in place: model, dom, show = ELK layout + render, panels)
        parts.push(await page.evaluate(`(() => {
          const r = (m) => Math.round(m.duration * 10) / 10;
          const out = {};
          for (const m of performance.getEntriesByType('measure')) if (m.name.startsWith('ld:patch:')) out[m.name.slice(9)] = r(m);
          if (out.show !== undefined) for (const n of ['ld:layout', 'ld:render']) { const e = performance.getEntriesByName(n, 'measure'); out[n.slice(3)] = r(e[e.length - 1]); }
          return out;
        })()`));
      }
    }
  }
  if (errors.length) throw new Error(`${c.name} (${html}): page errors: ${errors.join('; ')}`);
  await page.close();
  return { ...m, expand, expandSettled, expandParts, redraw, redrawSettled, redrawParts: parts };
}

/** The webview bundle a harness page loads. */
function bundleOf(html: string): string {
  return html.includes('/out/harness/baseline-') ? join(html, '../webview.js') : join(ROOT, 'dist/webview.js');
}

/**
 * A copy of the dev harness page that loads `bundle` instead of dist/webview.js (everything else
 * the same), under out/harness/baseline-PID/: a folder per run, as two benches at once would
 * otherwise load each other's baseline.
 */
function baselineHarness(bundle: string): string {
  if (!existsSync(bundle)) throw new Error(`--baseline ${bundle}: no such file (a copy of an older dist/webview.js)`);
  const dir = join(ROOT, `out/harness/baseline-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(bundle, join(dir, 'webview.js'));
  const html = readFileSync(join(ROOT, 'webview-ui/dev/harness.html'), 'utf8')
    .replace('href="harness-theme.css"', 'href="../../../webview-ui/dev/harness-theme.css"')
    .replace('href="../../dist/webview.css"', 'href="../../../dist/webview.css"')
    .replace('src="../../out/harness/harness.js"', 'src="../harness.js"')
    .replace('src="../../dist/webview.js"', 'src="webview.js"');
  if (!html.includes('src="webview.js"')) throw new Error('webview-ui/dev/harness.html changed: --baseline cannot point it at another bundle');
  writeFileSync(join(dir, 'harness.html'), html);
  return join(dir, 'harness.html');
}

/**
 * Time to first paint at module level (the page's ld:first-paint measure, ms) of `index` in the dev
 * harness, one fresh page per run, in headless Chromium: for other benchmarks (bench/xl.ts).
 */
export async function firstPaintOf(index: GraphIndex, runs: number): Promise<{ runs: number[]; layoutMs: number[] }> {
  if (!existsSync(join(ROOT, 'dist/webview.js'))) throw new Error('dist/webview.js is missing: run npm run build first');
  if (!existsSync(join(ROOT, 'test/e2e/node_modules/playwright-core'))) throw new Error('playwright-core is missing: run bash test/e2e/setup.sh');
  const { chromium } = createRequire(join(ROOT, 'test/e2e/package.json'))('playwright-core');
  await build({ entryPoints: [join(ROOT, 'webview-ui/dev/harness.ts')], outfile: join(ROOT, 'out/harness/harness.js'), bundle: true, format: 'iife', platform: 'browser', target: 'es2022', logLevel: 'warning' });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--allow-file-access-from-files'],
  });
  const out = { runs: [] as number[], layoutMs: [] as number[] };
  try {
    for (let r = 0; r < runs; r++) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e: Error) => errors.push(e.message));
      await page.addInitScript({ content: `window.__ldIndex = ${JSON.stringify(index)};` });
      await page.goto(`${pathToFileURL(join(ROOT, 'webview-ui/dev/harness.html')).href}?scores=all`);
      await page.waitForSelector('#app[data-ready="true"]', { timeout: 120_000 });
      const m: { first: number; layout: number } = await page.evaluate(`(() => {
        const d = (n) => performance.getEntriesByName(n, 'measure')[0].duration;
        return { first: d('ld:first-paint'), layout: d('ld:layout') };
      })()`);
      if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
      out.runs.push(round(m.first));
      out.layoutMs.push(round(m.layout));
      await page.close();
    }
  } finally {
    await browser.close();
  }
  return out;
}

// bench/xl.ts imports this file for firstPaintOf: the benchmark itself runs only when started directly
if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
