#!/usr/bin/env bash
# Issue #17: the default at one rate (η = 1e-2, orthonormal start, no sweep) against every method a user would pick
# instead, each at its own swept best under the linear schedule (issue #16's picks, passed with --lr; their runs are
# copied from benchmarks/results/compare_baselines_<task>), 3 seeds, SST-2, NLG and MRPC; then the default from rates
# 1e-5 … 3e-2 on SST-2 and NLG. The warm starts come first (benchmarks/warm_start.sh). Two lanes on a 2-core CPU:
#   bash benchmarks/compare_defaults.sh laneA & bash benchmarks/compare_defaults.sh laneB; wait
#   bash benchmarks/compare_defaults.sh merge
#   bash benchmarks/compare_defaults.sh ratesA & bash benchmarks/compare_defaults.sh ratesB; wait
#   bash benchmarks/compare_defaults.sh ablationA & bash benchmarks/compare_defaults.sh ablationB; wait
#   bash benchmarks/compare_defaults.sh ablation-merge
#   bash benchmarks/compare_defaults.sh gainA & bash benchmarks/compare_defaults.sh gainB; wait
#   bash benchmarks/compare_defaults.sh gainC; bash benchmarks/compare_defaults.sh gain-merge
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
R=benchmarks/results
# the baselines' swept rates (an --lr NAME hits the variant of that name and every variant of that method)
SST2=(--experiment defaults --task sst2 --threads 1 --reuse-from $R/compare_baselines_sst2)
SST2_LR=(--lr adalora=1e-2 --lr lora=3e-3)
MRPC=(--experiment defaults --task mrpc --threads 1 --reuse-from $R/compare_baselines_mrpc)
MRPC_LR=(--lr adalora=1e-2 --lr lora=1e-3)
NLG=(--experiment nlg-defaults --threads 1 --reuse-from $R/compare_baselines_nlg)
# MRPC's budget: no default_full (SST-2 measures it) and no lora_r2 (NLG and SST-2 measure it)
MRPC_METHODS=adalora,lora,loraplus,adalora_orth,head,default,default_warm,per_matrix,gain1000
bench_of() { [ -f "$R/step_cpu_$1_defaults.json" ] && echo "--bench $R/step_cpu_$1_defaults.json" || true; }
case "${1:-}" in
  laneA)
    hyperadalora compare "${SST2[@]}" "${SST2_LR[@]}" --methods default,default_warm,default_full,per_matrix,adalora_orth,lora_r2 --target-loss 0.3620 --out $R/defaults_sst2_lane
    hyperadalora compare "${NLG[@]}" --methods default,default_warm --target-loss 2.8027 --out $R/defaults_nlg_lane
    ;;
  laneB)  # NLG's variants split over both lanes (each lane its own folder) so that they end together
    hyperadalora compare "${MRPC[@]}" --lr adalora=1e-2 --methods default,default_warm,per_matrix,adalora_orth --target-loss 0.5188 --out $R/defaults_mrpc_lane
    hyperadalora compare "${NLG[@]}" --methods per_matrix,adalora_orth,lora_r2 --target-loss 2.8027 --out $R/defaults_nlg_laneB
    ;;
  merge)  # every run copied (lanes, #16's baselines), none retrained; the bench time ratios once measured
    hyperadalora compare "${SST2[@]}" "${SST2_LR[@]}" --lr loraplus=3e-3 --reuse-from $R/defaults_sst2_lane --reuse-from $R/defaults_sst2_gain_lane $(bench_of sst2) --out $R/compare_defaults_sst2
    hyperadalora compare "${NLG[@]}" --reuse-from $R/defaults_nlg_lane --reuse-from $R/defaults_nlg_laneB --reuse-from $R/defaults_nlg_gain_lane $(bench_of nlg) --out $R/compare_defaults_nlg
    hyperadalora compare "${MRPC[@]}" "${MRPC_LR[@]}" --lr loraplus=1e-3 --methods $MRPC_METHODS --reuse-from $R/defaults_mrpc_lane --reuse-from $R/defaults_mrpc_gain_lane $(bench_of mrpc) --out $R/compare_defaults_mrpc
    ;;
  ratesA)  # the default from every decade of [1e-5, 3e-2] (1e-2 is the main runs)
    for lr in 1e-5 1e-4 1e-3 3e-2; do
      hyperadalora compare "${SST2[@]}" --methods default --lr default=$lr --target-loss 0.3620 --out $R/compare_defaults_sst2_lr_$lr
    done
    ;;
  ratesB)
    for lr in 1e-5 1e-4 1e-3 3e-2; do
      hyperadalora compare "${NLG[@]}" --methods default --lr default=$lr --target-loss 2.8027 --out $R/compare_defaults_nlg_lr_$lr
    done
    ;;
  ablationA)  # paper Table 2 (γ) and Figure 3 (hypernetwork kind) at 0.3's default, SST-2; `default` is copied
    hyperadalora compare --experiment defaults-ablation --task sst2 --threads 1 --methods default,gamma0.15,gamma0.2 --reuse-from $R/compare_defaults_sst2 --out $R/defaults_ablation_laneA
    ;;
  ablationB)
    hyperadalora compare --experiment defaults-ablation --task sst2 --threads 1 --methods default,cnn,mlp --reuse-from $R/compare_defaults_sst2 --out $R/defaults_ablation_laneB
    ;;
  gainA)  # issue #17's gain-bound lever (max_gain 1000, `gain1000`), judged as the default is: η 1e-2, 3 seeds; and from 1e-4
    hyperadalora compare "${SST2[@]}" --methods gain1000 --target-loss 0.3620 --out $R/defaults_sst2_gain_lane
    hyperadalora compare "${NLG[@]}" --methods gain1000 --target-loss 2.8027 --out $R/defaults_nlg_gain_lane
    hyperadalora compare "${NLG[@]}" --methods default,gain1000 --lr default=1e-4 --lr gain1000=1e-4 --target-loss 2.8027 \
      --reuse-from $R/compare_defaults_nlg_lr_1e-4 --out $R/compare_gain1000_nlg_lr_1e-4
    ;;
  gainB)
    hyperadalora compare "${MRPC[@]}" --methods gain1000 --target-loss 0.5188 --out $R/defaults_mrpc_gain_lane
    hyperadalora compare "${SST2[@]}" --methods default,gain1000 --lr default=1e-4 --lr gain1000=1e-4 --target-loss 0.3620 \
      --reuse-from $R/compare_defaults_sst2_lr_1e-4 --out $R/compare_gain1000_sst2_lr_1e-4
    ;;
  gainC)  # … and from 3e-2 (stability at the top of the range)
    hyperadalora compare "${SST2[@]}" --methods default,gain1000 --lr default=3e-2 --lr gain1000=3e-2 --target-loss 0.3620 \
      --reuse-from $R/compare_defaults_sst2_lr_3e-2 --out $R/compare_gain1000_sst2_lr_3e-2
    hyperadalora compare "${NLG[@]}" --methods default,gain1000 --lr default=3e-2 --lr gain1000=3e-2 --target-loss 2.8027 \
      --reuse-from $R/compare_defaults_nlg_lr_3e-2 --out $R/compare_gain1000_nlg_lr_3e-2
    ;;
  gain-merge)  # `gain1000` into the committed comparisons: their runs and the lanes' copied (none retrained) into a
    # new folder that then takes the old one's place (a comparison folder refuses a changed plan)
    for task in sst2 nlg mrpc; do rm -rf $R/compare_defaults_$task.new; done
    hyperadalora compare "${SST2[@]}" "${SST2_LR[@]}" --lr loraplus=3e-3 --reuse-from $R/compare_defaults_sst2 --reuse-from $R/defaults_sst2_gain_lane $(bench_of sst2) --out $R/compare_defaults_sst2.new
    hyperadalora compare "${NLG[@]}" --reuse-from $R/compare_defaults_nlg --reuse-from $R/defaults_nlg_gain_lane $(bench_of nlg) --out $R/compare_defaults_nlg.new
    hyperadalora compare "${MRPC[@]}" "${MRPC_LR[@]}" --lr loraplus=1e-3 --methods $MRPC_METHODS --reuse-from $R/compare_defaults_mrpc --reuse-from $R/defaults_mrpc_gain_lane $(bench_of mrpc) --out $R/compare_defaults_mrpc.new
    for task in sst2 nlg mrpc; do rm -rf $R/compare_defaults_$task && mv $R/compare_defaults_$task.new $R/compare_defaults_$task; done
    ;;
  ablation-merge)
    hyperadalora compare --experiment defaults-ablation --task sst2 --threads 1 --reuse-from $R/defaults_ablation_laneA --reuse-from $R/defaults_ablation_laneB --out $R/compare_defaults_ablation_sst2
    ;;
  *) echo "usage: $0 laneA|laneB|merge|ratesA|ratesB|ablationA|ablationB|ablation-merge|gainA|gainB|gainC|gain-merge" >&2; exit 2 ;;
esac
