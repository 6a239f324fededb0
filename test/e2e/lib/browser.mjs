// Headless Debian Chromium driven by playwright-core, with its profile inside the run folder.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

export const CHROMIUM = process.env.LD_SURGEON_E2E_CHROMIUM || '/usr/bin/chromium';

export async function launchBrowser(profileDir) {
  mkdirSync(profileDir, { recursive: true });
  // Headless only: headed Chromium under Xvfb never opens VS Code's context menus.
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      // without these Chromium keeps trying the (closed) network
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** vscode-remote URI of an absolute path on the server, as the workbench payload wants it. */
export function remoteUri(port, absPath) {
  return `vscode-remote://127.0.0.1:${port}${absPath}`;
}
