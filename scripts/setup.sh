#!/usr/bin/env bash
# One command that prepares a fresh Debian/Ubuntu machine (or CI) for ld-surgeon:
# system packages (Python torch/onnx for distillation, Chromium for the real-VS-Code tests, Slurm + munge
# for the deploy/slurm test),
# the extension's npm dependencies (which also builds dist/), and the e2e harness.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
dpkg -s python3-torch python3-onnx python3-numpy python3-scipy python3-sklearn >/dev/null 2>&1 || need_apt+=(python3-torch python3-onnx python3-numpy python3-scipy python3-sklearn)
dpkg -s espeak-ng sox >/dev/null 2>&1 || need_apt+=(espeak-ng sox)
dpkg -s chromium ripgrep libkrb5-dev >/dev/null 2>&1 || need_apt+=(chromium ripgrep libkrb5-dev)
# a one-node Slurm cluster for the test of deploy/slurm (deploy/slurm/one-node-cluster.sh)
dpkg -s slurmctld slurmd slurm-client munge >/dev/null 2>&1 || need_apt+=(slurmctld slurmd slurm-client munge)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# onnxruntime-node's install script (CUDA download) stays off: allowScripts in package.json.
npm ci --no-audit --no-fund

if [ -f test/e2e/setup.sh ]; then bash test/e2e/setup.sh; fi
