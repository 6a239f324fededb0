// Builds the bundles: extension host, scoring worker, model worker thread, CLI, graph webview UI, distillation chart webview.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

const watch = process.argv.includes('--watch');
const common = { bundle: true, sourcemap: true, logLevel: 'warning', minify: process.argv.includes('--minify') };
const nodeTarget = { ...common, platform: 'node', target: 'node20', format: 'cjs', external: ['vscode', 'onnxruntime-node'] };

// `import text from 'some/file?text'` inlines a file as a string: the webview starts its layout
// worker (elkjs's elk-worker.min.js) from a Blob URL, as its CSP allows no worker script URL.
const textImport = {
  name: 'text-import',
  setup(b) {
    b.onResolve({ filter: /\?text$/ }, async (args) => {
      const r = await b.resolve(args.path.slice(0, -'?text'.length), { kind: args.kind, resolveDir: args.resolveDir });
      return r.errors.length ? { errors: r.errors } : { path: r.path, namespace: 'text-import' };
    });
    b.onLoad({ filter: /.*/, namespace: 'text-import' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

// The CLI is two bundles so that `ld-surgeon --help` loads only the small one: dist/cli.js (the
// command list, src/cli/main.ts) loads dist/cli-run.js (the commands, src/cli/run.ts) to run a command.
const cliRunApart = {
  name: 'cli-run-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/run$/ }, (args) => (/src[\\/]cli[\\/]main\.ts$/.test(args.importer) ? { path: './cli-run.js', external: true } : undefined));
  },
};

const bundles = [
  { entry: 'src/extension/extension.ts', out: 'dist/extension.js', opts: nodeTarget },
  { entry: 'src/worker/worker.ts', out: 'dist/worker.js', opts: nodeTarget },
  // the model worker thread: opens, analyses and edits models off the extension host's event loop
  { entry: 'src/worker/model-worker.ts', out: 'dist/model-worker.js', opts: nodeTarget },
  { entry: 'src/cli/main.ts', out: 'dist/cli.js', opts: { ...nodeTarget, plugins: [cliRunApart] } },
  { entry: 'src/cli/run.ts', out: 'dist/cli-run.js', opts: nodeTarget },
  { entry: 'webview-ui/src/main.ts', out: 'dist/webview.js', opts: { ...common, platform: 'browser', target: 'es2022', format: 'iife', plugins: [textImport] } },
  // the distillation chart (its CSS import lands in dist/distillChart.css)
  { entry: 'webview-ui/distill/main.ts', out: 'dist/distillChart.js', opts: { ...common, platform: 'browser', target: 'es2022', format: 'iife' } },
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
