#!/usr/bin/env bash
# Rebuilds every example pipeline from scratch: data, VAEs, metric classifiers, U-Nets, ONNX
# exports + evaluation (examples/*), golden values (test/fixtures/golden/*) and RESULTS.md.
#   training/build_all.sh [quick|full]      (default full; quick = correctly shaped, barely trained)
# Two lanes run in parallel (the machine has 2 cores); logs go to training/logs/ (git-ignored).
set -euo pipefail
MODE="${1:-full}"
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE"
PY=/usr/bin/python3
# one thread per process (torch and the OpenBLAS pool it calls for matmuls): on a shared machine
# a second thread per process oversubscribes the cores and slows everything down
export TRAIN_THREADS="${TRAIN_THREADS:-1}"
export OMP_NUM_THREADS="$TRAIN_THREADS" OPENBLAS_NUM_THREADS="$TRAIN_THREADS" MKL_NUM_THREADS="$TRAIN_THREADS"
mkdir -p logs cache
rm -f cache/results.json

run() {  # run <log-name> <script> <args...>
  local name="$1"; shift
  echo "[$(date +%T)] start $name"
  if ! "$PY" "$@" --mode "$MODE" > "logs/$name.log" 2>&1; then
    echo "[$(date +%T)] FAILED $name (see training/logs/$name.log)"; tail -n 20 "logs/$name.log"; return 1
  fi
  echo "[$(date +%T)] done  $name"
}

lane_digits() {
  run vae_digits train_vae.py digits
  run classifier_digits train_classifier.py digits
  run unet_digits-cond train_unet.py digits-cond
  run export_digits-cond export.py digits-cond
  # the diffusion transformer reuses the digits-cond folder's VAE, text encoder and metric files
  run dit_digits-dit-stage1 train_dit.py --stage 1
  run dit_digits-dit train_dit.py --stage 2
  # the SDXL-shaped pipeline (two text encoders, text_embeds + time_ids) reuses digits-cond's VAE and metric files
  run xl_digits-xl train_xl.py
}

lane_audio() {
  run vae_audio train_vae.py audio
  run classifier_audio train_classifier.py audio
  run unet_audio-digits train_unet.py audio-digits
  run export_audio-digits export.py audio-digits
  # the digits VAE/classifier come from the other lane
  while [ ! -f cache/.digits_ready ]; do sleep 10; done
  run unet_digits-uncond train_unet.py digits-uncond
  run export_digits-uncond export.py digits-uncond
}

rm -f cache/.digits_ready
START=$(date +%s)
( lane_digits ) & A=$!
( lane_audio ) & B=$!
# lets lane B go on to digits-uncond once the digits VAE and classifier exist
( while kill -0 $A 2>/dev/null && ! grep -q '"classifier:digits"' cache/results.json 2>/dev/null; do sleep 10; done
  touch cache/.digits_ready ) &
wait $A; wait $B
echo "[$(date +%T)] start golden"
"$PY" make_golden.py > logs/golden.log 2>&1
"$PY" verify_exports.py > logs/verify.log 2>&1 || { cat logs/verify.log; exit 1; }
node check_onnx_parity.mjs > logs/parity.log 2>&1 || { cat logs/parity.log; exit 1; }
"$PY" write_results.py --total-seconds $(( $(date +%s) - START )) --mode "$MODE"
echo "[$(date +%T)] all done in $(( $(date +%s) - START )) s"
