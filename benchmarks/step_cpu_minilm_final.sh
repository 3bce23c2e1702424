#!/usr/bin/env bash
# Final re-run near the deadline on the then-current core: MiniLM, CPU, sequence 128, batch 1 and 32, one torch
# thread, interleaved; the default HyperAdaLoRA (hidden 32, 2 heads, ffn 128) against LoRA, AdaLoRA and the
# hypernetwork widths 64 (2 heads, ffn 128) and the first default (hidden 64, 4 heads, ffn 256).
# Writes benchmarks/results/step_cpu_minilm_final.json and step_cpu_minilm_final_table.md.
# Usage: bash benchmarks/step_cpu_minilm_final.sh [--overwrite]
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
hyperadalora bench --preset minilm --batch-sizes 1 32 --seq-len 128 --warmup 1 --repeats 5 --threads 1 --no-memory \
  --profile-batch-sizes --methods lora adalora hyperadalora hyperadalora:hypernet_hidden=64 \
  hyperadalora:hypernet_hidden=64,hypernet_heads=4,hypernet_ffn=256 \
  --out benchmarks/results/step_cpu_minilm_final.json --md benchmarks/results/step_cpu_minilm_final_table.md "$@"
