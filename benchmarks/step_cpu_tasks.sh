#!/usr/bin/env bash
# The bench time ratio of the comparisons: the interleaved CPU step benchmark of their methods on the shapes each
# task trains with (batch 16; sequence = the task's max length: SST-2 64, MRPC 128 on MiniLM, NLG 256 on
# stories260k; the runs pad per batch, so their own steps are shorter: the ratios, not the ms, carry over). One
# torch thread, the methods interleaved step by step in one process. `compare --bench` multiplies each step ratio
# by these per-step ratios (benchmarks/compare_defaults.sh picks the files up by name).
# `defaults` (issue #17, 0.3's default and the methods of compare_defaults_*) writes
# benchmarks/results/step_cpu_{sst2,mrpc,nlg}_defaults.json; `baselines` (issue #16, 0.2) wrote
# step_cpu_{sst2,mrpc,nlg}_shapes.json with every baseline of compare_baselines_*.
# `levers` writes step_cpu_{sst2,nlg}_levers.json: the default with a 4-step hypergradient horizon and with progress
# features (issue #17's last two levers).
# Usage: bash benchmarks/step_cpu_tasks.sh defaults|levers|baselines [--overwrite]
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
R=benchmarks/results
COMMON=(--batch-sizes 16 --warmup 2 --repeats 8 --threads 1 --profile-batch-sizes --memory-steps 2)
which=${1:-}; shift || true
case "$which" in
  defaults)
    DEF=(lora adalora loraplus hyperadalora hyperadalora:generation=per_matrix)
    hyperadalora bench --preset minilm --seq-len 64 --methods "${DEF[@]}" hyperadalora:attention_block=full "${COMMON[@]}" \
      --out $R/step_cpu_sst2_defaults.json --md $R/step_cpu_sst2_defaults_table.md "$@"
    hyperadalora bench --preset stories260k --seq-len 256 --methods "${DEF[@]}" "${COMMON[@]}" \
      --out $R/step_cpu_nlg_defaults.json --md $R/step_cpu_nlg_defaults_table.md "$@"
    hyperadalora bench --preset minilm --seq-len 128 --methods "${DEF[@]}" "${COMMON[@]}" \
      --out $R/step_cpu_mrpc_defaults.json --md $R/step_cpu_mrpc_defaults_table.md "$@"
    ;;
  levers)  # issue #17's last two levers as options of the default (benchmarks/screens_levers.sh), beside AdaLoRA
    LEV=(adalora hyperadalora hyperadalora:hypergradient_horizon=4 hyperadalora:progress_features=true)
    hyperadalora bench --preset minilm --seq-len 64 --methods "${LEV[@]}" "${COMMON[@]}" \
      --out $R/step_cpu_sst2_levers.json --md $R/step_cpu_sst2_levers_table.md "$@"
    hyperadalora bench --preset stories260k --seq-len 256 --methods "${LEV[@]}" "${COMMON[@]}" \
      --out $R/step_cpu_nlg_levers.json --md $R/step_cpu_nlg_levers_table.md "$@"
    ;;
  baselines)  # as issue #16 ran it, on 0.2 (HyperAdaLoRA's default then: normal start, full attention)
    V02=attention_block=full,hypernet_checkpointing=false
    ALL=(lora adalora hyperadalora:$V02 hyperadalora:generation=per_matrix,$V02 loraplus lora:optimizer=prodigy
         adalora:optimizer=prodigy lora:optimizer=schedulefree adalora:optimizer=schedulefree)
    hyperadalora bench --preset minilm --seq-len 64 --methods "${ALL[@]}" "${COMMON[@]}" \
      --out $R/step_cpu_sst2_shapes.json --md $R/step_cpu_sst2_shapes_table.md "$@"
    hyperadalora bench --preset stories260k --seq-len 256 --methods "${ALL[@]}" "${COMMON[@]}" \
      --out $R/step_cpu_nlg_shapes.json --md $R/step_cpu_nlg_shapes_table.md "$@"
    hyperadalora bench --preset minilm --seq-len 128 --methods lora adalora hyperadalora:$V02 \
      hyperadalora:generation=per_matrix,$V02 loraplus "${COMMON[@]}" --out $R/step_cpu_mrpc_shapes.json --md $R/step_cpu_mrpc_shapes_table.md "$@"
    ;;
  *) echo "usage: $0 defaults|levers|baselines [--overwrite]" >&2; exit 2 ;;
esac
