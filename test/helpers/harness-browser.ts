// Headless Chromium over the webview dev harness (webview-ui/dev/harness.html), for the tests that render the
// built webview under the extension's CSP. Needs `npm run build` and Chromium + playwright-core (scripts/setup.sh).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(__dirname, '..', '..');
const PLAYWRIGHT = join(ROOT, 'test/e2e/node_modules/playwright-core');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** What is missing to run these tests ('' when nothing is): the tests skip with it as the reason. */
export const harnessMissing = !existsSync(PLAYWRIGHT) ? 'playwright-core (bash test/e2e/setup.sh)' : !existsSync(CHROMIUM) ? 'chromium' : !existsSync(join(ROOT, 'dist/webview.js')) ? 'dist/webview.js (npm run build)' : '';

/** Builds the harness page's script and starts Chromium (a playwright Browser). */
/* eslint-disable-next-line @typescript-eslint/no-explicit-any */
export async function launchHarnessBrowser(): Promise<any> {
  await build({ entryPoints: [join(ROOT, 'webview-ui/dev/harness.ts')], outfile: join(ROOT, 'out/harness/harness.js'), bundle: true, format: 'iife', platform: 'browser', target: 'es2022', logLevel: 'warning' });
  const { chromium } = createRequire(join(ROOT, 'test/e2e/package.json'))('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--allow-file-access-from-files'],
  });
}

/** Holds every message to the page's layout worker (ELK) until `window.__releaseLayouts()`: what is drawn meanwhile was drawn without it. */
/* eslint-disable-next-line @typescript-eslint/no-explicit-any */
export async function holdLayouts(page: any): Promise<void> {
  await page.evaluate(`(() => {
    const post = Worker.prototype.postMessage;
    const held = [];
    Worker.prototype.postMessage = function (...args) { held.push(() => post.apply(this, args)); };
    window.__releaseLayouts = () => { Worker.prototype.postMessage = post; for (const f of held.splice(0)) f(); };
  })()`);
}

/** What the page draws: items, groups and edges by key (edges by their ends), sorted. */
/* eslint-disable-next-line @typescript-eslint/no-explicit-any */
export async function drawnOnPage(page: any): Promise<{ items: string[]; groups: string[]; edges: string[] }> {
  return page.evaluate(`(() => ({
    items: [...document.querySelectorAll('g.item')].map((e) => e.getAttribute('data-key')).sort(),
    groups: [...document.querySelectorAll('g.group')].map((e) => e.getAttribute('data-key')).sort(),
    edges: [...document.querySelectorAll('path.edge')].map((e) => e.dataset.src + '>' + e.dataset.dst).sort(),
  }))()`);
}
