#!/usr/bin/env bash
# The 8B cost model (docs/results.md, "Cost"): LLaMA-3.1-8B and Qwen2.5-7B shapes, one torch thread.
# Writes benchmarks/results/cost_model_8b.json and cost_model_8b.md.
set -euo pipefail
cd "$(dirname "$0")/.."
python benchmarks/cost_model_8b.py --repeats 3 --threads 1 --out benchmarks/results/cost_model_8b.json \
  --md benchmarks/results/cost_model_8b.md "$@"
