#!/usr/bin/env bash
# Installs what the real-VS-Code tests need, idempotently: Debian's chromium/ripgrep/libkrb5-dev (only when
# missing), then code-server 4.100.3 + playwright-core + mocha into test/e2e/node_modules from the lock file.
# Works with only the npm registry and Debian apt reachable (see /work/shared/docs/e2e-in-real-vscode.md).
set -euo pipefail
cd "$(dirname "$0")"

need_pkgs=()
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v rg >/dev/null 2>&1 || need_pkgs+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_pkgs+=(libkrb5-dev)
if ((${#need_pkgs[@]})); then
  echo "setup: installing ${need_pkgs[*]} with apt-get"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}"
fi

# @vscode/ripgrep (a code-server dependency) downloads rg from GitHub unless this cache file exists;
# give it Debian's rg instead. The version pair is the one code-server 4.100.3 pins.
rg_cache="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-1.15.11"
rg_tar="$rg_cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -s "$rg_tar" ]; then
  mkdir -p "$rg_cache"
  tmp="$(mktemp -d)"
  cp "$(command -v rg)" "$tmp/rg"
  tar -czf "$rg_tar.tmp" -C "$tmp" rg && mv "$rg_tar.tmp" "$rg_tar"
  rm -rf "$tmp"
fi

# Skip the install when node_modules already matches the lock file.
stamp="node_modules/.ld-surgeon-e2e-lock"
if [ -f package-lock.json ] && [ -f "$stamp" ] && cmp -s package-lock.json "$stamp" \
   && [ -x node_modules/.bin/code-server ] && [ -d node_modules/code-server/lib/vscode/node_modules ]; then
  echo "setup: test/e2e/node_modules is up to date"
  exit 0
fi

export npm_config_unsafe_perm=true   # code-server's postinstall refuses to run as root without it
export npm_config_yes=true           # node-pty's build runs `npx node-gyp`
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
cp package-lock.json "$stamp"
echo "setup: done"
