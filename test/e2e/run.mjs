#!/usr/bin/env node
// Tests the packaged extension in a real VS Code (code-server 4.100.3) driven by headless Chromium:
//   1. build dist/ and package the VSIX, install it into a code-server whose state lives in .e2e/run/ (a link to
//      this run's own folder under .e2e/runs/, so runs at the same time in one tree keep apart)
//   2. extension-host tests: test/e2e/suite (mocha) inside the real Node extension host
//   3. UI tests: test/e2e/ui (explorer context menus, the graph webview's DOM, the LD Surgeon views),
//      with screenshots in .e2e/screenshots/
// Ends with the line `N passed, N failed` and exits non-zero on any failure.
//
// Usage: node test/e2e/run.mjs [--no-build] [--host-only | --ui-only] [--grep PATTERN] [--keep]
//   --no-build  reuse dist/ (still re-packages the VSIX)   --keep  leave .e2e/run/ for inspection
//   --grep PATTERN  only the host tests whose full title matches (mocha's grep, a regular expression; e.g.
//                   `--host-only --grep architectures` runs that suite alone, after the ~1.5 min of packaging and start)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, readFileSync, appendFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { runFolders, startRun } from './lib/run-folders.mjs';
import { fileURLToPath } from 'node:url';

/** The last n lines of a log file (none when it does not exist). */
function tailLines(file, n) {
  return existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n) : [];
}

const E2E = dirname(fileURLToPath(import.meta.url));
const REPO = join(E2E, '..', '..');
const OUT = join(REPO, '.e2e');
// Every run has its own folder, .e2e/runs/<pid>-<time>/{run,screenshots}: two runs in one working tree (two people,
// two terminals) no longer delete each other's code-server state. .e2e/run and .e2e/screenshots link to the latest
// run's, where people and CI look; a run's folder is removed by a later run once its process is gone.
const { run: RUN, screenshots: SHOTS } = runFolders(OUT);
const argv = process.argv.slice(2);
const args = new Set(argv);
/** `--grep PATTERN` / `--grep=PATTERN`: the host tests to run (all when absent) */
function grepArg() {
  const i = argv.findIndex((a) => a === '--grep' || a.startsWith('--grep='));
  if (i < 0) return undefined;
  const value = argv[i].startsWith('--grep=') ? argv[i].slice('--grep='.length) : argv[i + 1];
  if (!value || value.startsWith('--')) throw new Error('--grep needs a pattern: node test/e2e/run.mjs --host-only --grep architectures');
  new RegExp(value); // a bad pattern fails here, not inside the extension host
  return value;
}
const GREP = grepArg();
// the pipeline the tests work on (a copy of it); overridable to try the harness on another pipeline folder
const EXAMPLE = process.env.LD_SURGEON_E2E_EXAMPLE || join(REPO, 'examples', 'digits-cond');
// conditions set, so Score Operators on the conditional example does not stop at the conditions pick
const E2E_SCORING = {
  'ldSurgeon.samples': 4, 'ldSurgeon.steps': 3, 'ldSurgeon.granularity': 'block', 'ldSurgeon.executionProvider': 'cpu',
  'ldSurgeon.conditions': { source: 'default' },
};
const started = Date.now();
const timings = [];

function log(msg) {
  const line = `[e2e ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}`;
  console.log(line);
  if (existsSync(RUN)) appendFileSync(join(RUN, 'e2e.log'), line + '\n');
}

async function timed(name, fn) {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
}

