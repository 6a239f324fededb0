// The built distillation chart (dist/distillChart.js + .css) in headless Chromium under the CSP the
// extension serves, driven through its dev harness (webview-ui/dev/distill-harness.html) with a real
// trainer run's events: what a user sees while a run starts, trains, resumes, finishes or fails.
// Needs `npm run build` and Chromium + playwright-core (scripts/setup.sh); skipped without them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { ChartSnapshot, ToChart } from '../src/protocol/distillChart';
import type { TrainerEvent } from '../src/core/distill/events';

const ROOT = resolve(__dirname, '..');
const PLAYWRIGHT = join(ROOT, 'test/e2e/node_modules/playwright-core');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const missing = !existsSync(PLAYWRIGHT) ? 'playwright-core (bash test/e2e/setup.sh)' : !existsSync(CHROMIUM) ? 'chromium' : !existsSync(join(ROOT, 'dist/distillChart.js')) ? 'dist/distillChart.js (npm run build)' : '';
const skip = missing ? `needs ${missing}` : false;

const EVENTS: TrainerEvent[] = readFileSync(join(ROOT, 'test/fixtures/distill/events-resumed.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l));

/* eslint-disable @typescript-eslint/no-explicit-any */
let browser: any;
let page: any;
const problems: string[] = [];

const snapshot = (): Promise<ChartSnapshot | undefined> => page.evaluate(() => (window as any).__chartSnapshot);
const text = (sel: string): Promise<string> => page.evaluate((s: string) => document.querySelector(s)?.textContent ?? '', sel);
const feed = (messages: ToChart[]): Promise<void> => page.evaluate((m: ToChart[]) => (window as any).__chartFeed(m), messages);

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

before(async () => {
  if (missing) return;
  await build({ entryPoints: [join(ROOT, 'webview-ui/dev/distill-harness.ts')], outfile: join(ROOT, 'out/harness/distill-harness.js'), bundle: true, format: 'iife', platform: 'browser', target: 'es2022', logLevel: 'warning' });
  const { chromium } = createRequire(join(ROOT, 'test/e2e/package.json'))('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--allow-file-access-from-files'],
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('console', (m: any) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e: Error) => problems.push(e.message));
  await page.goto(`${pathToFileURL(join(ROOT, 'webview-ui/dev/distill-harness.html')).href}?theme=dark&file=/runs/r1/trainer/events.jsonl`);
  await until(() => page.evaluate(() => (window as any).__chartReady), (v) => v === true, 'the chart to say ready');
});

after(async () => {
  await browser?.close();
});

test('a run that has not started: the chart says it is waiting for the events file', { skip }, async () => {
  await feed([{ type: 'file', exists: false }]);
  const empty = await until(() => text('.dc-empty'), (t) => t.includes('does not exist yet'), 'the missing-file note');
  assert.equal(empty, 'Waiting for the trainer to start… (/runs/r1/trainer/events.jsonl does not exist yet)');
  const s = await snapshot();
  assert.equal(s!.empty, true);
  assert.equal(s!.status, 'waiting for the trainer to start…');
});

test('live: evaluations before the first step show the teacher line; then steps, the resume and the end', { skip }, async () => {
  const firstStep = EVENTS.findIndex((e) => e.event === 'step');
  await feed([{ type: 'file', exists: true, mtimeMs: Date.now() }, { type: 'events', events: EVENTS.slice(0, firstStep), reset: false }]);
  let s = await until(snapshot, (v) => v?.points['metric.FID'] === 1, 'the step-0 evaluation');
  assert.equal(s!.empty, true);
  assert.match(await text('.dc-empty'), /^Waiting for the first step…/);
  assert.ok(Math.abs(s!.teacher.FID - 62.39968143046406) < 1e-9);
  assert.equal(await page.evaluate(() => document.querySelectorAll('.dc-ref').length), 3, 'a dashed teacher line per metric chart');

  // the rest arrives in small slices, as a live run appends
  for (let i = firstStep; i < EVENTS.length; i += 7) await feed([{ type: 'events', events: EVENTS.slice(i, i + 7), reset: false }]);
  s = await until(snapshot, (v) => v?.state === 'done', 'the done line');
  assert.equal(s!.empty, false);
  assert.equal(s!.points['loss.total'], 42, 'steps redone after the resume are drawn once');
  assert.equal(s!.drawn['loss.total'], 42);
  assert.deepEqual(s!.resumes, [30]);
  assert.equal(s!.bestStep, 10);
  assert.equal(s!.status, 'done: exported /tmp/chartrun-work/out.onnx');
  assert.match(await text('.dc-facts'), /resumed@30 \(3 redone points replaced\)/);
  assert.equal(await page.evaluate(() => document.querySelectorAll('.dc-marker.m-before').length), 3, 'the before value is marked on each metric chart');

  // hovering the loss chart reads out every part at the nearest logged step (the resumed run's values)
  const box = await page.locator('.dc-capture').first().boundingBox();
  await page.mouse.move(box.x + box.width * (36 / 80), box.y + box.height / 2);
  const tip = await until(() => text('.dc-tip:not([hidden])'), (t) => t !== '', 'the hover read-out');
  assert.match(tip, /^step 36/);
  assert.match(tip, /total0\.1558/);

  // the output path opens the exported model through the host
  await page.click('.dc-output a');
  const posted = await page.evaluate(() => (window as any).__chartPosted.filter((m: any) => m.type === 'openOutput'));
  assert.deepEqual(posted, [{ type: 'openOutput', path: '/tmp/chartrun-work/out.onnx' }]);
  assert.deepEqual(problems, [], 'no errors and no CSP violations');
});

test('a failed run shows its error where the chart would be, and in the header', { skip }, async () => {
  await feed([{ type: 'events', reset: true, events: [EVENTS[0], { event: 'error', message: 'CUDA out of memory. Tried to allocate 2.00 GiB' }] }]);
  const s = await until(snapshot, (v) => v?.state === 'error', 'the error');
  assert.equal(s!.points['loss.total'], undefined, 'the reset dropped the previous run');
  assert.equal(s!.status, 'error: CUDA out of memory. Tried to allocate 2.00 GiB');
  assert.equal(await text('[role=alert]'), 'CUDA out of memory. Tried to allocate 2.00 GiB');
  assert.match(await text('.dc-empty'), /failed before its first step/);
});

test('a 10k-step run is downsampled for drawing, not truncated', { skip }, async () => {
  const events: TrainerEvent[] = [{ event: 'start', steps: 10_000, device: 'cuda:0' }];
  for (let i = 1; i <= 10_000; i++) events.push({ event: 'step', step: i, loss: 1 / Math.sqrt(i) + (i === 7_000 ? 3 : 0), loss_task: 0.5, lr: 1e-4, samples_per_s: 900 });
  await feed([{ type: 'events', reset: true, events: events.slice(0, 5000) }, { type: 'events', reset: false, events: events.slice(5000) }]);
  const s = await until(snapshot, (v) => v?.step === 10_000, 'the last step');
  assert.equal(s!.points['loss.total'], 10_000);
  const width = await page.evaluate(() => (document.querySelector('.dc-capture') as SVGRectElement).width.baseVal.value);
  assert.ok(s!.drawn['loss.total'] <= 4 * Math.round(width), `${s!.drawn['loss.total']} points drawn over ${width} px`);
  assert.equal(s!.status, 'running: step 10000/10000');
  assert.deepEqual(problems, []);
});

test('a running run whose file stopped changing minutes ago asks whether the trainer is still running', { skip }, async () => {
  const now = Date.now();
  await feed([
    { type: 'events', reset: true, events: [EVENTS[0], { event: 'step', step: 1, loss: 0.3 }] },
    // the host's clock is an hour ahead of this one (a remote extension host): the age still comes out right
    { type: 'file', exists: true, mtimeMs: now + 3_600_000 - 5 * 60_000, hostNowMs: now + 3_600_000 },
  ]);
  await until(() => text('.dc-facts'), (t) => t.includes('last event'), 'the stale note');
  assert.match(await text('.dc-facts'), /last event5 min ago: is the trainer still running\?/);
  await feed([{ type: 'file', exists: true, mtimeMs: now + 3_600_000, hostNowMs: now + 3_600_000 }]);
  await until(() => text('.dc-facts'), (t) => !t.includes('last event'), 'the note to go once the file changes');
});

test('a trainer the host found gone: the header says the run stopped and how to continue it', { skip }, async () => {
  await feed([
    { type: 'events', reset: true, events: [{ event: 'start', steps: 80, device: 'cpu', pid: 4242, host: 'gpu-7' }, { event: 'step', step: 1, loss: 0.3 }, { event: 'step', step: 2, loss: 0.25 }] },
    { type: 'file', exists: true, mtimeMs: Date.now(), hostNowMs: Date.now(), trainerGone: true },
  ]);
  const s = await until(snapshot, (v) => v?.state === 'lost', 'the stopped state');
  assert.match(s!.status, /^stopped at step 2\/\d+: the trainer \(pid 4242\) stopped without a final event: it was killed or crashed; resume continues/);
  assert.equal(s!.points['loss.total'], 2, 'the steps it made stay on the chart');
  assert.match(await text('[role=alert]'), /^The trainer \(pid 4242\) stopped without a final event: it was killed or crashed\. Resume the run \(Jobs view, or ld-surgeon distill --resume\)/);
  assert.deepEqual(problems, []);
});
