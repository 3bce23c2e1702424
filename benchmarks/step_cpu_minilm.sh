#!/usr/bin/env bash
# Issue #19's MiniLM targets: the CPU step benchmark on the real MiniLM (sequence 128, one torch thread) of LoRA, AdaLoRA
# and HyperAdaLoRA's default (0.3: orthonormal start, blocks of 128 rows, hypernet_checkpointing "auto" = on here), with
# the options that change its cost: full attention over every row (eq. 8, 0.2's default), checkpointing off, the MLP
# hypernetwork; interleaved step by step in one process, with the profile at batch 1 and 32 and the peak RSS of one
# process per method and batch size.
# Writes benchmarks/results/step_cpu_minilm.json and step_cpu_minilm_table.md (the printed table).
# Usage: bash benchmarks/step_cpu_minilm.sh [--overwrite]
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
hyperadalora bench --preset minilm --batch-sizes 1 32 --seq-len 128 --warmup 1 --repeats 8 --threads 1 \
  --methods lora adalora hyperadalora hyperadalora:attention_block=full hyperadalora:hypernet_checkpointing=false \
  hyperadalora:hypernet=mlp \
  --profile-batch-sizes 1 32 --profile-steps 2 --memory-steps 2 \
  --out benchmarks/results/step_cpu_minilm.json --md benchmarks/results/step_cpu_minilm_table.md "$@"
