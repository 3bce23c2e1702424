#!/usr/bin/env bash
# The GPU step benchmark, prepared for a session whose task is lent a device machine (one H200; about 6-8 min).
# Run it from the repository root THROUGH THE DEVICE TOOL, e.g. run(command="bash benchmarks/gpu_check.sh",
# timeout_s=600), then give_back. It installs the project (no network there: no build isolation, no deps;
# the image has torch, transformers, peft, accelerate, safetensors but not datasets or rouge-score, which the
# bench never imports), runs a CUDA smoke test on tiny-llama, then `hyperadalora bench` on the
# Llama-3.1-8B and Qwen2.5-7B architectures (random bf16 weights, no download) at sequence 512 for the default
# (0.3: generation="gradient", attention_block="auto": eq. 8 up to 256 rows, blocks of 128 above;
# hypernet_checkpointing="auto", on at these shapes), without checkpointing, and with full attention over every row
# and no checkpointing (0.2's default; hypernet_compile is left out: its compilation would not fit the lease), then, where there
# are 2+ GPUs, the FSDP2 path of `hyperadalora train` on a tiny LLaMA; it writes into $OUT:
#   step_gpu_llama-3.1-8b.json/.md, step_gpu_qwen2.5-7b.json/.md, fsdp2.log (2+ GPUs), gpu_check.log
# Set the predictions of benchmarks/results/cost_model_8b.md beside the measured ratios.
# Commit those under benchmarks/results/ with the date, the GPU and the commit (printed first) named.
# Batch sizes that run out of memory are recorded as such and the larger ones skipped.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo 'unknown (no .git on the device copy; note it from the session)')"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  $PY -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"
} 2>&1 | tee "$LOG"

if ! $PY -m pip install -q --no-deps --no-build-isolation -e . >>"$LOG" 2>&1; then
  echo "pip install -e . failed; using PYTHONPATH=src" | tee -a "$LOG"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

bench() {  # bench NAME SECONDS ARGS...: one run, bounded, its failure logged but not fatal
  local name=$1 seconds=$2
  shift 2
  echo "=== $name: $*" | tee -a "$LOG"
  timeout "$seconds" $PY -m hyperadalora.bench.step --device cuda --overwrite \
    --out "$OUT/step_gpu_$name.json" --md "$OUT/step_gpu_$name.md" "$@" 2>&1 | tee -a "$LOG"
  echo "=== $name: exit ${PIPESTATUS[0]}" | tee -a "$LOG"
}

# Smoke: the CUDA code paths (events, peak memory, profiler with CUDA activity) on a 2-layer model.
bench smoke-tiny-llama 90 --preset tiny-llama --seq-len 128 --batch-sizes 1 4 --warmup 1 --repeats 2 \
  --profile-batch-sizes 4 --profile-steps 1

# The paper's Table 4 sizes at sequence 512; profile at batch 8 (GPU kernel time by region).
METHODS=(lora adalora hyperadalora hyperadalora:hypernet_checkpointing=false
         hyperadalora:attention_block=full,hypernet_checkpointing=false)
bench llama-3.1-8b 200 --preset llama-3.1-8b --seq-len 512 --batch-sizes 1 4 8 16 32 --warmup 2 --repeats 4 \
  --methods "${METHODS[@]}" --profile-batch-sizes 8 --profile-steps 2
bench qwen2.5-7b 200 --preset qwen2.5-7b --seq-len 512 --batch-sizes 1 4 8 16 32 --warmup 2 --repeats 4 \
  --methods "${METHODS[@]}" --profile-batch-sizes 8 --profile-steps 2

# FSDP2 for the frozen base on 2 GPUs (docs/reliability.md), when the machine has them.
if [ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ]; then
  $PY - <<'PYEOF' >>"$LOG" 2>&1
import sys; sys.path.insert(0, "tests")
from pathlib import Path
from train.train_fixtures import write_rte, write_tiny_bert
write_rte(Path("/tmp/fsdp_assets/RTE")); write_tiny_bert(Path("/tmp/fsdp_assets/bert"))
PYEOF
  ACCELERATE_USE_FSDP=true FSDP_VERSION=2 timeout 120 $PY -m torch.distributed.run --standalone --nproc_per_node 2 \
    -m hyperadalora train --task rte --data /tmp/fsdp_assets/RTE --model /tmp/fsdp_assets/bert --out "$OUT/fsdp2_run" \
    --max-steps 6 --batch-size 8 --tinit 1 --tfinal 1 --no-progress 2>&1 | tee "$OUT/fsdp2.log" | tail -3 | tee -a "$LOG"
else
  echo "=== fsdp2: skipped (fewer than 2 GPUs)" | tee -a "$LOG"
fi
ls -l "$OUT" | tee -a "$LOG"
