#!/usr/bin/env bash
# The step-time options of issue #4 against the default, side by side in one process (methods interleaved):
# MiniLM, CPU, sequence 128, batch 1 and 32, one torch thread. commit_every=4 runs the commit's no-grad
# hypernetwork forward once per 4 steps (8 repeats = 2 commits per method); adding attention_block=128 makes the
# hypernetworks' attention block-local as well. Writes benchmarks/results/step_cpu_minilm_commit_every{.json,_table.md}.
# Usage: bash benchmarks/step_cpu_minilm_commit_every.sh [--overwrite]
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
hyperadalora bench --preset minilm --batch-sizes 1 32 --seq-len 128 --warmup 2 --repeats 8 --threads 1 --no-memory \
  --profile-batch-sizes --methods lora adalora hyperadalora hyperadalora:commit_every=4 \
  hyperadalora:commit_every=4,attention_block=128 \
  --out benchmarks/results/step_cpu_minilm_commit_every.json \
  --md benchmarks/results/step_cpu_minilm_commit_every_table.md "$@"
