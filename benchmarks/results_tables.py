"""The tables of docs/results.md, printed from the committed `compare` summaries (nothing typed by hand).

    python benchmarks/results_tables.py > benchmarks/results/tables.md

Each table reads `benchmarks/results/<folder>/summary.json`; a folder not there yet is named as missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

R = Path(__file__).resolve().parent / "results"
TASKS = {"SST-2": "sst2", "NLG": "nlg", "MRPC": "mrpc"}
METRIC = {"sst2": "accuracy", "nlg": "heldout_loss", "mrpc": "f1"}


def _load(folder: str) -> dict[str, Any] | None:
    path = R / folder / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _knob(summary: dict[str, Any], name: str, v: dict[str, Any]) -> str:
    swept = ((summary.get("lr_sweep") or {}).get("variants") or {}).get(name)
    if swept and swept["field"] != "lr":
        return f"{swept['field']} {swept['chosen']:g} (lr {v['lr']:g})"
    return f"lr {v['lr']:g}"


def _steps(n: int | None, ratio: float | None) -> str:
    return "not reached" if n is None else f"{n} ({_f(ratio, 2)}×)"


def headline(folder: str, task: str) -> str:
    """Every method at its swept best: final loss, steps to AdaLoRA's final and to the best baseline's final."""
    s = _load(folder)
    if s is None:
        return f"`{folder}`: not measured yet\n"
    metric = METRIC[task]
    best = s.get("best_baseline")
    lines = [f"`{folder}` — target {_f(s['target_loss'], 4)} (AdaLoRA's final); best baseline `{best}` "
             f"({_f(s.get('best_baseline_loss'), 4)})", "",
             f"| method | knob | final smoothed loss (mean ± sd, 3 seeds) | steps to AdaLoRA's final (ratio) | "
             f"steps to the best baseline's final (ratio) | bench time ratio vs AdaLoRA | dev {metric} |",
             "|---|---|---|---|---|---|---|"]
    order = sorted(s["variants"].items(), key=lambda kv: kv[1]["final_smoothed_loss"]["mean"])
    for name, v in order:
        fl = v["final_smoothed_loss"]
        m = (v.get("final_metrics") or {}).get(metric)
        reach = f", {v['seeds_reaching_target']}/3 seeds" if v.get("seeds_reaching_target", 3) < 3 else ""
        lines.append(
            f"| `{name}` | {_knob(s, name, v)} | {_f(fl['mean'], 4)} ± {_f(fl['std'], 4)} | "
            f"{_steps(v.get('steps_to_target'), v.get('step_ratio_vs_baseline'))}{reach} | "
            f"{_steps(v.get('steps_to_best_baseline'), v.get('step_ratio_vs_best_baseline'))} | "
            f"{_f(v.get('bench_time_ratio_vs_baseline'), 2)} | "
            f"{'–' if m is None else _f(m['mean']) + ' ± ' + _f(m['std'])} |")
    return "\n".join(lines) + "\n"


def _worst(cells: dict[str, str], cols: tuple[str, ...]) -> str:
    """The largest final loss of `cols`, relative to the swept best's: "+x %"."""
    if "best" not in cells or not all(c in cells for c in cols):
        return "–"
    ref = float(cells["best"].split(" ")[0])
    return f"{100 * (max(float(cells[c].split(' ')[0]) for c in cols) / ref - 1):+.0f} %"


def robustness() -> str:
    """Final smoothed loss from rates off each method's best (linear schedule), and the rate-free defaults."""
    rows = []
    for label, task in (("SST-2", "sst2"), ("NLG", "nlg")):
        cells: dict[str, dict[str, str]] = {}
        for col, folder in (("best", f"compare_linear_{task}"), ("÷10", f"compare_linear_{task}_lr_div10"),
                            ("÷100", f"compare_linear_{task}_lr_div100"), ("×3", f"compare_linear_{task}_lr_x3")):
            s = _load(folder)
            for name, v in ((s or {}).get("variants") or {}).items():
                if name == "head":
                    continue
                fl = v["final_smoothed_loss"]
                cells.setdefault(name, {})[col] = f"{_f(fl['mean'])} ± {_f(fl['std'])} (lr {v['lr']:g})"
        for name, c in cells.items():
            rows.append(f"| {label} | `{name}` | {c.get('best', '–')} | {c.get('÷10', '–')} | {c.get('÷100', '–')} | "
                        f"{c.get('×3', '–')} | {_worst(c, ('÷10', '÷100'))} | {_worst(c, ('÷10', '÷100', '×3'))} |")
        s = _load(f"compare_default_knob_{task}")
        for name, v in ((s or {}).get("variants") or {}).items():
            fl = v["final_smoothed_loss"]
            rows.append(f"| {label} | `{name}` at its default ({_knob(s, name, v)}) | "
                        f"{_f(fl['mean'])} ± {_f(fl['std'])} | | | | | |")
    head = ("| task | method | at its swept best | rate ÷ 10 | rate ÷ 100 | rate × 3 | worst below the best rate | "
            "worst of all three |\n|---|---|---|---|---|---|---|---|")
    return head + "\n" + "\n".join(rows) + "\n"


def main() -> int:
    out = ["# Tables of docs/results.md (printed by benchmarks/results_tables.py from the summaries)", ""]
    out += ["## Linear schedule, every method at its swept best", ""]
    for label, task in TASKS.items():
        out += [f"### {label}", "", headline(f"compare_baselines_{task}", task)]
    out += ["## Constant schedule (AdaLoRA, HyperAdaLoRA, LoRA; rates swept)", ""]
    for label, task in (("SST-2", "sst2"), ("NLG", "nlg")):
        out += [f"### {label}", "", headline(f"compare_constant_{task}", task)]
    out += ["## Rate robustness (linear schedule)", "", robustness()]
    sys.stdout.write("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
