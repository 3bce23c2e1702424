#!/usr/bin/env bash
# Where HyperAdaLoRA's step time goes on MiniLM (CPU, sequence 128, batch 1 and 32, one torch thread): the
# profiled breakdown of every method (hypernetworks forward/backward/commit, adapter matmuls, base model).
# Writes benchmarks/results/step_cpu_minilm_profile.json and step_cpu_minilm_profile_table.md.
# Usage: bash benchmarks/step_cpu_minilm_profile.sh [--overwrite]
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
hyperadalora bench --preset minilm --batch-sizes 1 32 --seq-len 128 --warmup 1 --repeats 2 --threads 1 --no-memory \
  --profile-batch-sizes 1 32 --profile-steps 2 \
  --out benchmarks/results/step_cpu_minilm_profile.json --md benchmarks/results/step_cpu_minilm_profile_table.md "$@"
