#!/usr/bin/env bash
# SD-scale distillation on a GPU machine (never in CI): an SD 1.5-shaped U-Net (bench/gen_sd_unet.py, random weights,
# 64x64 latents, 77x768 conditions) is the teacher, the same with three attention blocks bypassed the student,
# random CLIP-sized embeddings the conditions. Trains on CUDA (bf16 autocast) and a couple of steps on the CPU, and
# prints each run's samples/s, time to first step and peak GPU memory. The toy example models are launch-bound on a
# GPU; this is the size where the GPU's throughput shows.
#   [RUNS="cuda cuda-unfused cpu"] bash bench/gpu/sd_distill.sh [WIDTH]      WIDTH 1.0 (default) = SD 1.5's 860M parameters
set -u -o pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d)}
W=${1:-1.0}
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD/python PYTHONUNBUFFERED=1
P=/tmp/sd-pipe
rm -rf "$P" /tmp/sd-run-*
mkdir -p "$P"
t0=$(date +%s)
echo "== SD 1.5-shaped U-Net, width $W"
GEN_THREADS=$(nproc) timeout 240 $PY bench/gen_sd_unet.py "$P/unet" --width-mult "$W" | tee "$OUT/gen.json" || exit 1
timeout 150 $PY bench/gpu/sd_pipeline.py "$P" --bypass mid_block.attentions.0 --bypass down_blocks.2.attentions.1 \
  --bypass up_blocks.1.attentions.2 | tee "$OUT/pipeline.json" || exit 1
echo "prepared in $(( $(date +%s) - t0 )) s"

common=(--student "$P/unet/model.pruned.onnx" --teacher "$P" --conditions "$P/conditions.npy" --checkpoint-every 0
        --log-every 5 --no-export)
run() {
  local name=$1 limit=$2; shift 2
  local s; s=$(date +%s)
  timeout "$limit" $PY -m ld_surgeon_distill "${common[@]}" --run-dir "/tmp/sd-run-$name" "$@" > "$OUT/$name.jsonl" 2> "$OUT/$name.log"
  echo "$name: exit $? in $(( $(date +%s) - s )) s"
  $PY - "$OUT/$name.jsonl" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
start = next((e for e in ev if e["event"] == "start"), {})
setup = next((e for e in ev if e["event"] == "setup"), {})
data = next((e for e in ev if e["event"] == "data"), {})
steps = [e for e in ev if e["event"] == "step"]
print(" ", start.get("device"), start.get("device_name"), start.get("precision"), "torch", start.get("torch"),
      "| parameters", setup.get("parameters"), "| fused attentions", setup.get("fused_attentions"), "| setup",
      setup.get("seconds"), "s, data", data.get("seconds"), "s")
if steps:
    sps = sorted(s["samples_per_s"] for s in (steps[1:] or steps))
    print("  steps", steps[-1]["step"], "batch", start.get("batch_size"), "loss", round(steps[0]["loss"], 4), "->",
          round(steps[-1]["loss"], 4), "| median samples/s", sps[len(sps) // 2])
for e in ev:
    if e["event"] == "eval":
        print("  eval step", e["step"], {k: round(v, 4) for k, v in e["metrics"].items()})
    if e["event"] in ("done", "error", "cancelled"):
        print("  " + e["event"], {k: e[k] for k in e if k in ("message", "best_step", "gpu_memory_peak_gb", "seconds")})
PYEOF
}
# RUNS picks which: cuda (fused attention, the default), cuda-unfused (attention node by node as exported), cpu
RUNS=${RUNS:-cuda cpu}
cuda_args=(--device cuda --steps 40 --batch-size 8 --data-samples 32 --data-steps 10 --eval-samples 8 --eval-steps 10
           --eval-every 20)
has_cuda() { $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; }
for r in $RUNS; do
  case $r in
    cuda) if has_cuda; then run cuda 240 "${cuda_args[@]}"; else echo "no CUDA device: $r skipped"; fi ;;
    cuda-unfused) if has_cuda; then run cuda-unfused 240 "${cuda_args[@]}" --no-fused-attention; else echo "no CUDA device: $r skipped"; fi ;;
    # the CPU can only afford a taste: one sample per batch, one-step data and evaluations; its samples/s is the point
    cpu) run cpu "${CPU_LIMIT:-150}" --device cpu --steps 3 --batch-size 1 --data-samples 2 --data-steps 1 \
           --eval-samples 1 --eval-steps 1 --eval-every 0 --log-every 1 ;;
  esac
done
echo "total $(( $(date +%s) - t0 )) s"
