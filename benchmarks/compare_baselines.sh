#!/usr/bin/env bash
# Issue #16: every method users would pick instead of AdaLoRA, at its swept best under the linear schedule, on
# SST-2, NLG and MRPC (3 seeds); the constant-schedule table; the rate-free optimizers at their default knob.
# Two lanes run side by side on a 2-core CPU (one torch thread each); `merge` puts the lanes of a task into one
# folder (identical runs are copied, never retrained). In the order they ran:
#   bash benchmarks/compare_baselines.sh laneA & bash benchmarks/compare_baselines.sh laneB; wait
#   (for x in merge constant default-knob mrpcB; do bash benchmarks/compare_baselines.sh $x; done) &
#   (bash benchmarks/compare_baselines.sh mrpcA; bash benchmarks/compare_baselines.sh mrpcC); wait
#   bash benchmarks/compare_baselines.sh mrpc-merge
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
R=benchmarks/results
# one grid per task for every adapter method (LoRA+ sweeps its ratio, Prodigy its d_coef: configs/experiments);
# SST-2's lower edge 1e-4 was added after LoRA-GA picked 3e-4, the first grid's edge
SST2_GRID=(--lr-sweep --sweep-grid 1e-4,3e-4,1e-3,3e-3,1e-2,3e-2,1e-1 --sweep-steps 80)
NLG_GRID=(--lr-sweep --sweep-grid 1e-3,3e-3,1e-2,3e-2,1e-1 --sweep-steps 80)
# MRPC learns nothing in 80 steps (LoRA stays at the label prior's loss for ~150): its sweep runs 200 steps.
# MRPC's lanes hold the methods a 2-core CPU had time for: the three of the paper's table and the ablation, then
# LoRA and LoRA+ (the best baselines of SST-2 and NLG, with schedule-free LoRA, which did not fit the budget). Its grid is 1e-3..3e-2 (the picks of these
# methods on SST-2 and NLG lie inside it) and its runs 300 steps (~0.8 s/step at length 128 on one thread).
# mrpcB's --target-loss only fills its lane report (lanes are not kept); mrpc-merge measures against AdaLoRA.
MRPC_GRID=(--lr-sweep --sweep-grid 1e-3,3e-3,1e-2,3e-2 --sweep-steps 200)
SST2=(--experiment baselines --task sst2 --threads 1 --reuse-from $R/compare_linear_sst2)
NLG=(--experiment nlg-baselines --threads 1 --reuse-from $R/compare_linear_nlg)
MRPC=(--experiment baselines --task mrpc --threads 1)
# the interleaved step-time benchmark on each task's shapes (benchmarks/step_cpu_tasks.sh), once it exists: every
# step ratio gets its bench time ratio (a merge re-run after it copies every run and retrains nothing)
bench_of() { [ -f "$R/step_cpu_$1_shapes.json" ] && echo "--bench $R/step_cpu_$1_shapes.json" || true; }
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
    hyperadalora compare "${SST2[@]}" "${SST2_GRID[@]}" --reuse-from $R/baselines_sst2_laneA --reuse-from $R/baselines_sst2_laneB $(bench_of sst2) --out $R/compare_baselines_sst2
    hyperadalora compare "${NLG[@]}" "${NLG_GRID[@]}" --reuse-from $R/baselines_nlg_laneA --reuse-from $R/baselines_nlg_laneB $(bench_of nlg) --out $R/compare_baselines_nlg
    ;;
  mrpcA)
    hyperadalora compare "${MRPC[@]}" "${MRPC_GRID[@]}" --methods adalora,hyperadalora,per_matrix --out $R/baselines_mrpc_laneA
    ;;
  mrpcB)
    hyperadalora compare "${MRPC[@]}" "${MRPC_GRID[@]}" --methods lora,loraplus --target-loss 0.5 --out $R/baselines_mrpc_laneB
    ;;
  mrpcC)
    hyperadalora compare "${MRPC[@]}" --methods head --target-loss 0.5 --out $R/baselines_mrpc_laneC
    ;;
  mrpc-merge)
    hyperadalora compare "${MRPC[@]}" "${MRPC_GRID[@]}" --methods adalora,hyperadalora,per_matrix,lora,loraplus,head --reuse-from $R/baselines_mrpc_laneA --reuse-from $R/baselines_mrpc_laneB --reuse-from $R/baselines_mrpc_laneC $(bench_of mrpc) --out $R/compare_baselines_mrpc
    ;;
  constant)
    # the second table: AdaLoRA, HyperAdaLoRA and LoRA with the rate held after warm-up, every rate swept
    hyperadalora compare --experiment nlu-convergence --task sst2 --methods adalora,hyperadalora,lora --set lr_scheduler=constant "${SST2_GRID[@]}" --threads 1 --reuse-from $R/compare_nlu-convergence_sst2 $(bench_of sst2) --out $R/compare_constant_sst2
    hyperadalora compare --experiment nlg --methods adalora,hyperadalora,lora --set lr_scheduler=constant "${NLG_GRID[@]}" --threads 1 --reuse-from $R/compare_nlg_alpaca $(bench_of nlg) --out $R/compare_constant_nlg
    ;;
  default-knob)
    # the rate-free optimizers at their own defaults (Prodigy d_coef 1, schedule-free lr 2.5e-3): robustness table
    hyperadalora compare "${SST2[@]}" --methods lora_prodigy,adalora_prodigy,lora_schedulefree,adalora_schedulefree --set prodigy_d_coef=1.0 --lr lora_schedulefree=2.5e-3 --lr adalora_schedulefree=2.5e-3 --target-loss $SST2_TARGET --reuse-from $R/compare_baselines_sst2 --out $R/compare_default_knob_sst2
    hyperadalora compare "${NLG[@]}" --methods lora_prodigy,adalora_prodigy,lora_schedulefree,adalora_schedulefree --set prodigy_d_coef=1.0 --lr lora_schedulefree=2.5e-3 --lr adalora_schedulefree=2.5e-3 --target-loss $NLG_TARGET --reuse-from $R/compare_baselines_nlg --out $R/compare_default_knob_nlg
    ;;
  *) echo "usage: $0 laneA|laneB|merge|mrpcA|mrpcB|mrpcC|mrpc-merge|constant|default-knob" >&2; exit 2 ;;
esac
