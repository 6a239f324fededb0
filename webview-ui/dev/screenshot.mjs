// Renders the harness in headless Chromium and saves a screenshot, after optional steps. Dev only.
// Needs Debian's chromium and playwright-core (bash test/e2e/setup.sh installs both).
//   node webview-ui/dev/screenshot.mjs 'theme=light&scores=all' out.png click=m:down_blocks.1 wait=800 shot=a.png
// Steps: click=<data-key> | clicksel=<css> | hover=<data-key> | type=<text> | key=<key> | wait=<ms> | shot=<png>
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { chromium } = createRequire(join(root, 'test/e2e/package.json'))('playwright-core');

export async function openHarness(query, viewport = { width: 1400, height: 900 }) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--allow-file-access-from-files'],
  });
  const page = await browser.newPage({ viewport });
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`[${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`[pageerror] ${e.message}`));
  const url = `${pathToFileURL(join(root, 'webview-ui/dev/harness.html')).href}?${query}`;
  await page.goto(url);
  await page.waitForSelector('#app[data-ready="true"]', { timeout: 30000 });
  return { browser, page, problems };
}

async function main() {
  const [query = '', out = 'harness.png', ...steps] = process.argv.slice(2);
  const { browser, page, problems } = await openHarness(query);
  for (const st of steps) {
    const i = st.indexOf('=');
    const cmd = st.slice(0, i);
    const arg = st.slice(i + 1);
    if (cmd === 'wait') await page.waitForTimeout(Number(arg));
    else if (cmd === 'click') await page.click(`[data-key="${arg}"]`);
    else if (cmd === 'clicksel') await page.click(arg);
    else if (cmd === 'hover') await page.hover(`[data-key="${arg}"]`);
    else if (cmd === 'type') await page.keyboard.type(arg);
    else if (cmd === 'key') await page.keyboard.press(arg);
    else if (cmd === 'shot') await page.screenshot({ path: arg });
    else throw new Error(`unknown step ${st}`);
  }
  await page.screenshot({ path: out });
  const perf = await page.evaluate(() => performance.getEntriesByType('measure').map((m) => `${m.name}=${m.duration.toFixed(0)}ms`));
  console.log(perf.join(' '));
  if (problems.length) console.log(problems.join('\n'));
  await browser.close();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
