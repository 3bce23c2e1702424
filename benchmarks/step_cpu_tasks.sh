#!/usr/bin/env bash
# Issue #16's time ratio: the interleaved CPU step benchmark of every method of the comparison, on the shapes each
# task trains with (batch 16; sequence = the task's max length: SST-2 64, MRPC 128 on MiniLM, NLG 256 on
# stories260k; the runs pad per batch, so their own steps are shorter: the ratios, not the ms, carry over). One
# torch thread, the methods interleaved step by step in one process. `compare --bench` multiplies each step
# ratio by these per-step ratios (benchmarks/compare_baselines.sh picks the files up by name).
# Writes benchmarks/results/step_cpu_{sst2,mrpc,nlg}_shapes.json and _table.md.
# Usage: bash benchmarks/step_cpu_tasks.sh [--overwrite]
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
R=benchmarks/results
ALL=(lora adalora hyperadalora hyperadalora:generation=per_matrix loraplus lora:optimizer=prodigy
     adalora:optimizer=prodigy lora:optimizer=schedulefree adalora:optimizer=schedulefree)
COMMON=(--batch-sizes 16 --warmup 2 --repeats 8 --threads 1 --profile-batch-sizes --memory-steps 2)
hyperadalora bench --preset minilm --seq-len 64 --methods "${ALL[@]}" "${COMMON[@]}" \
  --out $R/step_cpu_sst2_shapes.json --md $R/step_cpu_sst2_shapes_table.md "$@"
hyperadalora bench --preset stories260k --seq-len 256 --methods "${ALL[@]}" "${COMMON[@]}" \
  --out $R/step_cpu_nlg_shapes.json --md $R/step_cpu_nlg_shapes_table.md "$@"
hyperadalora bench --preset minilm --seq-len 128 --methods lora adalora hyperadalora hyperadalora:generation=per_matrix \
  loraplus "${COMMON[@]}" --out $R/step_cpu_mrpc_shapes.json --md $R/step_cpu_mrpc_shapes_table.md "$@"
