// Score Operators' settings: the preset decides samples, steps and granularity unless the user set
// them; the estimate the extension shows comes from the CLI with only the explicit settings, so the
// CLI fits the preset to the model (layers where a model has no blocks).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { estimateArgs, workerSettings } from '../../src/extension/score/scoreJob';
import type { LdSurgeonSettings } from '../../src/extension/settings';

const ROOT = path.resolve(__dirname, '..', '..');
const base: LdSurgeonSettings = {
  executionProvider: 'cpu', scorePreset: 'quick', samples: undefined, steps: undefined, granularity: undefined, scoreVariant: 'avg+std', pythonPath: '',
} as LdSurgeonSettings;

test('the quick preset by default, thorough on request, explicit settings on top', () => {
  assert.deepEqual(workerSettings(base), { samples: 8, steps: 10, granularity: 'block', variant: 'avg+std', ep: 'cpu' });
  assert.deepEqual(workerSettings({ ...base, scorePreset: 'thorough' }), { samples: 16, steps: 25, granularity: 'both', variant: 'avg+std', ep: 'cpu' });
  assert.deepEqual(workerSettings({ ...base, scorePreset: 'thorough', samples: 4, granularity: 'block' }), { samples: 4, steps: 25, granularity: 'block', variant: 'avg+std', ep: 'cpu' });
  // the estimate's fitted granularity (a model without blocks) replaces the preset's, not the user's
  assert.equal(workerSettings(base, 'layer').granularity, 'layer');
  assert.equal(workerSettings({ ...base, granularity: 'both' }, 'layer').granularity, 'both');
  assert.deepEqual(estimateArgs('/x/cli.js', '/m', { ...base, steps: 5 }), ['/x/cli.js', 'score', '/m', '--estimate', '--json', '--preset', 'quick', '--ep', 'cpu', '--steps', '5']);
});

test('the estimate the extension runs: evaluation count, time and the settings it will score with', { skip: !existsSync(path.join(ROOT, 'dist', 'cli.js')) && 'npm run build first' }, () => {
  const r = spawnSync(process.execPath, estimateArgs(path.join(ROOT, 'dist', 'cli.js'), 'examples/digits-uncond', base), { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  assert.equal(e.preset, 'quick');
  assert.equal(e.evaluations, 33);
  assert.deepEqual(e.settings, { samples: 8, steps: 10, granularity: 'block' });
  assert.ok(e.seconds > 0);
});
