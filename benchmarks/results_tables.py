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


# HyperAdaLoRA variants of compare_defaults_*; gain1000: the default with max_gain 1000 (issue #17's gain-bound lever)
CANDIDATES = ("default", "default_warm", "default_full", "per_matrix", "gain1000")
HIGHER_IS_BETTER = {"accuracy": True, "f1": True, "heldout_loss": False}


def goal(task: str) -> str:
    """Issue #17's criteria per candidate: against the best method a user could pick (each at its swept best) and
    against AdaLoRA, steps to its final loss (≤ 0.8×), final loss (≤), dev metric (≥ its − 0.5 pt), the bench time
    ratio (≤ 1.0 vs AdaLoRA), no seed diverging (every seed ends below its start); per-seed final losses beside the
    means."""
    s = _load(f"compare_defaults_{task}")
    if s is None:
        return f"`compare_defaults_{task}`: not measured yet\n"
    metric, variants = METRIC[task], s["variants"]
    best = s["best_baseline"]
    b = variants[best]

    def dev(v: dict[str, Any]) -> float:
        return v["final_metrics"][metric]["mean"]

    def dev_ok(v: dict[str, Any], ref: dict[str, Any]) -> bool:
        # "≥ its − 0.5 pt": metrics in [0, 1] are fractions (0.5 pt = 0.005); held-out loss: not above + 0.005
        return dev(v) >= dev(ref) - 0.005 if HIGHER_IS_BETTER[metric] else dev(v) <= dev(ref) + 0.005

    def seeds(v: dict[str, Any]) -> str:
        return " / ".join(_f(r["final_smoothed_loss"], 3) for r in v["per_seed"])

    ada = variants["adalora"]
    ctrl = variants.get("adalora_orth")  # AdaLoRA from the default's start: the gain that is the hypernetworks'
    lines = [f"`compare_defaults_{task}`: best method a user could pick `{best}` (final {_f(b['final_smoothed_loss']['mean'], 4)}, "
             f"per seed {seeds(b)}; dev {metric} {_f(dev(b))}); AdaLoRA final {_f(ada['final_smoothed_loss']['mean'], 4)}"
             + (f"; AdaLoRA from the default's start (`adalora_orth`, a control) {_f(ctrl['final_smoothed_loss']['mean'], 4)}"
                if ctrl else ""), "",
             "| variant | final (mean ± sd) | per seed | steps to the best's final (ratio; goal ≤ 0.8) | final ≤ best's? | "
             f"dev {metric} (≥ best's − 0.5 pt?) | steps to AdaLoRA's final (ratio; goal ≤ 0.8) | final ≤ AdaLoRA's? | "
             "dev ≥ AdaLoRA's − 0.5 pt? | bench time ratio vs AdaLoRA (goal ≤ 1.0) | "
             "steps to `adalora_orth`'s final (ratio) | "
             "smallest drop below its start over seeds (< 0: diverged) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in [n for n in CANDIDATES if n in variants] + s.get("controls", []):
        v = variants[name]
        fl = v["final_smoothed_loss"]
        drop = min(1 - r["final_smoothed_loss"] / r["start_loss"] for r in v["per_seed"])  # < 0: a seed ended above its start
        to_ctrl = (v.get("steps_to_controls") or {}).get("adalora_orth")
        lines.append(
            f"| `{name}` | {_f(fl['mean'], 4)} ± {_f(fl['std'], 4)} | {seeds(v)} | "
            f"{_steps(v.get('steps_to_best_baseline'), v.get('step_ratio_vs_best_baseline'))} | "
            f"{'yes' if fl['mean'] <= b['final_smoothed_loss']['mean'] else 'no'} | "
            f"{_f(dev(v))} ({'yes' if dev_ok(v, b) else 'no'}) | "
            f"{_steps(v.get('steps_to_target'), v.get('step_ratio_vs_baseline'))} | "
            f"{'yes' if fl['mean'] <= ada['final_smoothed_loss']['mean'] else 'no'} | "
            f"{'yes' if dev_ok(v, ada) else 'no'} | "
            f"{_f(v.get('bench_time_ratio_vs_baseline'), 2)} | "
            f"{_steps(to_ctrl['steps'], to_ctrl['ratio']) if to_ctrl else '–'} | {100 * drop:.0f} % |")
    return "\n".join(lines) + "\n"


def ablation() -> str:
    """Paper Table 2 (γ) and Figure 3 (hypernetwork kind) at 0.3's default: final loss, per seed, steps to the
    default's final (γ 0.1, attention) and the dev metric."""
    s = _load("compare_defaults_ablation_sst2")
    if s is None:
        return "`compare_defaults_ablation_sst2`: not measured yet\n"
    lines = ["| variant | final (mean ± sd) | per seed | steps to `default`'s final (ratio) | dev accuracy |",
             "|---|---|---|---|---|"]
    for name, v in s["variants"].items():
        fl, m = v["final_smoothed_loss"], v["final_metrics"]["accuracy"]
        lines.append(f"| `{name}` | {_f(fl['mean'], 4)} ± {_f(fl['std'], 4)} | "
                     + " / ".join(_f(r["final_smoothed_loss"], 3) for r in v["per_seed"])
                     + f" | {_steps(v.get('steps_to_target'), v.get('step_ratio_vs_baseline'))} | "
                     f"{_f(m['mean'])} ± {_f(m['std'])} |")
    return "\n".join(lines) + "\n"


def rate_figure() -> str:
    """The default from every decade of [1e-5, 3e-2]: final loss per rate and the worst relative to its best rate
    (goal: within 5 %); Prodigy's and schedule-free AdamW's same figure from their issue-#16 sweeps (80 steps, seed 0,
    each over its own knob: Prodigy's d_coef, schedule-free's rate on the part of its grid inside [1e-5, 3e-2])."""
    rows = []
    for label, task in (("SST-2", "sst2"), ("NLG", "nlg")):
        cells: dict[float, float] = {}
        main_s = _load(f"compare_defaults_{task}")
        if main_s and "default" in main_s["variants"]:
            cells[main_s["variants"]["default"]["lr"]] = main_s["variants"]["default"]["final_smoothed_loss"]["mean"]
        for lr in ("1e-5", "1e-4", "1e-3", "3e-2"):
            s = _load(f"compare_defaults_{task}_lr_{lr}")
            if s:
                cells[float(lr)] = s["variants"]["default"]["final_smoothed_loss"]["mean"]
        if cells:
            bestv = min(cells.values())
            row = " | ".join(_f(cells.get(lr), 3) for lr in (1e-5, 1e-4, 1e-3, 1e-2, 3e-2))
            rows.append(f"| {label} | `default` (200 steps, 3 seeds) | {row} | {100 * (max(cells.values()) / bestv - 1):+.0f} % |")
        wide = {lr: _load(f) for lr, f in ((1e-4, f"compare_gain1000_{task}_lr_1e-4"), (1e-2, f"compare_defaults_{task}"),
                                           (3e-2, f"compare_gain1000_{task}_lr_3e-2"))}
        wide = {lr: s["variants"]["gain1000"]["final_smoothed_loss"]["mean"] for lr, s in wide.items()
                if s and "gain1000" in s["variants"]}
        if wide:
            row = " | ".join(_f(wide.get(lr), 3) for lr in (1e-5, 1e-4, 1e-3, 1e-2, 3e-2))
            rows.append(f"| {label} | `gain1000` (max_gain 1000; 3 seeds, only these rates) | {row} | "
                        f"{100 * (max(wide.values()) / min(wide.values()) - 1):+.0f} % (of these) |")
        base = _load(f"compare_baselines_{task}")
        for name in ("lora_prodigy", "adalora_prodigy", "lora_schedulefree", "adalora_schedulefree"):
            sw = ((base or {}).get("lr_sweep") or {}).get("variants", {}).get(name)
            if not sw:
                continue
            losses = {float(k): x for k, x in sw["losses"].items() if sw["field"] != "lr" or 1e-5 <= float(k) <= 3e-2}
            knob = "d_coef " + ", ".join(f"{k:g}" for k in losses) if sw["field"] != "lr" else \
                "lr " + ", ".join(f"{k:g}" for k in losses)
            worst = 100 * (max(losses.values()) / min(losses.values()) - 1)
            rows.append(f"| {label} | `{name}` (sweep: 80 steps, seed 0; {knob}) | "
                        + " | ".join(_f(losses.get(lr), 3) if sw["field"] == "lr" else "" for lr in (1e-5, 1e-4, 1e-3, 1e-2, 3e-2))
                        + f" | {worst:+.0f} % |")
    head = ("| task | method | η 1e-5 | 1e-4 | 1e-3 | 1e-2 | 3e-2 | worst over its best |\n"
            "|---|---|---|---|---|---|---|---|")
    return head + "\n" + "\n".join(rows) + "\n"


def main() -> int:
    out = ["# Tables of docs/results.md (printed by benchmarks/results_tables.py from the summaries)", ""]
    out += ["## Issue #17: the default at one rate against every method at its swept best", ""]
    for label, task in TASKS.items():
        out += [f"### {label}", "", headline(f"compare_defaults_{task}", task), goal(task)]
    out += ["## Issue #17: the default from every rate in [1e-5, 3e-2]", "", rate_figure()]
    out += ["## γ (paper Table 2) and the hypernetwork kind (Figure 3) at 0.3's default, SST-2", "", ablation()]
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
