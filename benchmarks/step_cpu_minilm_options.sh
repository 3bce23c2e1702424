#!/usr/bin/env bash
# The hypernetwork options (they change the method) against the default, LoRA and AdaLoRA: MiniLM, CPU,
# sequence 128, batch 32, interleaved, one torch thread. Writes
# benchmarks/results/step_cpu_minilm_options.json and step_cpu_minilm_options_table.md.
# Usage: bash benchmarks/step_cpu_minilm_options.sh [--overwrite]
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
hyperadalora bench --preset minilm --batch-sizes 32 --seq-len 128 --warmup 1 --repeats 4 --threads 1 --no-memory \
  --profile-batch-sizes --methods lora adalora hyperadalora hyperadalora:hypernet_hidden=32 \
  hyperadalora:hypernet=mlp hyperadalora:hypernet=cnn hyperadalora:attention_block=128 \
  --out benchmarks/results/step_cpu_minilm_options.json --md benchmarks/results/step_cpu_minilm_options_table.md "$@"