function sh(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: REPO, encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status ?? r.signal}):\n${(r.stdout ?? '').slice(-4000)}\n${(r.stderr ?? '').slice(-4000)}`);
  }
  return r.stdout ?? '';
}

/**
 * The VSIX for this machine only: the shipped .vscodeignore with onnxruntime-node's binaries narrowed to this
 * platform (vsce keeps a file when any "!" pattern matches, so the allow-list line itself is rewritten).
 */
function e2eIgnoreFile() {
  const base = readFileSync(join(REPO, '.vscodeignore'), 'utf8');
  const allBinaries = '!node_modules/onnxruntime-node/bin/**';
  if (!base.includes(allBinaries)) throw new Error(`.vscodeignore no longer has the line ${allBinaries}; update e2eIgnoreFile() in ${import.meta.url}`);
  const file = join(RUN, 'vscodeignore');
  writeFileSync(file, base.replace(allBinaries, `!node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/**`));
  return file;
}

/**
 * A user's own pipeline as the UI tests bring it: a copy of digits-cond whose tokenizer/ is in the Hugging Face
 * fast layout (tokenizer.json, as transformers/Optimum save it: the same tokenizer, from the unit tests' fixture),
 * and a prompts file beside it for the conditions pick.
 */
function addUserPipeline(ws) {
  const p = join(ws, 'digits-hf');
  cpSync(join(ws, 'digits-cond'), p, { recursive: true });
  rmSync(join(p, 'tokenizer'), { recursive: true });
  cpSync(join(REPO, 'test', 'fixtures', 'tokenizers', 'digits-wordlevel'), join(p, 'tokenizer'), { recursive: true, filter: (src) => !src.endsWith('reference.json') });
  writeFileSync(join(ws, 'prompts.txt'), '# the digits to score with\na digit seven\nA Digit, two\n');
}

function freshWorkspace(name, { userPipeline = false } = {}) {
  const ws = join(RUN, name);
  const example = EXAMPLE;
  mkdirSync(ws, { recursive: true });
  if (existsSync(example)) {
    // a copy: tests score, prune and write next to the models; the committed example stays untouched
    cpSync(example, join(ws, 'digits-cond'), { recursive: true, filter: (src) => !/\.(ldscores\.json|pruned\.onnx|prune\.json)$/.test(src) });
    if (userPipeline) addUserPipeline(ws);
  }
  // scoring settings small enough for a 2-core CI machine (the shipped defaults are 16 samples, the pipeline's steps)
  mkdirSync(join(ws, '.vscode'), { recursive: true });
  writeFileSync(join(ws, '.vscode', 'settings.json'), JSON.stringify(E2E_SCORING, null, 2));
  return ws;
}

let passed = 0;
let failed = 0;
const failures = [];
let server;

