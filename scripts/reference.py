"""Print a finished run's dev metric beside the committed comparison of the same settings (scripts/main.sh)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

# compare_defaults_sst2 was run on 0.3 (max_gain 10, its `default`); 0.4's default is its `gain1000` variant
LABELS = {"head": "head only (the floor: no adapters)", "default": "0.3 default (max_gain 10)",
          "gain1000": "gain1000 (0.4 default)"}


def main(run: str, comparison: str) -> int:
    summary = json.loads((Path(run) / "summary.json").read_text())
    metric, value = next(iter(summary["final_metrics"].items()))
    reference = json.loads(Path(comparison).read_text())
    print(f"\n{summary['method']} on {summary['task']}: dev {metric} {value:.4f} (this run, seed {summary['seed']})")
    schedule = reference["plan"]["common"].get("lr_scheduler", "linear")
    print(f"the same settings in {comparison} ({len(reference['plan']['seeds'])} seeds, {schedule} schedule, "
          f"HyperAdaLoRA's variants at their default rate, every other method at its swept rate; dev {metric} mean ± "
          f"std, lowest final training loss first):")
    ranked = sorted(reference["variants"].items(), key=lambda kv: kv[1]["final_smoothed_loss"]["mean"])
    controls = set(reference.get("controls") or [])  # not methods a user would pick: marked as such
    for name, v in ranked:
        m = v["final_metrics"][metric]
        label = LABELS.get(name, f"{name} (control)" if name in controls else name)
        print(f"  {label:>36}: {m['mean']:.4f} ± {m['std']:.4f}   final smoothed training loss "
              f"{v['final_smoothed_loss']['mean']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
