#!/usr/bin/env bash
# Continue the long run on one CUDA device for MINUTES, then save its state for copying back.
#   scripts/train_gpu.sh MINUTES [extra python -m model.training arguments, e.g. --device cpu --set max_steps=1]
# RUN_DIR (default runs/gpu) holds the state; with no state there it warm-starts from WARM_START (default the shipped
# checkpoint; on a lent device machine .gpu/start, which scripts/gpu_payload.py packs from the long run).
# DATA (default ../shared/data/celeba64) is the training set. BATCH (default 512) fills a large GPU; bf16 autocast;
# every rank of torchrun works the same way.
set -euo pipefail
minutes=${1:?usage: scripts/train_gpu.sh MINUTES [trainer arguments]}
shift
cd "$(dirname "$0")/.."
run=${RUN_DIR:-runs/gpu} data=${DATA:-../shared/data/celeba64} batch=${BATCH:-512}
start=${WARM_START:-checkpoints/celeba64}
py=${PYTHON:-.venv/bin/python}
command -v "$py" >/dev/null || py=python3
warm=()
if [[ ! -f "$run/train_state.pt" ]]; then warm=(--warm-start "$start"); fi
exec "$py" -m model.training --data "$data" --out "$run" --config model/training/configs/celeba64.json --resume \
  "${warm[@]}" --device cuda --precision bf16 --for-minutes "$minutes" --set "batch_size=$batch" --set checkpoint_minutes=5 "$@"
