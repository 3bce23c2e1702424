#!/usr/bin/env bash
# The comparisons quoted in docs/results.md (hyperadalora 0.2, generation="gradient"), in the order they ran.
# Each folder's report.md records the exact command, date, machine and git commit. Two runs at a time on the
# 2-core CPU, one torch thread each: seconds are comparable within a folder only roughly; steps are exact.
set -euo pipefail
cd "$(dirname "$0")/../.."
SWEEP=(--lr-sweep --sweep-methods adalora,hyperadalora --sweep-grid 1e-3,3e-3,1e-2,3e-2 --sweep-steps 80)
R=benchmarks/results
# (1) SST-2 and NLG, 3 seeds, 200 steps, each method at the rate its own sweep picks
hyperadalora compare --experiment nlu-convergence --task sst2 "${SWEEP[@]}" --threads 1 --out $R/compare_nlu-convergence_sst2
hyperadalora compare --experiment nlg "${SWEEP[@]}" --threads 1 --out $R/compare_nlg_alpaca
