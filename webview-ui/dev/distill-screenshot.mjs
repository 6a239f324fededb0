// Renders the distillation chart in headless Chromium from a real events.jsonl and saves a screenshot.
// Dev only; needs Debian's chromium and playwright-core (bash test/e2e/setup.sh installs both) and
// `npm run build` (dist/distillChart.js). The file's mtime is "now", so a finished run is not shown as stale.
//   node webview-ui/dev/distill-screenshot.mjs EVENTS.jsonl out.png [theme=dark|light] [hover=0.6] [width=1300]
//   node webview-ui/dev/distill-screenshot.mjs synthetic:10000 out.png     (a 10k-step run, timed)
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { chromium } = createRequire(join(root, 'test/e2e/package.json'))('playwright-core');

function syntheticRun(n) {
  const ev = [{ event: 'start', steps: n, device: 'cuda:0', device_name: 'NVIDIA H100 80GB HBM3', precision: 'bfloat16', eval_every: Math.round(n / 20) }];
  ev.push({ event: 'eval', step: 0, metrics: { FID: 40, latent_score: 6 }, teacher: { FID: 21, latent_score: 0 }, best: true });
  let seed = 1;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let s = 1; s <= n; s++) {
    const base = 0.02 + 0.4 / Math.sqrt(s);
    const noise = 1 + (rnd() - 0.5) * 0.3;
    ev.push({ event: 'step', step: s, loss: base * noise, loss_task: base * 0.6 * noise, loss_out: base * 0.25 * noise, loss_feat: base * 0.15, lr: 1e-4 * Math.min(1, s / 500), samples_per_s: 900 + rnd() * 60 });
    if (s % Math.round(n / 20) === 0) ev.push({ event: 'eval', step: s, metrics: { FID: 21 + 19 / Math.sqrt(s / 100 + 1), latent_score: 6 / Math.sqrt(s / 100 + 1) }, best: true });
  }
  return ev;
}

async function main() {
  const [source, out = 'distill.png', ...rest] = process.argv.slice(2);
  const opt = Object.fromEntries(rest.map((a) => a.split('=')));
  await build({ entryPoints: [join(root, 'webview-ui/dev/distill-harness.ts')], outfile: join(root, 'out/harness/distill-harness.js'), bundle: true, format: 'iife', platform: 'browser', target: 'es2022', logLevel: 'warning' });
  const events = source.startsWith('synthetic:')
    ? syntheticRun(Number(source.slice('synthetic:'.length)))
    : readFileSync(resolve(source), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--allow-file-access-from-files'],
  });
  const page = await browser.newPage({ viewport: { width: Number(opt.width ?? 1300), height: Number(opt.height ?? 1000) }, deviceScaleFactor: 1 });
  const problems = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`[pageerror] ${e.message}`));
  const q = new URLSearchParams({ theme: opt.theme ?? 'dark', title: opt.title ?? 'Distill: digits-cond unet.pruned.onnx (up_blocks.2.attentions.0 removed)' });
  await page.goto(`${pathToFileURL(join(root, 'webview-ui/dev/distill-harness.html')).href}?${q}`);
  await page.waitForFunction(() => window.__chartReady === true);
  const t0 = Date.now();
  const messages = [];
  for (let i = 0; i < events.length; i += 5000) messages.push({ type: 'events', events: events.slice(i, i + 5000), reset: i === 0 });
  messages.push({ type: 'file', exists: true, mtimeMs: Date.now() });
  await page.evaluate((m) => window.__chartFeed(m), messages);
  await page.waitForFunction((n) => (window.__chartSnapshot?.points['loss.total'] ?? 0) + (window.__chartSnapshot?.state === 'waiting' ? 0 : 1) > 0 && window.__chartSnapshot?.step >= n, events.filter((e) => e.event === 'step').at(-1)?.step ?? 0);
  const replayMs = Date.now() - t0;
  if (opt.hover) {
    const box = await page.locator('.dc-capture').first().boundingBox();
    await page.mouse.move(box.x + box.width * Number(opt.hover), box.y + box.height / 2);
    await page.waitForTimeout(100);
  }
  await page.screenshot({ path: out, fullPage: opt.full === '1' });
  const snap = await page.evaluate(() => window.__chartSnapshot);
  console.log(JSON.stringify({ events: events.length, replay_to_render_ms: replayMs, status: snap.status, points: snap.points, drawn: snap.drawn }));
  if (problems.length) console.log(problems.join('\n'));
  await browser.close();
}

await main();
