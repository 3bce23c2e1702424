"""The single-seed screens behind issue #17's choices (seeds 10 and 11, never the judged 0-2), as a table.

Each screen is one `hyperadalora train` run from the committed run of the same task's comparison (its config.json)
with the seed, the method and the settings of its row changed; the runs' config.json, log.jsonl and summary.json
are in benchmarks/results/screens_issue17/<task>/<screen>/seed<N>/. They ran on the code between commits d075c7c
and bb3f749 (orthonormal factors then kept LAPACK's column-major layout, and MiniLM's matrices had full attention),
so they are evidence for choices, not results of the released default: those are benchmarks/results/compare_defaults_*.

    python benchmarks/screens_issue17.py > benchmarks/results/screens_issue17/table.md
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).parent / "results" / "screens_issue17"
METRIC = {"sst2": "accuracy", "mrpc": "f1", "nlg": "heldout_loss"}
DEFAULTS = {"init_pq": "normal", "max_gain": 10.0, "meta_lr": 0.003, "tinit": 0, "tfinal": 0, "orth_reg_weight": 0.1,
            "lora_r": None, "hypernet_init": "zero"}


def smoothed(losses: list[float], k: int, window: int = 20) -> float:
    return sum(losses[k - window:k]) / window


def main() -> None:
    print("| task | screen | seed | method | lr (η) | settings besides the comparison's | smoothed loss @50 | @100 | "
          "@150 | final | dev |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for run in sorted(ROOT.glob("*/*/seed*")):
        task, screen, seed = run.parts[-3:]
        config = json.loads((run / "config.json").read_text())
        summary = json.loads((run / "summary.json").read_text())
        losses = [r["task_loss"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())
                  if r.get("kind") == "train"]
        knobs = [f"{k} {config[k]}" for k, d in DEFAULTS.items() if k in config and config[k] != d]
        knobs = ["Φ of an NLG seed-10 screen" if k.startswith("hypernet_init") else k for k in knobs]
        metric = METRIC[task]
        print(f"| {task} | `{screen}` | {seed[4:]} | {config['method']} | {config['lr']:g} | {', '.join(knobs) or '–'} | "
              + " | ".join(f"{smoothed(losses, k):.3f}" for k in (50, 100, 150))
              + f" | **{smoothed(losses, len(losses)):.4f}** | {metric} {summary['final_metrics'][metric]:.3f} |")


if __name__ == "__main__":
    main()
