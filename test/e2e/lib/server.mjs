// code-server lifecycle for the e2e run: install a VSIX, start the server in its own process group on a
// free 127.0.0.1 port with every bit of state inside the run folder, wait for /healthz, stop it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const E2E_DIR = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
export const CODE_SERVER = join(E2E_DIR, 'node_modules', '.bin', 'code-server');

/** Paths and environment of one isolated code-server installation under `runDir`. */
export function serverLayout(runDir) {
  const l = {
    runDir,
    config: join(runDir, 'config.yaml'),
    userData: join(runDir, 'data'),
    extensions: join(runDir, 'exts'),
    logFile: join(runDir, 'code-server.log'),
    env: {
      ...process.env,
      XDG_CONFIG_HOME: join(runDir, 'xdg', 'config'),
      XDG_DATA_HOME: join(runDir, 'xdg', 'data'),
      XDG_CACHE_HOME: join(runDir, 'xdg', 'cache'),
      TMPDIR: join(runDir, 'tmp'),
      // no marketplace: look-ups would fail offline and slow every start
      EXTENSIONS_GALLERY: '{}',
    },
  };
  for (const d of [l.userData, l.extensions, l.env.XDG_CONFIG_HOME, l.env.XDG_DATA_HOME, l.env.XDG_CACHE_HOME, l.env.TMPDIR, join(l.userData, 'User')]) {
    mkdirSync(d, { recursive: true });
  }
  writeFileSync(l.config, 'auth: none\ncert: false\n');
  writeFileSync(
    join(l.userData, 'User', 'settings.json'),
    JSON.stringify({
      'workbench.startupEditor': 'none',
      'security.workspace.trust.enabled': false,
      'telemetry.telemetryLevel': 'off',
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'update.mode': 'none',
      'window.commandCenter': false,
      'chat.commandCenter.enabled': false,
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
      // the run folder lives inside the repository: no "open the parent git repository?" prompt
      'git.openRepositoryInParentFolders': 'never',
      'git.autoRepositoryDetection': false,
    }, null, 2),
  );
  return l;
}

function baseArgs(l) {
  return ['--config', l.config, '--user-data-dir', l.userData, '--extensions-dir', l.extensions];
}

export function installExtension(l, vsix) {
  const r = spawnSync(CODE_SERVER, [...baseArgs(l), '--install-extension', vsix, '--force'], { env: l.env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`code-server --install-extension failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts code-server detached (its own process group, so stop() also ends the extension hosts it forks).
 * `extraEnv` reaches the extension hosts (they inherit the server's environment).
 */
export async function startServer(l, workspace, extraEnv = {}) {
  const port = await freePort();
  const out = openSync(l.logFile, 'a');
  const child = spawn(
    CODE_SERVER,
    [...baseArgs(l), '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry',
      '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', workspace],
    { env: { ...l.env, ...extraEnv }, detached: true, stdio: ['ignore', out, out] },
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return; // already gone
    }
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      try {
        process.kill(-child.pid, 0);
      } catch {
        return;
      }
    }
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}; see ${l.logFile}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return { url, port, stop, pid: child.pid };
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  await stop();
  throw new Error(`code-server did not answer ${url}/healthz within 60 s; see ${l.logFile}`);
}
