// DistillChartPanels (src/extension/distill/distillChart.ts) outside VS Code: a minimal stand-in for the `vscode`
// module records the panels it creates and the messages posted to them, so the host side is checked
// without an editor: the page it serves, replay on `ready`, following appended lines, the snapshot the
// webview reports, what it refuses to open, that closing a panel stops following the file, and that a trainer
// killed on this machine (no final event) shows as stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ChartSnapshot, ToChart } from '../src/protocol/distillChart';

interface FakePanel {
  title: string;
  html: string;
  posted: ToChart[];
  visible: boolean;
  revealed: number;
  disposed: boolean;
  receive(m: unknown): void;
  close(): void;
}

const panels: FakePanel[] = [];
const opened: string[] = [];

function fakeVscode() {
  const uri = (p: string) => ({ fsPath: p, path: p, toString: () => `vscode-resource:${p}` });
  return {
    Uri: { file: uri, joinPath: (base: { fsPath: string }, ...parts: string[]) => uri(path.join(base.fsPath, ...parts)) },
    ViewColumn: { Beside: -2, Active: -1 },
    commands: { executeCommand: async (cmd: string, u: { fsPath: string }) => void opened.push(`${cmd} ${u.fsPath}`) },
    window: {
      createWebviewPanel(_viewType: string, title: string) {
        let onMessage: (m: unknown) => void = () => {};
        let onDispose: () => void = () => {};
        const p: FakePanel & Record<string, unknown> = {
          title,
          html: '',
          posted: [],
          visible: true,
          revealed: 0,
          disposed: false,
          receive: (m) => onMessage(m),
          close: () => {
            p.disposed = true;
            onDispose();
          },
        };
        const webview = {
          cspSource: 'vscode-resource:',
          options: {},
          asWebviewUri: (u: { fsPath: string }) => ({ toString: () => `vscode-resource:${u.fsPath}` }),
          postMessage: async (m: ToChart) => void p.posted.push(m),
          onDidReceiveMessage: (f: (m: unknown) => void) => ((onMessage = f), { dispose() {} }),
        };
        Object.defineProperty(webview, 'html', { get: () => p.html, set: (v: string) => (p.html = v) });
        Object.assign(p, {
          webview,
          reveal: () => void p.revealed++,
          dispose: () => p.close(),
          onDidDispose: (f: () => void) => ((onDispose = f), { dispose() {} }),
          onDidChangeViewState: () => ({ dispose() {} }),
        });
        panels.push(p);
        return p;
      },
    },
  };
}

// `vscode` exists only inside the editor: resolve it to the stand-in for this file's requires
const FAKE_ID = path.join(tmpdir(), 'ld-surgeon-fake-vscode.js');
const M = Module as unknown as { _resolveFilename: (r: string, ...a: unknown[]) => string; _cache: Record<string, unknown> };
const resolveFilename = M._resolveFilename;
M._resolveFilename = (request: string, ...rest: unknown[]) => (request === 'vscode' ? FAKE_ID : resolveFilename(request, ...rest));
M._cache[FAKE_ID] = { id: FAKE_ID, filename: FAKE_ID, loaded: true, exports: fakeVscode() };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DistillChartPanels } = require('../src/extension/distill/distillChart') as typeof import('../src/extension/distill/distillChart');

const FIXTURE = readFileSync(path.resolve(__dirname, 'fixtures/distill/events-resumed.jsonl'), 'utf8');