async function main() {
  if (!existsSync(join(E2E, 'node_modules', '.bin', 'code-server')) || !existsSync(join(E2E, 'node_modules', 'playwright-core'))) {
    log('test/e2e/node_modules is missing: running test/e2e/setup.sh');
    await timed('setup', () => sh('bash', [join(E2E, 'setup.sh')], { stdio: 'inherit' }));
  }
  // imported only now: they need test/e2e/node_modules
  const { serverLayout, installExtension, startServer } = await import('./lib/server.mjs');
  const { bundleSuite, runHostTests } = await import('./lib/host-tests.mjs');
  const { runUiTests } = await import('./ui/index.mjs');

  startRun(OUT, RUN, SHOTS);
  log(`run folder ${RUN}`);
  if (!existsSync(EXAMPLE)) log(`warning: ${EXAMPLE} is missing; the model tests will fail`);

  if (!args.has('--no-build')) {
    log('building dist/');
    await timed('build', () => sh(process.execPath, ['scripts/build.mjs']));
  }
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  const vsix = join(RUN, `${pkg.name}-${pkg.version}.vsix`);
  log('packaging the VSIX');
  await timed('package', () => sh(process.execPath, [join(REPO, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package',
    // README images are relative links: keep them so (no repository URL to rewrite them against)
    '--skip-license', '--allow-missing-repository', '--no-rewrite-relative-links', '--ignoreFile', e2eIgnoreFile(), '--out', vsix]));

  const layout = serverLayout(RUN);
  log(`installing ${vsix}`);
  await timed('install', () => installExtension(layout, vsix));
  // ms-python.python cannot be downloaded here; a stand-in with its interpreter API lets the environment check's
  // "the Python extension's selected interpreter" path run against a real extension host
  const standin = join(RUN, 'ms-python.python-standin.vsix');
  await timed('package python stand-in', () => sh(process.execPath, [join(REPO, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package',
    '--skip-license', '--allow-missing-repository', '--out', standin], { cwd: join(REPO, 'test', 'e2e', 'fixtures', 'python-extension-standin') }));
  await timed('install python stand-in', () => installExtension(layout, standin));
  const installed = readdirSync(layout.extensions).find((d) => d.startsWith(`${pkg.publisher}.${pkg.name}-`));
  if (!installed) throw new Error(`the VSIX did not install into ${layout.extensions}`);
  const extensionPath = join(layout.extensions, installed);

  const hostWs = freshWorkspace('ws-host');
  const uiWs = freshWorkspace('ws-ui', { userPipeline: true });
  server = await timed('server start', () => startServer(layout, uiWs));
  log(`code-server on ${server.url} (pgid ${server.pid})`);

  if (!args.has('--ui-only')) {
    const suitePath = await bundleSuite(REPO, RUN, { grep: GREP });
    log(`extension-host tests${GREP ? ` matching /${GREP}/` : ''}`);
    // the extension host's console (mocha's spec reporter, stack traces) goes to a file; results are summarised here
    const hostLog = join(RUN, 'host.log');
    const { exitCode, results } = await timed('host tests', () =>
      runHostTests({ server, runDir: RUN, extensionPath, suitePath, workspace: hostWs, timeoutMs: 25 * 60_000, log: (l) => appendFileSync(hostLog, l + '\n') }));
    for (const t of results?.tests ?? []) log(`  ${t.state === 'passed' ? '✓' : '✗'} ${t.title}${t.durationMs !== undefined ? ` (${t.durationMs}ms)` : ''}`);
    log(`extension-host console: ${hostLog}`);
    if (results && !results.done) {
      // the suite stopped part-way (the timeout): name the test it was in, and show the end of the host's console
      failed++;
      failures.push(`extension-host suite did not finish (exit ${exitCode}): ${results.running ? `it was running "${results.running}"` : 'between tests'}; the host console ends:\n    ${tailLines(hostLog, 25).join('\n    ')}`);
    }
    if (!results) {
      failed++;
      failures.push(`extension-host suite did not report (exit ${exitCode}); the host console ends:\n    ${tailLines(hostLog, 25).join('\n    ')}`);
    } else {
      if (GREP && !results.tests.length) {
        failed++;
        failures.push(`no host test matches --grep ${GREP}`);
      }
      for (const t of results.tests) {
        if (t.state === 'passed') passed++;
        else {
          failed++;
          failures.push(`host: ${t.title}\n    ${String(t.error).split('\n').slice(0, 6).join('\n    ')}`);
        }
      }
      if (results.done && exitCode !== 0 && results.failed === 0) {
        failed++;
        failures.push(`extension-host suite exited with ${exitCode} although no test failed`);
      }
    }
  }

  if (!args.has('--host-only')) {
    log('UI tests');
    const ui = await timed('ui tests', () => runUiTests({ server, runDir: RUN, workspace: uiWs, screenshots: SHOTS, log }));
    passed += ui.passed;
    failed += ui.failed;
    failures.push(...ui.failures.map((f) => `ui: ${f}`));
  }
}

let crashed = false;
try {
  await main();
} catch (e) {
  crashed = true;
  failed++;
  failures.push(`harness: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
} finally {
  if (server) await server.stop();
}
if (failures.length) console.log(`\nFailures:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
log(`timings: ${timings.join(', ')}; total ${((Date.now() - started) / 1000).toFixed(1)}s`);
if (!args.has('--keep') && !failed && !crashed) {
  // keep screenshots and the e2e log; drop the 300 MB of code-server state
  for (const d of ['data', 'exts', 'xdg', 'tmp', 'chromium-host', 'chromium-ui', 'ws-host', 'ws-ui']) rmSync(join(RUN, d), { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
