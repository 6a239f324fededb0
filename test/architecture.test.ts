// The layering rules (ARCHITECTURE.md), checked on the import graph with dependency-cruiser:
// no circular imports; src/core at the bottom (no vscode, protocol, extension, CLI or worker); the protocols
// built on core types only; the CLI and the worker free of the extension and vscode; the webview free of
// Node and of the extension. Each rule is first shown to catch its violation in a planted tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { ICruiseResult, IForbiddenRuleType, IViolation } from 'dependency-cruiser';

/** `vscode` exists only as its type declarations (@types/vscode), which is what an import of it resolves to. */
const VSCODE = '(^|/)node_modules/@types/vscode/';

const RULES: IForbiddenRuleType[] = [
  { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  {
    name: 'core-is-the-bottom', severity: 'error',
    comment: 'src/core is the model: it knows nothing of VS Code, the message formats or the programs built on it',
    from: { path: '^src/core/' },
    to: { path: [VSCODE, '^src/(protocol|extension|cli|worker)/'] },
  },
  {
    name: 'protocol-on-core-types', severity: 'error',
    comment: 'a protocol file describes messages: it may take types from core, nothing else from the tree',
    from: { path: '^src/protocol/' },
    to: { path: '^src/', pathNot: ['^src/protocol/', '^src/core/'] },
  },
  {
    name: 'protocol-on-core-types', severity: 'error',
    from: { path: '^src/protocol/' },
    to: { path: '^src/core/', dependencyTypesNot: ['type-only'] },
  },
  {
    name: 'cli-and-worker-without-vscode', severity: 'error',
    comment: 'the CLI and the scoring worker run in plain Node',
    from: { path: '^src/(cli|worker)/' },
    to: { path: [VSCODE, '^src/extension/'] },
  },
  {
    name: 'webview-in-the-browser', severity: 'error',
    comment: 'the webviews run in a browser sandbox: no Node modules, no extension code',
    from: { path: '^webview-ui/(src|distill|common)/' },
    to: { path: ['^src/extension/', VSCODE, '^onnxruntime-node$'] },
  },
  {
    name: 'webview-in-the-browser', severity: 'error',
    from: { path: '^webview-ui/(src|distill|common)/' },
    to: { dependencyTypes: ['core'] },
  },
];

async function cruiseTree(baseDir: string, roots: string[]): Promise<ICruiseResult> {
  // dependency-cruiser ships as ES modules only: loaded at run time, not by the CommonJS test transform
  const { cruise } = await import('dependency-cruiser');
  const reported = await cruise(roots, {
    baseDir,
    validate: true,
    ruleSet: { forbidden: RULES },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
  });
  assert.equal(typeof reported.output, 'object');
  return reported.output as ICruiseResult;
}

function describe(v: IViolation): string {
  const via = v.cycle?.length ? ` (${[v.from, ...v.cycle.map((c) => (typeof c === 'string' ? c : c.name))].join(' → ')})` : '';
  return `${v.rule.name}: ${v.from} → ${v.to}${via}`;
}

test('each layering rule catches its violation in a planted tree', async () => {
  const out = await cruiseTree(path.resolve('test/fixtures/architecture'), ['src', 'webview-ui']);
  const found = out.summary.violations.map(describe);
  const expect = [
    /^no-circular: src\/core\/model\.ts → src\/protocol\/messages\.ts/,
    /^core-is-the-bottom: src\/core\/model\.ts → .*@types\/vscode\//,
    /^core-is-the-bottom: src\/core\/model\.ts → src\/protocol\/messages\.ts$/,
    /^protocol-on-core-types: src\/protocol\/messages\.ts → src\/core\/model\.ts$/,
    /^protocol-on-core-types: src\/protocol\/messages\.ts → src\/extension\/panel\.ts$/,
    /^cli-and-worker-without-vscode: src\/cli\/main\.ts → .*@types\/vscode\//,
    /^cli-and-worker-without-vscode: src\/cli\/main\.ts → src\/extension\/panel\.ts$/,
    /^webview-in-the-browser: webview-ui\/src\/app\.ts → (node:)?fs$/,
    /^webview-in-the-browser: webview-ui\/src\/app\.ts → src\/extension\/panel\.ts$/,
  ];
  for (const re of expect) assert.ok(found.some((f) => re.test(f)), `no violation matching ${re} among:\n${found.join('\n')}`);
});

test('the tree keeps its layers: no circular or upward imports in src/ and webview-ui/', async () => {
  const out = await cruiseTree(process.cwd(), ['src', 'webview-ui']);
  // a cruise that resolved nothing would pass every rule: make sure it saw the whole tree
  const sources = out.modules.map((m) => m.source);
  for (const f of ['src/core/scoring/job.ts', 'src/extension/extension.ts', 'src/protocol/webview.ts', 'src/worker/worker.ts', 'src/cli/main.ts', 'webview-ui/src/main.ts']) {
    assert.ok(sources.includes(f), `the cruise did not reach ${f}`);
  }
  const job = out.modules.find((m) => m.source === 'src/core/scoring/job.ts')!;
  assert.ok(job.dependencies.some((d) => d.resolved === 'src/core/scoring/events.ts'), 'relative imports resolve to files');
  assert.deepEqual(out.summary.violations.map(describe), []);
});
