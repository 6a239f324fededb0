// Small page-object helpers over VS Code 1.100's workbench DOM (selectors verified on code-server 4.100.3).
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitForWorkbench(page) {
  await page.waitForSelector('.monaco-workbench', { timeout: 180_000 });
  await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 180_000 });
}

const rowSelector = (label) => `.explorer-folders-view .monaco-list-row[aria-label="${label}"], .explorer-folders-view .monaco-list-row[aria-label^="${label} "]`;

/** An explorer row by its file or folder name; `under` lists folders to expand first. */
export async function explorerRow(page, name, under = []) {
  if (!(await page.locator('.explorer-folders-view').first().isVisible().catch(() => false))) await openViewContainer(page, 'Explorer');
  for (const folder of under) {
    const row = page.locator(rowSelector(folder)).first();
    await row.waitFor({ timeout: 30_000 });
    if ((await row.getAttribute('aria-expanded')) === 'false') await row.click();
  }
  const row = page.locator(rowSelector(name)).first();
  await row.waitFor({ timeout: 30_000 });
  return row;
}

/** Right-clicks `row` until VS Code's context menu shows (an early click can land before menus are ready). */
export async function contextMenu(page, row) {
  for (let attempt = 0; attempt < 5; attempt++) {
    await row.click({ button: 'right' });
    try {
      await page.locator('.monaco-menu .action-label').first().waitFor({ timeout: 3000 });
      return (await page.locator('.monaco-menu .action-label').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
    } catch {
      await page.keyboard.press('Escape');
      await sleep(500);
    }
  }
  throw new Error('the context menu did not open');
}

/**
 * Opens the context menu of `row` until it lists `label` (menus that depend on the extension's context keys
 * fill in once it has activated), or gives up after `timeoutMs` and returns the last menu.
 */
export async function contextMenuWith(page, row, label, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const items = await contextMenu(page, row);
    if (items.includes(label) || Date.now() > deadline) return items;
    await closeMenu(page);
    await sleep(1000);
  }
}

export async function pickMenuItem(page, label) {
  const item = page.locator('.monaco-menu .action-label', { hasText: label }).first();
  await item.hover();
  await sleep(200);
  await item.click({ delay: 50 });
  // a click that lands while the menu is still settling is ignored: the hovered item takes Enter too
  try {
    await page.locator('.monaco-menu').first().waitFor({ state: 'detached', timeout: 1500 });
  } catch {
    await item.hover();
    await page.keyboard.press('Enter');
    await page.locator('.monaco-menu').first().waitFor({ state: 'detached', timeout: 5000 });
  }
}

/**
 * Opens `row`'s context menu and runs `label` from it; again when the menu closed before the pick (an
 * editor restored after a window reload takes focus as its webview loads, and focus leaving closes a menu).
 */
export async function runFromContextMenu(page, row, label, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const items = await contextMenuWith(page, row, label, Math.max(1000, deadline - Date.now()));
    if (!items.includes(label)) throw new Error(`the context menu never listed ${label} (it had: ${items.join(', ')})`);
    try {
      await page.locator('.monaco-menu .action-label', { hasText: label }).first().waitFor({ timeout: 2000 });
      return await pickMenuItem(page, label);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await page.keyboard.press('Escape');
      await sleep(1000);
    }
  }
}

export async function closeMenu(page) {
  await page.keyboard.press('Escape');
  await page.locator('.monaco-menu').first().waitFor({ state: 'detached', timeout: 5000 }).catch(() => {});
}

/**
 * The frame of the webview whose document contains `selector`: webviews nest an outer iframe and an
 * inner `active-frame`, so walk every frame.
 */
export async function webviewFrame(page, selector, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      try {
        if (await frame.$(selector)) return frame;
      } catch {
        // a frame navigating away
      }
    }
    await sleep(250);
  }
  throw new Error(`no webview frame has ${selector} after ${timeoutMs} ms`);
}

/** Opens a view container from the activity bar by its title. */
export async function openViewContainer(page, title) {
  const item = page.locator(`.activitybar .action-item a[aria-label^="${title}"], .activitybar .action-item .action-label[aria-label^="${title}"]`).first();
  await item.waitFor({ timeout: 30_000 });
  const checked = await item.getAttribute('aria-checked').catch(() => null);
  const expanded = await item.getAttribute('aria-expanded').catch(() => null);
  if (checked !== 'true' && expanded !== 'true') await item.click();
}

/** The rows of a view pane (by its title), expanding the pane if it is collapsed. */
export async function viewRows(page, paneTitle) {
  const header = page.locator(`.pane-header[aria-label^="${paneTitle}"]`).first();
  await header.waitFor({ timeout: 30_000 });
  if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
  const pane = page.locator('.pane', { has: header });
  return pane.locator('.monaco-list-row');
}

/** Picks the row of the open quick pick (or quick input list) whose text contains `text`. */
export async function quickPickItem(page, text, timeoutMs = 30_000) {
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: text }).first();
  await row.waitFor({ timeout: timeoutMs });
  await row.click();
}

/** Runs a command from the command palette (F1) by its title, as a user does. */
export async function runFromPalette(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input').first();
  await input.waitFor({ timeout: 10_000 });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
}

/** The webview frame with an element matching `selector` whose text matches `re` (several graphs may be open). */
export async function webviewFrameWithText(page, selector, re, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let seen = [];
  while (Date.now() < deadline) {
    seen = [];
    for (const frame of page.frames()) {
      try {
        const texts = await frame.$$eval(selector, (els) => els.map((e) => e.textContent ?? ''));
        seen.push(...texts);
        if (texts.some((t) => re.test(t))) return frame;
      } catch {
        // a frame navigating away
      }
    }
    await sleep(250);
  }
  throw new Error(`no webview has ${selector} matching ${re} after ${timeoutMs} ms; seen: ${seen.join(' | ').slice(0, 400)}`);
}
