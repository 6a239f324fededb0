#!/usr/bin/env bash
# One-shot proof of the GPU paths, run on a machine with an NVIDIA GPU (never in CI): the distillation trainer on
# CUDA PyTorch (autocast, evaluation, export) beside the same trainer on the CPU, and LD-Pruner scoring through
# onnxruntime-node with the WebGPU execution provider beside the CPU one, when Node is there. Prints what ran
# where and the timings; writes the trainers' JSON events and the score files' provider records under $OUT.
#
# Prepare here first (the GPU machine has no npm and no internet): bash bench/gpu/prepare.sh PRUNED_PIPELINE
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d)}
export PYTHONPATH=$PWD/python PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
now() { date +%s.%N; }
secs() { echo "$1 $2" | awk '{printf "%.1f", $2 - $1}'; }

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
$PY -c "import sys, torch, onnx, numpy; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'onnx', onnx.__version__, 'numpy', numpy.__version__)"
$PY -m ld_surgeon_distill --check | tee "$OUT/check.json"

echo "== distillation: CUDA vs CPU"
STUDENT=/tmp/ldsd-student
rm -rf "$STUDENT" && cp -r examples/digits-cond "$STUDENT" && cp .devcheck/pruned-unet/* "$STUDENT/unet/"
distill() {
  local name=$1; shift
  local t0; t0=$(now)
  rm -rf "/tmp/run-$name" "/tmp/$name.distilled.onnx"
  timeout 240 $PY -m ld_surgeon_distill --student "$STUDENT" --teacher examples/digits-cond --batch-size 16 \
    --data-samples 256 --data-steps 10 --eval-steps 10 --checkpoint-every 0 --log-every 10 \
    --run-dir "/tmp/run-$name" --output "/tmp/$name.distilled.onnx" "$@" > "$OUT/distill-$name.jsonl"
  local rc=$?
  echo "distill $name: exit $rc in $(secs "$t0" "$(now)") s"
  $PY - "$OUT/distill-$name.jsonl" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
start = next((e for e in ev if e["event"] == "start"), {})
steps = [e for e in ev if e["event"] == "step"]
print(" device", start.get("device"), start.get("device_name"), "precision", start.get("precision"), "torch", start.get("torch"))
if steps:
    sps = sorted(s["samples_per_s"] for s in steps[1:] or steps)
    print(" steps", steps[-1]["step"], "loss", round(steps[0]["loss"], 4), "->", round(steps[-1]["loss"], 4),
          "median samples/s", round(sps[len(sps) // 2], 1))
for e in ev:
    if e["event"] == "eval":
        print(" eval step", e["step"], {k: round(v, 3) for k, v in e["metrics"].items()})
    if e["event"] in ("done", "error"):
        print(" ", e["event"], {k: e[k] for k in e if k not in ("event", "history")})
PYEOF
}
distill cuda --device cuda --steps 200 --eval-samples 200 --eval-every 100
distill cpu --device cpu --steps 30 --eval-samples 16 --eval-every 0 --no-export

echo "== scoring: onnxruntime-node WebGPU vs CPU"
if ! command -v node >/dev/null; then
  echo "no node on this machine: onnxruntime-node not run"
  exit 0
fi
node --version
tar -xJf .devcheck/ort.tar.xz
if ls .gl/*.deb >/dev/null 2>&1; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$ICD" ] && export VK_DRIVER_FILES=$ICD
for ep in webgpu cpu; do
  t0=$(now)
  timeout 150 node .devcheck/cli.js score examples/digits-cond --granularity block --samples 32 --steps 10 \
    --ep "$ep" --out "$OUT/score-$ep.json" > "/tmp/score-$ep.log" 2>&1
  rc=$?
  echo "score --ep $ep: exit $rc in $(secs "$t0" "$(now)") s"
  tail -3 "/tmp/score-$ep.log"
  [ -f "$OUT/score-$ep.json" ] && node -e "const s=require('$OUT/score-$ep.json'); console.log(' provider', JSON.stringify(s.executionProvider ?? s.settings?.executionProvider))"
done
