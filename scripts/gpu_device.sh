#!/usr/bin/env bash
# On a lent device machine, carrying .gpu (scripts/gpu_payload.py): unpack the train split, continue the long run
# on its GPU for MINUTES from the packed checkpoint, and leave the new checkpoint in $OUT to come back.
#   scripts/gpu_device.sh MINUTES [trainer arguments]
# 8 minutes fit a 10-minute call: unpacking, loading the images and saving take about one more.
# PAYLOAD (default .gpu) is the packed folder, SCRATCH (default /tmp) where the images and the run go.
set -euo pipefail
minutes=${1:?usage: scripts/gpu_device.sh MINUTES [trainer arguments]}
shift
cd "$(dirname "$0")/.."
out=${OUT:?OUT is the folder that comes back from the device machine}
payload=${PAYLOAD:-.gpu} scratch=${SCRATCH:-/tmp}
py=${PYTHON:-python3}
"$py" scripts/gpu_payload.py unpack --payload "$payload" --data "$scratch/celeba64"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
D2C_GIT_COMMIT=$(cat "$payload/commit") DATA="$scratch/celeba64" WARM_START="$payload/start" \
  RUN_DIR="$scratch/gpu" PYTHON="$py" \
  scripts/train_gpu.sh "$minutes" --quiet "$@"
for name in config.json model.safetensors teacher_head.safetensors card.json card.md samples.png reconstructions.png; do
  cp "$scratch/gpu/$name" "$out/"
done
grep -iE "steps|images|epochs|minutes" "$scratch/gpu/card.md" | head -20
