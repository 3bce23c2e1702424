#!/usr/bin/env bash
# CPU step benchmark on the real MiniLM (sequence 128): LoRA vs AdaLoRA vs HyperAdaLoRA, interleaved.
# Writes benchmarks/results/step_cpu_minilm.json and step_cpu_minilm_table.md (the printed table).
# Usage: bash benchmarks/step_cpu_minilm.sh [--overwrite]
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
hyperadalora bench --preset minilm --batch-sizes 1 8 32 --seq-len 128 --warmup 2 --repeats 10 --threads 2 \
  --profile-batch-sizes 1 32 --out benchmarks/results/step_cpu_minilm.json --md benchmarks/results/step_cpu_minilm_table.md "$@"
