// Platform-specific VSIXs: one per target (vsce package --target), each carrying only its platform's
// onnxruntime binaries instead of all five (one all-platform VSIX is ~110 MB). The binaries are left out
// through a generated copy of .vscodeignore (its allow-list names only the target's
// node_modules/onnxruntime-node/bin/napi-v*/<os>/<arch>/), so the working node_modules is never touched.
//
//   node scripts/package.mjs                      every target onnxruntime-node ships binaries for
//   node scripts/package.mjs --target linux-x64   one (repeatable)
//   node scripts/package.mjs --out DIR            where the .vsix files go (default: the repository root)
// `npm run package [-- --target X]` builds first.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'node_modules', 'onnxruntime-node', 'bin');
const BIN_ALLOW = '!node_modules/onnxruntime-node/bin/**';

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(2);
}

// vsce targets this onnxruntime-node has binaries for: bin/napi-vN/<os>/<arch> gives '<os>-<arch>'
function shippedTargets() {
  const out = new Set();
  for (const napi of readdirSync(BIN).filter((n) => n.startsWith('napi-v'))) {
    for (const os of readdirSync(join(BIN, napi))) {
      for (const arch of readdirSync(join(BIN, napi, os))) if (statSync(join(BIN, napi, os, arch)).isDirectory()) out.add(`${os}-${arch}`);
    }
  }
  return [...out].sort();
}

const args = process.argv.slice(2);
const targets = [];
let outDir = ROOT;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--target') targets.push(args[++i]);
  else if (args[i] === '--out') outDir = resolve(args[++i] ?? fail('--out needs a folder'));
  else fail(`unknown argument '${args[i]}' (use --target <os-arch> and --out <dir>)`);
}
const shipped = shippedTargets();
for (const t of targets) if (!shipped.includes(t)) fail(`--target '${t}': onnxruntime-node ships binaries for ${shipped.join(', ')}`);
if (!existsSync(join(ROOT, 'dist', 'extension.js'))) fail('dist/ is missing: run npm run build (npm run package does)');
if (!statSync(outDir, { throwIfNoEntry: false })?.isDirectory()) fail(`--out '${outDir}' is not a folder`);

const ignore = readFileSync(join(ROOT, '.vscodeignore'), 'utf8');
if (!ignore.split('\n').some((l) => l.trim() === BIN_ALLOW)) fail(`.vscodeignore no longer has the line '${BIN_ALLOW}' this script narrows to one platform`);
const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
const work = mkdtempSync(join(tmpdir(), 'ld-surgeon-package-'));
try {
  for (const target of targets.length ? targets : shipped) {
    const [os, arch] = target.split('-');
    const ignoreFile = join(work, `${target}.vscodeignore`);
    writeFileSync(ignoreFile, ignore.split('\n').map((l) => (l.trim() === BIN_ALLOW ? `!node_modules/onnxruntime-node/bin/napi-v*/${os}/${arch}/**` : l)).join('\n'));
    const vsix = join(outDir, `ld-surgeon-${version}-${target}.vsix`);
    const vsce = join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
    const r = spawnSync(process.execPath, [vsce, 'package', '--no-rewrite-relative-links', '--target', target, '--ignoreFile', ignoreFile, '--out', vsix], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) fail(`vsce package --target ${target} failed (exit ${r.status})`);
    console.log(`${target}: ${vsix} (${(statSync(vsix).size / 2 ** 20).toFixed(1)} MiB)`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
