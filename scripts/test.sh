#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite: lint, then pytest (fast and slow tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
ruff check src tests benchmarks scripts
python -m pytest -q "$@"
