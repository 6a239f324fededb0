// The real-VS-Code tests (code-server + headless Chromium, see test/e2e/run.mjs), run as part of `npm test`
// so their result lands in the same summary. `bash scripts/setup.sh` installs what they need.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const repo = join(__dirname, '..');

test('the packaged extension works in a real VS Code: host tests and the UI flow', { timeout: 40 * 60_000 }, () => {
  assert.ok(
    existsSync(join(repo, 'test', 'e2e', 'node_modules', '.bin', 'code-server')),
    'code-server is not installed for the e2e tests: run `bash scripts/setup.sh` (or `bash test/e2e/setup.sh`)',
  );
  const r = spawnSync(process.execPath, [join(repo, 'test', 'e2e', 'run.mjs'), '--no-build'], { cwd: repo, encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  for (const line of out.trimEnd().split('\n')) console.log(`# ${line}`);
  const summary = out.match(/^(\d+) passed, (\d+) failed$/m);
  assert.ok(summary, 'the e2e runner printed no summary line');
  // the failures themselves go in the assertion's message: a CI log that keeps only the test's error shows them
  const failures = out.slice(out.indexOf('\nFailures:\n') + 1).split(/\n\[e2e /)[0];
  assert.equal(Number(summary[2]), 0, `${summary[2]} e2e test(s) failed (screenshots in the run folder under .e2e/runs/)\n${out.includes('\nFailures:\n') ? failures : ''}`);
  assert.ok(Number(summary[1]) > 0, 'no e2e test ran');
  assert.equal(r.status, 0);
});
