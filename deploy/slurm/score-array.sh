#!/bin/bash
# LD-Pruner scoring as a Slurm job array: one shard of the candidates per array task.
#
#   PIPELINE=/data/sd-pipeline sbatch --array=1-8 deploy/slurm/score-array.sh
#   # then, when all tasks are done (or chained: sbatch --dependency=afterok:<jobid> ...):
#   PIPELINE=/data/sd-pipeline SHARDS=8 sbatch deploy/slurm/merge.sh
#
# Each task writes $OUT_DIR/model.ldscores.shard-<i>-of-<n>.json. A task that is requeued (preemption,
# node failure) resumes its own shard file; to re-submit one task by hand, give the array's size:
#   PIPELINE=... SHARDS=8 sbatch --array=3 deploy/slurm/score-array.sh Keep every setting identical across tasks
# and pin --ep: shards scored on different providers do not merge.
#SBATCH --job-name=ld-surgeon-score
#SBATCH --array=1-8
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=08:00:00
#SBATCH --requeue
#SBATCH --output=ld-surgeon-score-%A_%a.log
set -euo pipefail

: "${PIPELINE:?set PIPELINE to the pipeline folder (model_index.json, unet/, vae_decoder/, scheduler/)}"
# SHARDS set: a single task re-submitted on its own (sbatch --array=3) keeps the split of the whole array.
SHARDS="${SHARDS:-${SLURM_ARRAY_TASK_COUNT:-8}}"
OUT_DIR="${OUT_DIR:-$PIPELINE/unet}"
SCRATCH="${SLURM_TMPDIR:-${TMPDIR:-/tmp}}"

exec ld-surgeon score "$PIPELINE" \
  --shard "${SLURM_ARRAY_TASK_ID}/${SHARDS}" \
  --samples "${SAMPLES:-16}" --steps "${STEPS:-25}" --granularity "${GRANULARITY:-both}" --seed "${SEED:-0}" \
  --ep "${EP:-cuda}" \
  --quiet --top 0 \
  --work-dir "$SCRATCH" \
  --out "$OUT_DIR/model.ldscores.shard-${SLURM_ARRAY_TASK_ID}-of-${SHARDS}.json"
