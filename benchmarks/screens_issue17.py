"""The single-seed screens behind issue #17's choices (seeds 10 and 11, never the judged 0-2), as a table: those of
0.3's start and rate (benchmarks/results/screens_issue17, the default folder) or of the last two levers
(benchmarks/results/screens_levers, benchmarks/screens_levers.sh), the folder given as the argument.

Each screen is one `hyperadalora train` run from the committed run of the same task's comparison (its config.json)
with the seed, the method and the settings of its row changed; the runs' config.json, log.jsonl and summary.json
are in benchmarks/results/screens_issue17/<task>/<screen>/seed<N>/. They ran on the code between commits d075c7c
and bb3f749 (orthonormal factors then kept LAPACK's column-major layout, and MiniLM's matrices had full attention),
so they are evidence for choices, not results of the released default: those are benchmarks/results/compare_defaults_*.

    python benchmarks/screens_issue17.py > benchmarks/results/screens_issue17/table.md
    python benchmarks/screens_issue17.py benchmarks/results/screens_levers > benchmarks/results/screens_levers/table.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hyperadalora.bench.report import smooth, steps_to_target

ROOT = Path(__file__).parent / "results" / "screens_issue17"
METRIC = {"sst2": "accuracy", "mrpc": "f1", "nlg": "heldout_loss"}
# the settings a row names where they differ from these (0.2's default for screens_issue17; 0.3's for the levers)
DEFAULTS = {"init_pq": "normal", "max_gain": 10.0, "meta_lr": 0.003, "tinit": 0, "tfinal": 0, "orth_reg_weight": 0.1,
            "lora_r": None, "hypernet_init": "zero", "progress_features": False, "hypergradient_horizon": 1}
LEVER_DEFAULTS = {**DEFAULTS, "init_pq": "orthogonal"}


def losses_of(run: Path) -> list[float]:
    return [r["task_loss"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if r.get("kind") == "train"]


def ratio_to(curve: list[float], ref: Path) -> str:
    """Steps of `curve` (smoothed) to the final smoothed loss of the baseline run `ref`, over the baseline's own."""
    if not (ref / "summary.json").exists():
        return "–"
    base = smooth(losses_of(ref))
    own, theirs = steps_to_target(range(1, len(curve) + 1), curve, base[-1]), steps_to_target(range(1, len(base) + 1), base, base[-1])
    return "never" if own is None else f"{own / theirs:.2f}×"


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    levers = root.resolve() != ROOT.resolve()
    defaults = LEVER_DEFAULTS if levers else DEFAULTS
    extra = " steps to LoRA's final | to AdaLoRA's final |" if levers else ""
    print("| task | screen | seed | method | lr (η) | settings besides the comparison's | smoothed loss @50 | @100 | "
          f"@150 | final | dev |{extra}")
    print("|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if levers else ""))
    for run in sorted(root.glob("*/*/seed*")):
        if not (run / "summary.json").exists():  # still running
            continue
        task, screen, seed = run.parts[-3:]
        config = json.loads((run / "config.json").read_text())
        summary = json.loads((run / "summary.json").read_text())
        curve = smooth(losses_of(run))  # trailing 20-step mean
        knobs = [f"{k} {config[k]}" for k, d in defaults.items() if k in config and config[k] != d]
        knobs = ["Φ of an NLG seed-10 screen" if k.startswith("hypernet_init") else k for k in knobs]
        metric = METRIC[task]
        # the same seed's LoRA and AdaLoRA at their swept rates, from issue #17's first screens
        ratios = "".join(f" {ratio_to(curve, ROOT / task / b / seed)} |" for b in ("lora", "adalora")) if levers else ""
        print(f"| {task} | `{screen}` | {seed[4:]} | {config['method']} | {config['lr']:g} | {', '.join(knobs) or '–'} | "
              + " | ".join(f"{curve[k - 1]:.3f}" for k in (50, 100, 150))
              + f" | **{curve[-1]:.4f}** | {metric} {summary['final_metrics'][metric]:.3f} |{ratios}")


if __name__ == "__main__":
    main()
