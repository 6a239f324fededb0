// Bundles the dev harness (webview-ui/dev/harness.ts) to out/harness/harness.js. Not shipped.
// Usage: node webview-ui/dev/build-harness.mjs   (after npm run build, which makes dist/webview.js)
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
await build({
  entryPoints: [join(root, 'webview-ui/dev/harness.ts')],
  outfile: join(root, 'out/harness/harness.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  logLevel: 'warning',
});
