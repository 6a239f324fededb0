// onnxruntime's own telemetry follows VS Code's: the harness runs code-server with telemetry.telemetryLevel
// "off" (user settings), so vscode.env.isTelemetryEnabled is false and the extension host, and every job it
// starts, must run the runtime with ORT_DISABLE_TELEMETRY. A scoring job started with TMPDIR pointed at a
// fresh folder leaves no .ses or mat-debug-<pid>.log there (onnxruntime 1.30 writes both into TMPDIR
// when its telemetry runs: test/runtime-telemetry.test.ts's control run shows it on this machine).
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { suite, test } from './tdd';
import { api, pipelineDir, unetPath } from './helpers';

const runtimeTelemetryFile = (f: string) => f === '.ses' || f.endsWith('.ses') || /^mat-debug-\d+\.log$/.test(f);

suite('runtime telemetry', () => {
  test('VS Code telemetry off: the host and a scoring job run onnxruntime without telemetry, and its fresh TMPDIR stays free of .ses / mat-debug-*', async function () {
    this.timeout(5 * 60_000);
    const a = await api();
    assert.equal(vscode.env.isTelemetryEnabled, false, 'the harness sets telemetry.telemetryLevel off');
    assert.equal(process.env.ORT_DISABLE_TELEMETRY, '1', 'the extension host turned the runtime telemetry off');
    assert.equal(process.env.LD_SURGEON_ORT_TELEMETRY, '0');

    // a fresh temp folder for the job only: it inherits the host's environment when it starts
    const base = path.join(os.tmpdir(), 'telemetry-e2e');
    mkdirSync(base, { recursive: true });
    const fresh = mkdtempSync(path.join(base, 'tmp-'));
    const saved = { TMPDIR: process.env.TMPDIR, TMP: process.env.TMP, TEMP: process.env.TEMP };
    rmSync(unetPath().replace(/\.onnx$/, '.ldscores.json'), { force: true });
    let job;
    try {
      process.env.TMPDIR = process.env.TMP = process.env.TEMP = fresh;
      job = await a.workflows.score(pipelineDir());
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const s = await job.finished;
    assert.equal(s.state, 'done', s.error);
    const left = readdirSync(fresh);
    assert.deepEqual(left.filter(runtimeTelemetryFile), [], `onnxruntime telemetry files in the job's TMPDIR: ${left.join(', ')}`);
    // and none in the server's own TMPDIR, where every other job of this suite ran
    const everywhere = readdirSync(os.tmpdir()).filter(runtimeTelemetryFile);
    assert.deepEqual(everywhere, [], `onnxruntime telemetry files in ${os.tmpdir()}`);
  });
});
