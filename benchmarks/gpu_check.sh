#!/usr/bin/env bash
# Every GPU figure of the full-size benchmarks in one call (issue 15): SDXL base's architecture
# with random weights (benchmarks/full_size.py, configs in benchmarks/configs/), fp16 on CUDA,
# 1024 px images / 4x128x128 latents, HPSv2's ViT-H-14:
#   1. collection_throughput.py  batched vs batch-1 collection, UNet share (npd_throughput)
#   2. model_overhead.py         golden-noise time / sampling time per image
#   3. reward_throughput.py      our HPSv2 scorer vs the hpsv2 package's pattern
# Sized to finish in about 4 minutes on one H200 (each step has its own timeout); prints every
# ratio at the end and exits non-zero if any step fails or times out. Nothing is downloaded.
#
# Usage: bash benchmarks/gpu_check.sh
# Environment (all optional):
#   PYTHON                 interpreter (default: .venv/bin/python if present, else python3)
#   GPU_CHECK_DEVICE       cuda (default) or cpu (a smoke run: pair it with a small scale)
#   GPU_CHECK_DTYPE        float16 (default on cuda; float32 on cpu)
#   GPU_CHECK_SCALE        width/depth factor of the random models (default 1 = full size)
#   GPU_CHECK_IMAGE_SIZE   image side in pixels (default 1024)
#   GPU_CHECK_COLLECT_ARGS / GPU_CHECK_OVERHEAD_ARGS / GPU_CHECK_REWARD_ARGS
#                          replace each step's sizes (defaults below)
#   GPU_CHECK_TIMEOUTS     seconds per step, "collect overhead reward" (default "150 120 150")
#   GPU_CHECK_LOG_DIR      where each step's log goes (default: a new temporary folder)
#   GPU_CHECK_DRY_RUN=1    print the commands and exit (no GPU needed)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
DEVICE=${GPU_CHECK_DEVICE:-cuda}
if [[ "$DEVICE" == cuda ]]; then DEFAULT_DTYPE=float16; else DEFAULT_DTYPE=float32; fi
DTYPE=${GPU_CHECK_DTYPE:-$DEFAULT_DTYPE}
SCALE=${GPU_CHECK_SCALE:-1}
IMAGE_SIZE=${GPU_CHECK_IMAGE_SIZE:-1024}
# Sizes: the sdxl profile's batch 8 (configs/sdxl/collect_noise_sequences.yaml), one seed per
# prompt; overhead at batch 1 and 8, CFG 5.5 and 1.0; 8 images of 1024 px for the scorers.
COLLECT_ARGS=${GPU_CHECK_COLLECT_ARGS:---prompts 8 --seeds 1 --batch-size 8 --batch1-samples 2}
OVERHEAD_ARGS=${GPU_CHECK_OVERHEAD_ARGS:---batch-sizes 1 8 --cfg-scales 5.5 1.0 --repeats 3}
REWARD_ARGS=${GPU_CHECK_REWARD_ARGS:---images 8 --batch-size 8 --repeats 2}
read -r COLLECT_TIMEOUT OVERHEAD_TIMEOUT REWARD_TIMEOUT <<<"${GPU_CHECK_TIMEOUTS:-150 120 150}"
MODEL_ARGS=(--model sdxl-random --device "$DEVICE" --dtype "$DTYPE" --scale "$SCALE")

read -r -a collect_args <<<"$COLLECT_ARGS"
read -r -a overhead_args <<<"$OVERHEAD_ARGS"
read -r -a reward_args <<<"$REWARD_ARGS"
STEPS=(collection_throughput model_overhead reward_throughput)
declare -A COMMAND TIMEOUT
COMMAND[collection_throughput]="$PYTHON benchmarks/collection_throughput.py ${MODEL_ARGS[*]} --image-size $IMAGE_SIZE ${collect_args[*]}"
COMMAND[model_overhead]="$PYTHON benchmarks/model_overhead.py ${MODEL_ARGS[*]} --image-size $IMAGE_SIZE ${overhead_args[*]}"
COMMAND[reward_throughput]="$PYTHON benchmarks/reward_throughput.py ${MODEL_ARGS[*]} --image-size $IMAGE_SIZE ${reward_args[*]}"
TIMEOUT[collection_throughput]=$COLLECT_TIMEOUT
TIMEOUT[model_overhead]=$OVERHEAD_TIMEOUT
TIMEOUT[reward_throughput]=$REWARD_TIMEOUT

