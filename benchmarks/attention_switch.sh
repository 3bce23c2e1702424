#!/usr/bin/env bash
# Where attention_block="auto" switches from full attention (eq. 8) to blocks (docs/method.md, "Cost"): the
# attention hypernetwork alone, forward + backward per token vs sequence length, full vs blocks of 64-512, one
# torch thread. Writes benchmarks/results/attention_switch.json and attention_switch.md (the printed table).
set -euo pipefail
cd "$(dirname "$0")/.."
python benchmarks/attention_switch.py --repeats 5 --threads 1 --out benchmarks/results/attention_switch.json \
  --md benchmarks/results/attention_switch.md "$@"