async function until<T>(read: () => T, ok: (v: T) => boolean, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const eventsPosted = (p: FakePanel) => p.posted.flatMap((m) => (m.type === 'events' ? m.events : []));

test('the panel serves the chart under a CSP, replays the file on ready, then follows appended lines', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ld-surgeon-chart-host-'));
  const file = path.join(dir, 'trainer', 'events.jsonl');
  const charts = new DistillChartPanels(fakeVscode().Uri.file('/ext') as never, () => {});
  try {
    charts.show({ id: 'job-1', title: 'Distill: unet.pruned.onnx', eventsFile: file });
    const p = panels.at(-1)!;
    assert.match(p.html, /Content-Security-Policy/);
    assert.match(p.html, /script-src 'nonce-/);
    assert.match(p.html, /src="vscode-resource:\/ext\/dist\/distillChart\.js"/);
    assert.match(p.html, /href="vscode-resource:\/ext\/dist\/distillChart\.css"/);
    assert.match(p.html, /Loading the distillation chart…/);
    assert.equal(p.posted.length, 0, 'nothing is posted before the webview is ready');

    p.receive({ type: 'ready', protocolVersion: 1 });
    await until(() => p.posted.find((m) => m.type === 'file'), (m) => !!m, 'the file state');
    assert.deepEqual(p.posted[0], { type: 'init', title: 'Distill: unet.pruned.onnx', eventsFile: file });
    assert.deepEqual({ ...p.posted.find((m) => m.type === 'file'), hostNowMs: 0 }, { type: 'file', exists: false, mtimeMs: undefined, hostNowMs: 0, error: undefined });

    // the trainer creates the run folder and writes: the poll (≤ 1 s) or the watcher picks it up
    const lines = FIXTURE.split('\n').filter((l) => l.trim());
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, lines.slice(0, 20).join('\n') + '\n' + lines[20].slice(0, 30));
    await until(() => eventsPosted(p).length, (n) => n === 20, 'the first 20 lines', 5000);
    appendFileSync(file, lines[20].slice(30) + '\n' + lines.slice(21).join('\n') + '\n');
    await until(() => eventsPosted(p).length, (n) => n === lines.length, 'every line', 5000);
    assert.equal(p.title, 'Distill: unet.pruned.onnx (done)', 'the tab title follows the run');
    assert.equal(charts.summary('job-1')?.status, 'done: exported /tmp/chartrun-work/out.onnx');
    assert.equal(charts.summary('job-1')?.series.losses.total.length, 42);

    // a reloaded webview (hidden and shown again) gets the whole run again in one replay
    const before = p.posted.length;
    p.receive({ type: 'ready', protocolVersion: 1 });
    const replay = p.posted.slice(before);
    assert.equal(replay[0].type, 'init');
    assert.equal(replay.filter((m) => m.type === 'events').length, 1);
    assert.equal((replay[1] as Extract<ToChart, { type: 'events' }>).reset, true);
    assert.equal((replay[1] as Extract<ToChart, { type: 'events' }>).events.length, lines.length);

    const snap: ChartSnapshot = { points: { 'loss.total': 42 }, drawn: { 'loss.total': 42 }, status: 'done', state: 'done', step: 80, empty: false, teacher: {}, resumes: [30] };
    assert.equal(charts.snapshot('job-1'), undefined);
    p.receive({ type: 'rendered', snapshot: snap });
    assert.deepEqual(charts.snapshot('job-1'), snap);
    p.receive({ type: 'rendered', snapshot: { nope: 1 } });
    assert.deepEqual(charts.snapshot('job-1'), snap, 'a malformed report is ignored');

    p.receive({ type: 'openOutput', path: '/etc/passwd' });
    p.receive({ type: 'openOutput', path: '/tmp/chartrun-work/out.onnx' });
    assert.deepEqual(opened, ['vscode.open /tmp/chartrun-work/out.onnx'], 'only the run’s own output opens');

    // show() again reveals the same panel
    charts.show({ id: 'job-1', title: 'Distill: unet.pruned.onnx', eventsFile: file });
    assert.equal(panels.filter((x) => !x.disposed).length, 1);
    assert.equal(p.revealed, 1);

    // closing the panel stops following: later lines reach nobody
    p.close();
    assert.equal(charts.snapshot('job-1'), undefined);
    const after = p.posted.length;
    appendFileSync(file, '{"event": "step", "step": 81, "loss": 0.1}\n');
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(p.posted.length, after);
  } finally {
    charts.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a trainer killed without a final event: the chart on its host says it stopped; a live or remote one is left alone', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ld-surgeon-chart-gone-'));
  const charts = new DistillChartPanels(fakeVscode().Uri.file('/ext') as never, () => {});
  // a pid that existed and is gone (SIGKILL leaves nothing in the file)
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
  const write = (name: string, pid: number, host: string) => {
    const file = path.join(dir, name, 'events.jsonl');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, [{ event: 'start', steps: 100, device: 'cpu', pid, host }, { event: 'step', step: 7, loss: 0.5 }].map((e) => JSON.stringify(e)).join('\n') + '\n');
    return file;
  };
  const open = (id: string, file: string) => {
    charts.show({ id, title: `Distill ${id}`, eventsFile: file });
    const p = panels.at(-1)!;
    p.receive({ type: 'ready', protocolVersion: 1 });
    return p;
  };
  try {
    const killed = open('killed', write('killed', deadPid, hostname()));
    const alive = open('alive', write('alive', process.pid, hostname()));
    const remote = open('remote', write('remote', deadPid, `${hostname()}-elsewhere`));

    await until(() => killed.posted.some((m) => m.type === 'file' && m.trainerGone), (v) => v, 'the killed trainer to be noticed', 6000);
    assert.equal(killed.title, 'Distill killed (stopped)');
    assert.match(charts.summary('killed')!.status, new RegExp(`^stopped at step 7/100: the trainer \\(pid ${deadPid}\\) stopped without a final event`));
    // a reloaded webview learns it again after the replay
    const before = killed.posted.length;
    killed.receive({ type: 'ready', protocolVersion: 1 });
    assert.deepEqual(killed.posted.slice(before).map((m) => m.type), ['init', 'events', 'file']);
    assert.equal((killed.posted.at(-1) as Extract<ToChart, { type: 'file' }>).trainerGone, true);

    // the same checks ran for the others by now: a live pid, and a pid on another machine, stay running
    for (const p of [alive, remote]) {
      assert.ok(!p.posted.some((m) => m.type === 'file' && m.trainerGone), p.title);
      assert.equal(p.title, `Distill ${p === alive ? 'alive' : 'remote'} (7/100)`);
    }

    // the user resumes: a new trainer appends to the same file and the chart runs again
    appendFileSync(path.join(dir, 'killed', 'events.jsonl'), [
      { event: 'start', steps: 100, device: 'cpu', resumed: true, pid: process.pid, host: hostname() }, { event: 'resume', step: 5 }, { event: 'step', step: 6, loss: 0.4 },
    ].map((e) => JSON.stringify(e)).join('\n') + '\n');
    await until(() => killed.title, (t) => t === 'Distill killed (6/100)', 'the resumed run', 5000);
    assert.match(charts.summary('killed')!.status, /^running: step 6\/100/);
  } finally {
    charts.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
