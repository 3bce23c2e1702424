#!/usr/bin/env bash
# Issue #16: every method users would pick instead of AdaLoRA, at its swept best under the linear schedule, on
# SST-2 and NLG (3 seeds), then the constant-schedule table. Two lanes run side by side on a 2-core CPU (one torch
# thread each); `all` merges them into one folder per task (identical runs are copied, never retrained):
#   bash benchmarks/compare_baselines.sh laneA & bash benchmarks/compare_baselines.sh laneB; wait
#   bash benchmarks/compare_baselines.sh merge
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
R=benchmarks/results
SST2_GRID=(--lr-sweep --sweep-grid 3e-4,1e-3,3e-3,1e-2,3e-2,1e-1 --sweep-steps 80)
NLG_GRID=(--lr-sweep --sweep-grid 1e-3,3e-3,1e-2,3e-2,1e-1 --sweep-steps 80)
SST2=(--experiment baselines --task sst2 --threads 1 --reuse-from $R/compare_linear_sst2)
NLG=(--experiment nlg-baselines --threads 1 --reuse-from $R/compare_linear_nlg)
# AdaLoRA's final smoothed loss under the linear schedule (compare_linear_*): the target of a lane without it
SST2_TARGET=0.3620
NLG_TARGET=2.8027
case "${1:-}" in
  laneA)
    hyperadalora compare "${SST2[@]}" "${SST2_GRID[@]}" --methods adalora,lora,loraplus,lora_pissa,lora_ga,lora_prodigy --out $R/baselines_sst2_laneA
    hyperadalora compare "${NLG[@]}" "${NLG_GRID[@]}" --methods adalora,lora,loraplus,lora_pissa,lora_ga,lora_prodigy --out $R/baselines_nlg_laneA
    ;;
  laneB)
    hyperadalora compare "${SST2[@]}" "${SST2_GRID[@]}" --methods hyperadalora,per_matrix,lora_schedulefree,adalora_schedulefree,adalora_prodigy --target-loss $SST2_TARGET --out $R/baselines_sst2_laneB
    hyperadalora compare "${NLG[@]}" "${NLG_GRID[@]}" --methods hyperadalora,per_matrix,lora_schedulefree,adalora_schedulefree,adalora_prodigy --target-loss $NLG_TARGET --out $R/baselines_nlg_laneB
    ;;
  merge)
    hyperadalora compare "${SST2[@]}" "${SST2_GRID[@]}" --reuse-from $R/baselines_sst2_laneA --reuse-from $R/baselines_sst2_laneB --out $R/compare_baselines_sst2
    hyperadalora compare "${NLG[@]}" "${NLG_GRID[@]}" --reuse-from $R/baselines_nlg_laneA --reuse-from $R/baselines_nlg_laneB --out $R/compare_baselines_nlg
    ;;
  *) echo "usage: $0 laneA|laneB|merge" >&2; exit 2 ;;
esac
