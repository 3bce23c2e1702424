#!/usr/bin/env bash
# CPU step benchmark on the real MiniLM (sequence 128, one torch thread): LoRA, AdaLoRA and HyperAdaLoRA's default
# (generation="gradient", full attention over every row), with its cost options: block-local attention of 128 rows,
# the MLP hypernetwork, and the state-only increment rule of 0.1.0, interleaved step by step in one process, with
# the profile at batch 1 and 32 and the peak RSS of one process per method and batch size.
# Writes benchmarks/results/step_cpu_minilm.json and step_cpu_minilm_table.md (the printed table).
# Usage: bash benchmarks/step_cpu_minilm.sh [--overwrite]
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
hyperadalora bench --preset minilm --batch-sizes 1 32 --seq-len 128 --warmup 1 --repeats 8 --threads 1 \
  --methods lora adalora hyperadalora hyperadalora:attention_block=128 hyperadalora:hypernet=mlp \
  hyperadalora:generation=increment \
  --profile-batch-sizes 1 32 --profile-steps 2 --memory-steps 2 \
  --out benchmarks/results/step_cpu_minilm.json --md benchmarks/results/step_cpu_minilm_table.md "$@"
# The memory of hypernet_checkpointing (batch 1, where the hypernetworks' activations weigh most):
hyperadalora bench --preset minilm --batch-sizes 1 --seq-len 128 --warmup 1 --repeats 4 --threads 1 \
  --methods lora adalora hyperadalora:hypernet_checkpointing=true hyperadalora:hypernet=mlp,hypernet_checkpointing=true \
  --memory-steps 2 --out benchmarks/results/step_cpu_minilm_checkpointing.json \
  --md benchmarks/results/step_cpu_minilm_checkpointing_table.md "$@"
