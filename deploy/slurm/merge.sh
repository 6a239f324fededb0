#!/bin/bash
# Joins the shard files written by score-array.sh into $OUT_DIR/model.ldscores.json.
#SBATCH --job-name=ld-surgeon-merge
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=00:10:00
#SBATCH --output=ld-surgeon-merge-%j.log
set -euo pipefail

: "${PIPELINE:?set PIPELINE to the pipeline folder}"
SHARDS="${SHARDS:-8}"
OUT_DIR="${OUT_DIR:-$PIPELINE/unet}"

exec ld-surgeon merge-scores "$OUT_DIR"/model.ldscores.shard-*-of-"${SHARDS}".json --out "$OUT_DIR/model.ldscores.json"