if [[ "${GPU_CHECK_DRY_RUN:-0}" == 1 ]]; then
    for step in "${STEPS[@]}"; do
        echo "gpu_check: would run (timeout ${TIMEOUT[$step]} s): ${COMMAND[$step]}"
    done
    exit 0
fi

if [[ "$DEVICE" == cuda ]]; then
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        echo "gpu_check: no GPU: nvidia-smi is not on PATH; this check needs an NVIDIA GPU" \
            "(GPU_CHECK_DEVICE=cpu with a small GPU_CHECK_SCALE runs it on the CPU)." >&2
        exit 2
    fi
    if ! nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; then
        echo "gpu_check: no GPU: nvidia-smi failed (no NVIDIA GPU or driver visible)." >&2
        exit 2
    fi
fi
if ! "$PYTHON" - "$DEVICE" <<'PY'
import sys

import torch

device = sys.argv[1]
print(f"gpu_check: torch {torch.__version__}, CUDA build {torch.version.cuda}", flush=True)
if device == "cuda":
    if not torch.cuda.is_available():
        sys.exit("gpu_check: no GPU: torch.cuda.is_available() is False for this torch build.")
    print(f"gpu_check: torch sees {torch.cuda.get_device_name(0)}")
import diffusers, open_clip, timm, transformers  # noqa: E401, F401  (fail before any step)
PY
then
    echo "gpu_check: $PYTHON cannot run the benchmarks on $DEVICE (see above)." >&2
    exit 2
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1  # nothing is downloaded
export DIFFUSERS_VERBOSITY=error TQDM_DISABLE=1 PYTHONUNBUFFERED=1  # keep the figures readable
LOG_DIR=${GPU_CHECK_LOG_DIR:-$(mktemp -d -t gpu_check.XXXXXX)}
mkdir -p "$LOG_DIR"
echo "gpu_check: device $DEVICE, dtype $DTYPE, scale $SCALE, images ${IMAGE_SIZE} px; logs in $LOG_DIR"

failed=()
start_all=$SECONDS
for step in "${STEPS[@]}"; do
    log="$LOG_DIR/$step.log"
    echo
    echo "=== $step (timeout ${TIMEOUT[$step]} s): ${COMMAND[$step]}"
    start=$SECONDS
    read -r -a argv <<<"${COMMAND[$step]}"
    if timeout --kill-after=15 "${TIMEOUT[$step]}" "${argv[@]}" 2>&1 | tee "$log"; then
        echo "=== $step: done in $((SECONDS - start)) s"
    else
        status=${PIPESTATUS[0]}
        if [[ $status == 124 || $status == 137 ]]; then
            echo "=== $step: TIMED OUT after ${TIMEOUT[$step]} s (exit $status)"
        else
            echo "=== $step: FAILED (exit $status) after $((SECONDS - start)) s"
        fi
        failed+=("$step")
    fi
done

echo
echo "=== gpu_check summary (device $DEVICE, dtype $DTYPE, scale $SCALE," \
    "${IMAGE_SIZE} px; $((SECONDS - start_all)) s in all)"
for step in "${STEPS[@]}"; do
    echo "--- $step"
    # each script prints its figures from its "device:" line on
    sed -n '/^device: /,$p' "$LOG_DIR/$step.log" 2>/dev/null || true
done
if ((${#failed[@]})); then
    echo "gpu_check: FAILED: ${failed[*]} (logs in $LOG_DIR)" >&2
    exit 1
fi
echo "gpu_check: all ${#STEPS[@]} benchmarks finished"
