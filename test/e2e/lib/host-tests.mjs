// Runs test/e2e/suite (mocha) inside code-server's real Node extension host: the same contract as
// @vscode/test-electron (a module exporting run()), started through the workbench URL's `payload`
// (extensionDevelopmentPath + extensionTestsPath), which is how VS Code's own browser integration tests run.
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, remoteUri } from './browser.mjs';
import { E2E_DIR } from './server.mjs';

/**
 * Bundles the suite to RUN/suite/index.js; mocha resolves from test/e2e/node_modules through a link.
 * `grep` (mocha's grep) keeps only the tests whose full title matches; it is baked into the bundle because the
 * extension host is started by the workbench, which passes no arguments or environment through.
 */
export async function bundleSuite(repo, runDir, { grep } = {}) {
  const outDir = join(runDir, 'suite');
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(E2E_DIR, 'suite', 'index.ts')],
    outfile: join(outDir, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'inline',
    logLevel: 'warning',
    external: ['vscode', 'mocha', 'onnxruntime-node'],
    define: { LD_SURGEON_E2E_REPO: JSON.stringify(repo), LD_SURGEON_E2E_GREP: JSON.stringify(grep ?? '') },
  });
  // Node resolves `require('mocha')` from RUN/suite upwards: RUN/node_modules → test/e2e/node_modules
  const link = join(runDir, 'node_modules');
  if (!existsSync(link)) symlinkSync(join(E2E_DIR, 'node_modules'), link, 'dir');
  return join(outDir, 'index.js');
}

/**
 * Opens a workbench on `workspace` whose extension host loads the extension from `extensionPath` and runs the
 * suite. Resolves with { exitCode, results } once the suite calls back (or the timeout hits).
 */
export async function runHostTests({ server, runDir, extensionPath, suitePath, workspace, timeoutMs, log }) {
  const resultsFile = join(runDir, 'suite', 'results.json');
  rmSync(resultsFile, { force: true });
  const context = await launchBrowser(join(runDir, 'chromium-host'));
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    let resolveExit;
    const exited = new Promise((r) => (resolveExit = r));
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const text = (Array.isArray(args) ? args : [args]).map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
      log(`[host ${type}] ${text}`);
    });
    await page.exposeFunction('codeAutomationExit', (code) => resolveExit(code));
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remoteUri(server.port, extensionPath)],
      ['extensionTestsPath', remoteUri(server.port, suitePath)],
      ['skipWelcome', 'true'],
    ]);
    const url = `${server.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`;
    // the workbench is heavy: on a busy 2-core machine its first load can take minutes
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 180_000 });
    const exitCode = await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r('timeout'), timeoutMs)),
    ]);
    const results = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : undefined;
    if (exitCode === 'timeout') await page.screenshot({ path: join(runDir, 'host-timeout.png') }).catch(() => {});
    return { exitCode, results };
  } finally {
    await context.close();
  }
}
