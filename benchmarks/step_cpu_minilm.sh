#!/usr/bin/env bash
# CPU step benchmark on the real MiniLM (sequence 128): LoRA vs AdaLoRA vs HyperAdaLoRA, interleaved, with the
# profile at batch 1 and 32 and the peak RSS of one process per method and batch size.
# One torch thread: on this 2-core machine shared with other jobs, 2 OpenMP threads stall at barriers
# (see step_cpu_minilm_run1_2threads.json: IQRs of 50 % of the median).
# Writes benchmarks/results/step_cpu_minilm.json and step_cpu_minilm_table.md (the printed table).
# Usage: bash benchmarks/step_cpu_minilm.sh [--overwrite]
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
hyperadalora bench --preset minilm --batch-sizes 1 8 32 --seq-len 128 --warmup 1 --repeats 6 --threads 1 \
  --profile-batch-sizes 1 32 --profile-steps 2 --memory-steps 2 \
  --out benchmarks/results/step_cpu_minilm.json --md benchmarks/results/step_cpu_minilm_table.md "$@"
