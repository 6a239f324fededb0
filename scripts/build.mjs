// Builds the four bundles: extension host, scoring worker, CLI, webview UI.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const common = { bundle: true, sourcemap: true, logLevel: 'warning', minify: process.argv.includes('--minify') };
const nodeTarget = { ...common, platform: 'node', target: 'node20', format: 'cjs', external: ['vscode', 'onnxruntime-node'] };

const bundles = [
  { entry: 'src/extension/extension.ts', out: 'dist/extension.js', opts: nodeTarget },
  { entry: 'src/worker/worker.ts', out: 'dist/worker.js', opts: nodeTarget },
  { entry: 'src/cli/main.ts', out: 'dist/cli.js', opts: nodeTarget },
  { entry: 'webview-ui/src/main.ts', out: 'dist/webview.js', opts: { ...common, platform: 'browser', target: 'es2022', format: 'iife' } },
];

const missing = bundles.filter((b) => !existsSync(b.entry)).map((b) => b.entry);
if (missing.length && process.env.LD_SURGEON_STRICT_BUILD) {
  console.error(`build: missing entry points: ${missing.join(', ')}`);
  process.exit(1);
}
await Promise.all(
  bundles.filter((b) => existsSync(b.entry)).map((b) => build({ ...b.opts, entryPoints: [b.entry], outfile: b.out })),
);
if (watch) console.log('watch mode is not supported; re-run npm run build');
