"""scripts/reference.py: the main job's dev metric printed beside the committed comparison's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_reference_prints_the_run_beside_every_method_of_the_comparison(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"method": "hyperadalora", "task": "sst2", "seed": 0,
                                                   "final_metrics": {"accuracy": 0.8125}}))
    variants = {name: {"final_metrics": {"accuracy": {"mean": acc, "std": 0.01}},
                       "final_smoothed_loss": {"mean": loss}}
                for name, acc, loss in (("adalora", 0.78, 0.45), ("hyperadalora", 0.80, 0.41), ("head", 0.53, 0.67))}
    comparison = tmp_path / "summary.json"
    comparison.write_text(json.dumps({"plan": {"seeds": [0, 1, 2], "common": {"lr_scheduler": "linear"}},
                                      "variants": variants}))
    out = subprocess.run([sys.executable, REPO / "scripts" / "reference.py", run, comparison], capture_output=True,
                         text=True, check=True).stdout
    assert "hyperadalora on sst2: dev accuracy 0.8125 (this run, seed 0)" in out
    assert ("(3 seeds, linear schedule, HyperAdaLoRA's variants at their default rate, every other method at its swept "
            "rate; dev accuracy mean ± std") in out
    assert "head only (the floor: no adapters): 0.5300 ± 0.0100" in out and "adalora: 0.7800 ± 0.0100" in out
    lines = out.splitlines()  # lowest final training loss first
    order = [next(i for i, line in enumerate(lines) if line.strip().startswith(n)) for n in ("hyperadalora:", "adalora:", "head")]
    assert order == sorted(order)
