#!/usr/bin/env bash
# The exact commands behind benchmarks/results/compare_*/ (run from the repository root, on the project's
# 2-core CPU machine, in two parallel streams of one torch thread each). Every folder's report.md repeats its
# command, date, machine and git commit.
#
#   bash benchmarks/results/compare_commands.sh a    # stream a: SST-2 (learns fast): convergence, gamma, ablation
#   bash benchmarks/results/compare_commands.sh b    # stream b: the paper's tasks: MNLI (sample), WNLI, RTE
set -euo pipefail
cd "$(dirname "$0")/../.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
R=benchmarks/results
SEEDS=${SEEDS:-1}

case "${1:-}" in
  a)
    hyperadalora compare --experiment nlu-convergence --task sst2 --seeds "$SEEDS" --threads 1 --out $R/compare_nlu-convergence_sst2
    hyperadalora compare --experiment gamma --task sst2 --seeds "$SEEDS" --threads 1 --out $R/compare_gamma_sst2 \
        --reuse-from $R/compare_nlu-convergence_sst2
    hyperadalora compare --experiment ablation --task sst2 --seeds "$SEEDS" --threads 1 --out $R/compare_ablation_sst2 \
        --reuse-from $R/compare_nlu-convergence_sst2 --reuse-from $R/compare_gamma_sst2
    ;;
  b)
    hyperadalora compare --experiment nlu-convergence --task mnli --seeds "$SEEDS" --threads 1 --out $R/compare_nlu-convergence_mnli
    hyperadalora compare --experiment nlu-convergence --task wnli --seeds "$SEEDS" --threads 1 --out $R/compare_nlu-convergence_wnli
    hyperadalora compare --experiment nlu-convergence --task rte --seeds "$SEEDS" --threads 1 --out $R/compare_nlu-convergence_rte
    ;;
  *)
    echo "usage: $0 a|b" >&2
    exit 2
    ;;
esac
