// UI tests: what a user sees and clicks in the workbench (explorer context menus, the graph webview,
// the LD Surgeon views). Each step is a test; a failing step saves a screenshot and later steps still run
// when they do not depend on it.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchBrowser } from '../lib/browser.mjs';
import {
  closeMenu, contextMenu, contextMenuWith, explorerRow, openViewContainer, pickMenuItem, quickPickItem, runFromContextMenu, runFromPalette, viewRows,
  waitForWorkbench, webviewFrame, webviewFrameWithText,
} from './workbench.mjs';

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

export async function runUiTests({ server, runDir, workspace, screenshots, log }) {
  const results = { passed: 0, failed: 0, failures: [] };
  const context = await launchBrowser(join(runDir, 'chromium-ui'));
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  const shot = (name) => page.screenshot({ path: join(screenshots, `${name}.png`) });
  const done = new Set();

  async function step(name, fn, needs = []) {
    const missing = needs.filter((n) => !done.has(n));
    if (missing.length) {
      results.failed++;
      results.failures.push(`${name}: not run, it needs: ${missing.join(', ')}`);
      log(`  ✗ ${name} (skipped: needs ${missing.join(', ')})`);
      return;
    }
    const t0 = Date.now();
    try {
      await fn();
      done.add(name);
      results.passed++;
      log(`  ✓ ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    } catch (e) {
      results.failed++;
      results.failures.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      log(`  ✗ ${name}: ${e instanceof Error ? e.message : String(e)}`);
      await shot(`failed-${name.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => {});
      await page.keyboard.press('Escape').catch(() => {});
    }
  }

  try {
    await step('workbench opens the test workspace', async () => {
      await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`, { waitUntil: 'domcontentloaded', timeout: 180_000 });
      await waitForWorkbench(page);
      await explorerRow(page, 'digits-cond');
    });

    await step('pipeline folder has "Score Operators" in its context menu', async () => {
      const items = await contextMenuWith(page, await explorerRow(page, 'digits-cond'), 'Score Operators');
      await shot('explorer-pipeline-menu');
      await closeMenu(page);
      expect(items.includes('Score Operators'), `menu: ${items.join(' | ')}`);
      // a plain folder inside it is not a pipeline
      const sub = await contextMenu(page, await explorerRow(page, 'unet', ['digits-cond']));
      await closeMenu(page);
      expect(!sub.includes('Score Operators'), `unet/ is not a pipeline folder, yet its menu has Score Operators: ${sub.join(' | ')}`);
    }, ['workbench opens the test workspace']);

    await step('model context menu → Open Graph shows the graph webview', async () => {
      const row = await explorerRow(page, 'model.onnx', ['digits-cond', 'unet']);
      const items = await contextMenu(page, row);
      for (const want of ['Score Operators', 'Open Graph', 'Prune Model…']) expect(items.includes(want), `model.onnx menu lacks ${want}: ${items.join(' | ')}`);
      await pickMenuItem(page, 'Open Graph');
      const frame = await webviewFrame(page, 'svg.graph');
      // the layout runs in a worker: wait for the drawn blocks
      await frame.locator('svg.graph [data-key]').first().waitFor({ timeout: 120_000 });
      const text = await frame.evaluate(() => document.querySelector('svg.graph')?.textContent ?? '');
      await shot('graph-webview');
      for (const block of ['down_blocks.0', 'mid_block', 'up_blocks.0']) expect(text.includes(block), `the graph shows ${block}; its text starts: ${text.slice(0, 200)}`);
    }, ['workbench opens the test workspace']);

    await step('LD Surgeon view: Model tree lists the U-Net modules with totals', async () => {
      await openViewContainer(page, 'LD Surgeon');
      const rows = await viewRows(page, 'Model');
      await rows.filter({ hasText: 'model.onnx' }).first().waitFor({ timeout: 30_000 });
      const texts = await rows.allInnerTexts();
      await shot('model-tree');
      expect(texts.some((t) => /model\.onnx/.test(t) && /params/.test(t) && /FLOPs/.test(t)), `root row with totals: ${texts.join(' / ')}`);
      expect(texts.some((t) => t.includes('down_blocks.0')), `down_blocks.0 row: ${texts.join(' / ')}`);
    }, ['workbench opens the test workspace']);

    await step('Score Operators from the explorer runs a job and colours the graph by score', async () => {
      const row = await explorerRow(page, 'model.onnx', ['digits-cond', 'unet']);
      await contextMenu(page, row);
      await pickMenuItem(page, 'Score Operators');
      // while it runs: a status bar entry
      await page.locator('.statusbar-item', { hasText: 'LD Surgeon' }).first().waitFor({ timeout: 30_000 });
      await shot('scoring-running');
      await openViewContainer(page, 'LD Surgeon');
      const jobs = await viewRows(page, 'Jobs');
      await jobs.filter({ hasText: /Score: .*model\.onnx/ }).filter({ hasText: /done/ }).first().waitFor({ timeout: 5 * 60_000 });
      const frame = await webviewFrame(page, 'svg.graph');
      // blocks are painted (or carry a strip of their candidates' colours) by score
      const colouredMarks = () => [...document.querySelectorAll('svg.graph [data-key] *')].filter((e) => e instanceof SVGElement && e.style.fill).length;
      await frame.waitForFunction(colouredMarks, null, { timeout: 60_000 });
      const coloured = await frame.evaluate(colouredMarks);
      await shot('scored-graph');
      expect(coloured >= 5, `score-coloured marks in the graph: ${coloured}`);
      // the Model view: a block's candidates carry their scores
      const tree = await viewRows(page, 'Model');
      const mid = tree.filter({ hasText: /^mid_block/ }).first();
      if ((await mid.getAttribute('aria-expanded')) === 'false') await mid.locator('.monaco-tl-twistie').click();
      await tree.filter({ hasText: /resnets\.0.*score \d/ }).first().waitFor({ timeout: 30_000 });
      await shot('model-tree-scores');
    }, ['workbench opens the test workspace']);

    await step('tick two suggested prunes → Apply → the pruned pipeline appears in the explorer and opens', async () => {
      const frame = await webviewFrame(page, '.prunes .cand-row');
      // start from nothing (the savings budget may have picked some), then tick the two least important
      const clear = frame.locator('.prunes button', { hasText: 'Clear' }).first();
      if (await clear.isEnabled()) await clear.click();
      const boxes = frame.locator('.prunes .cand-row input[type=checkbox]');
      await boxes.nth(0).check();
      await boxes.nth(1).check();
      const apply = frame.locator('.prunes button', { hasText: 'Apply prune (2)' }).first();
      await apply.click();
      await shot('pruning');
      await openViewContainer(page, 'Explorer');
      await page.locator('.explorer-folders-view .monaco-list-row[aria-label^="digits-cond.pruned"]').first().waitFor({ timeout: 8 * 60_000 });
      // the pruned U-Net opens in its own graph editor
      await page.locator('.tabs-container .tab.active[aria-label*="model.onnx"]').first().waitFor({ timeout: 60_000 });
      await page.locator('.breadcrumbs-control .monaco-breadcrumb-item', { hasText: 'digits-cond.pruned' }).first().waitFor({ timeout: 60_000 });
      // two graphs are drawn now: the original (kept alive in its tab) and the pruned one
      const drawnGraphs = async () => {
        let n = 0;
        for (const f of page.frames()) if (await f.$('svg.graph [data-key]').catch(() => null)) n++;
        return n;
      };
      const deadline = Date.now() + 120_000;
      while ((await drawnGraphs()) < 2 && Date.now() < deadline) await page.waitForTimeout(500);
      await shot('pruned-model');
      expect((await drawnGraphs()) >= 2, 'the pruned model is drawn in its own graph editor');
      // the original's graph got the measured result of its prune
      const result = await webviewFrame(page, '.prunes .result-card');
      const cls = await result.locator('.prunes .result-card').first().getAttribute('class');
      expect(/\bok\b/.test(cls ?? ''), `prune result card: ${cls}`);
    }, ['Score Operators from the explorer runs a job and colours the graph by score']);

    await step('Developer: Reload Window brings back the scored graph, the Model view and the prune result card', async () => {
      const reloaded = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: 60_000 });
      await runFromPalette(page, 'Developer: Reload Window');
      await reloaded;
      await waitForWorkbench(page);
      // the Model view shows a model again (the last one it showed: the pruned U-Net, opened last)
      await openViewContainer(page, 'LD Surgeon');
      const tree = await viewRows(page, 'Model');
      await tree.filter({ hasText: /model\.onnx.*params/ }).first().waitFor({ timeout: 60_000 });
      await shot('reloaded-model-view');
      // the original's graph, opened as a user would: its blocks are coloured by score and its prune card is back
      await runFromContextMenu(page, await explorerRow(page, 'model.onnx', ['digits-cond', 'unet']), 'Open Graph');
      const frame = await webviewFrame(page, '.prunes .result-card', 120_000);
      const cls = await frame.locator('.prunes .result-card').first().getAttribute('class');
      expect(/\bok\b/.test(cls ?? ''), `prune result card after the reload: ${cls}`);
      const colouredMarks = () => [...document.querySelectorAll('svg.graph [data-key] *')].filter((e) => e instanceof SVGElement && e.style.fill).length;
      await frame.waitForFunction(colouredMarks, null, { timeout: 60_000 });
      await shot('reloaded-graph');
      expect((await frame.evaluate(colouredMarks)) >= 5, 'the reloaded graph is coloured by score');
      // and the Model view, following that editor, has the scores again
      await openViewContainer(page, 'LD Surgeon');
      const scored = await viewRows(page, 'Model');
      const mid = scored.filter({ hasText: /^mid_block/ }).first();
      await mid.waitFor({ timeout: 30_000 });
      if ((await mid.getAttribute('aria-expanded')) === 'false') await mid.locator('.monaco-tl-twistie').click();
      await scored.filter({ hasText: /resnets\.0.*score \d/ }).first().waitFor({ timeout: 30_000 });
    }, ['tick two suggested prunes → Apply → the pruned pipeline appears in the explorer and opens']);

    await step("a user's pipeline with tokenizer.json: Score Operators asks for the conditions, a prompts file of the workspace is picked, the result names it", async () => {
      // a new user has chosen no conditions: take the harness's default out of the workspace settings
      const settingsFile = join(workspace, '.vscode', 'settings.json');
      const settings = JSON.parse(readFileSync(settingsFile, 'utf8'));
      delete settings['ldSurgeon.conditions'];
      writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
      await sleep(2000);
      await contextMenuWith(page, await explorerRow(page, 'digits-hf'), 'Score Operators');
      await pickMenuItem(page, 'Score Operators');
      await quickPickItem(page, 'Choose prompts file');
      // the second pick lists the workspace's text files, then Browse…
      await page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'Browse…' }).first().waitFor({ timeout: 30_000 });
      await shot('conditions-file-pick');
      await quickPickItem(page, 'prompts.txt');
      await openViewContainer(page, 'LD Surgeon');
      const jobs = await viewRows(page, 'Jobs');
      await jobs.filter({ hasText: /Score: digits-hf/ }).filter({ hasText: /done/ }).first().waitFor({ timeout: 5 * 60_000 });
      // the graph's scoring status says which conditions the scores come from
      await webviewFrameWithText(page, '.status-text', /^\d+ scored · conditions: 2 prompts from prompts\.txt/, 60_000);
      await shot('scored-with-prompts-file');
      const file = JSON.parse(readFileSync(join(workspace, 'digits-hf', 'unet', 'model.ldscores.json'), 'utf8'));
      expect(file.complete === true, 'the score file is complete');
      const c = file.settings.conditions;
      expect(c?.kind === 'prompts' && JSON.stringify(c.prompts) === JSON.stringify(['a digit seven', 'A Digit, two']) && basename(c.file ?? '') === 'prompts.txt',
        `the score file records the prompts file's conditions: ${JSON.stringify(c)}`);
      expect(file.candidates.filter((x) => x.status === 'scored').length >= 10, 'the blocks are scored');
      // the choice is kept for the next run, relative to the workspace
      const saved = JSON.parse(readFileSync(settingsFile, 'utf8'))['ldSurgeon.conditions'];
      expect(saved?.source === 'promptsFile' && saved.file === 'prompts.txt', `ldSurgeon.conditions saved: ${JSON.stringify(saved)}`);
    }, ['workbench opens the test workspace']);
  } finally {
    await context.close();
  }
  return results;
}
