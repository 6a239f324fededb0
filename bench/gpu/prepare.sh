#!/usr/bin/env bash
# Gathers what bench/gpu/check.sh needs on a GPU machine that has no npm and no internet, into .devcheck/ and .gl/
# (both git-ignored locally via .git/info/exclude, so they travel only when named in the device tool's `carry`):
# the pruned U-Net to distill, the CLI and worker bundles, onnxruntime-node for linux-x64 (xz: the whole package
# is over the transfer limit) and the Vulkan loader WebGPU needs.
#   bash bench/gpu/prepare.sh PRUNED_PIPELINE   e.g. the output of `ld-surgeon prune examples/digits-cond --target-latency -35%`
set -euo pipefail
cd "$(dirname "$0")/../.."
PRUNED=${1:?usage: bash bench/gpu/prepare.sh PRUNED_PIPELINE}
grep -qx '/.devcheck/' .git/info/exclude || echo '/.devcheck/' >> .git/info/exclude
grep -qx '/.gl/' .git/info/exclude || echo '/.gl/' >> .git/info/exclude
rm -rf .devcheck && mkdir -p .devcheck/pruned-unet .gl
cp "$PRUNED"/unet/model.onnx "$PRUNED"/unet/model.prune.json "$PRUNED"/unet/config.json .devcheck/pruned-unet/
npm run build >/dev/null
cp dist/cli.js dist/cli-run.js dist/worker.js .devcheck/
stage=$(mktemp -d)
mkdir -p "$stage/node_modules/onnxruntime-node/bin/napi-v6/linux"
cp -r node_modules/onnxruntime-common "$stage/node_modules/"
cp -r node_modules/onnxruntime-node/package.json node_modules/onnxruntime-node/dist "$stage/node_modules/onnxruntime-node/"
cp -r node_modules/onnxruntime-node/bin/napi-v6/linux/x64 "$stage/node_modules/onnxruntime-node/bin/napi-v6/linux/"
tar -cJf .devcheck/ort.tar.xz -C "$stage" node_modules
rm -rf "$stage"
apt_arch=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
mkdir -p /tmp/amd64/partial
apt-get "${apt_arch[@]}" update -qq
(cd .gl && apt-get "${apt_arch[@]}" download libvulkan1)
du -sh .devcheck .gl
