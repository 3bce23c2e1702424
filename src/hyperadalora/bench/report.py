"""Read the run folders of a comparison, compute time-to-target figures, write `summary.json` and `report.md`.

Why ~470 lines in one module: the definitions below are computed and stated in the report by the same code.

Definitions used everywhere (stated again in every report):

- **smoothed loss**: trailing moving average of the per-step task loss over the last `window` optimizer steps
  (fewer at the start: the value at step k < window is the mean of steps 1..k). A moving window, not an EMA,
  so a value is an ordinary mean of logged losses and has no start-up bias.
- **start loss**: mean task loss over the first `window` steps; **final loss**: the smoothed loss at the last step.
- **target loss**: the baseline's final smoothed loss averaged over seeds (or `--target-loss`).
- **steps to target**: the first step at which the smoothed loss of the *seed-mean* curve is ≤ the target;
  `None` ("not reached") if it never is. Never extrapolated. Per-seed values are listed too.
- **seconds to target**: the seed-mean logged wall-clock time (`wall_s`) at that step.
- **time ratio**: method / baseline, for steps and for seconds (the paper's Table 3 form: < 1 means faster).
- **90 % target**: start − 0.9·(start − final) of the baseline (seed means): a second, noise-robust target for
  methods that end on the same plateau (which they cross by noise, or not at all).
- **best baseline**: of the methods a user would pick instead (every variant whose method is not hyperadalora,
  neither the head-only floor nor one of the plan's controls), the one with the lowest final smoothed loss; every
  variant's steps to *its* final loss are given too, as a ratio to its own, and likewise to each control's final
  loss (`steps_to_controls`).
- **bench time ratio**: step ratio × (median step time of the variant / of the reference) from an interleaved
  `hyperadalora bench` run (`--bench FILE`): per-step cost measured side by side, which the wall clock of runs
  trained one after another on a shared machine cannot give.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperadalora.errors import UserInputError

DEFAULT_WINDOW = 20
LEARNED_DROP = 0.25  # the baseline must lose at least 25 % of its start loss for a comparison to mean anything
FLOOR_MARGIN = 0.01  # a method "beats" the head-only floor only by more than this (one seed's noise is ~0.01)


@dataclass
class RunData:
    """One finished training run: its per-step training log, eval records, config and summary."""

    variant: str
    seed: int
    path: Path
    steps: list[int]
    task_loss: list[float]
    orth_loss: list[float]
    total_rank: list[int | None]
    wall_s: list[float]
    evals: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """False for a run that was stopped before it finished (no summary.json)."""
        return bool(self.summary)


# --- curves ------------------------------------------------------------------------------------
def smooth(values: list[float], window: int = DEFAULT_WINDOW) -> list[float]:
    """Trailing moving average over `window` points (partial window at the start)."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def steps_to_target(steps: list[int], smoothed: list[float], target: float) -> int | None:
    """First step whose smoothed loss is <= target, or None if the curve never gets there."""
    for step, value in zip(steps, smoothed, strict=True):
        if value <= target:
            return step
    return None


def value_at_step(steps: list[int], values: list[float], step: int | None) -> float | None:
    """values[i] where steps[i] == step (None passes through)."""
    if step is None:
        return None
    return values[steps.index(step)]


def mean_curve(curves: list[list[float]]) -> list[float]:
    """Pointwise mean of equally long curves."""
    return [statistics.fmean(col) for col in zip(*curves, strict=True)]


def _common_length(runs: list[RunData]) -> int:
    return min(len(r.steps) for r in runs)


# --- loading -----------------------------------------------------------------------------------
def load_run(path: str | Path, variant: str, seed: int) -> RunData:
    """Parse one run folder written by `hyperadalora.train.train` (log.jsonl, config.json, summary.json)."""
    path = Path(path)
    log = path / "log.jsonl"
    if not log.is_file():
        raise UserInputError(f"{log}: missing; is {path} a finished training run?")
    train_records, evals = [], []
    with log.open() as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserInputError(f"{log}: line {lineno}: not valid JSON ({e.msg})") from None
            if rec.get("kind") == "train":
                missing = [k for k in ("step", "task_loss", "wall_s") if k not in rec]
                if missing:
                    raise UserInputError(f"{log}: line {lineno}: train record lacks {', '.join(missing)}")
                train_records.append(rec)
            elif rec.get("kind") == "eval":
                evals.append(rec)
    if not train_records:
        raise UserInputError(f"{log}: no 'train' records; the run logged nothing")
    train_records.sort(key=lambda r: r["step"])
    summary = _read_json(path / "summary.json")
    config = _read_json(path / "config.json")
    return RunData(
        variant=variant, seed=seed, path=path,
        steps=[int(r["step"]) for r in train_records],
        task_loss=[float(r["task_loss"]) for r in train_records],
        orth_loss=[float(r.get("orth_loss") or 0.0) for r in train_records],
        total_rank=[r.get("total_rank") for r in train_records],
        wall_s=[float(r["wall_s"]) for r in train_records],
        evals=evals, config=config, summary=summary,
    )


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserInputError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None


# --- aggregation -------------------------------------------------------------------------------
def _mean_std(values: list[float]) -> dict[str, float | int]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values)}


def final_metrics(run: RunData) -> dict[str, float]:
    """Dev metrics of a run: summary.json's final_metrics, else the last eval record's."""
    metrics = run.summary.get("final_metrics") or (run.evals[-1]["metrics"] if run.evals else {})
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def bench_step_ms(bench: dict[str, Any], batch_size: int | None = None) -> dict[str, float]:
    """Median step time (ms) per benchmarked method of a `hyperadalora bench` JSON, at `batch_size` (None: its only
    batch size)."""
    results = bench.get("results") or []
    sizes = [r["batch_size"] for r in results]
    if batch_size is None:
        if len(sizes) != 1:
            raise UserInputError(f"--bench: the file has batch sizes {sizes}; name one with --bench-batch-size")
        batch_size = sizes[0]
    row = next((r for r in results if r["batch_size"] == batch_size), None)
    if row is None:
        raise UserInputError(f"--bench: no results at batch size {batch_size} (the file has {sizes})")
    return {name: m["step_ms"]["median"] for name, m in row["methods"].items() if m.get("step_ms")}


def bench_time_ratio(step_ratio: float | None, variant_ms: float | None, reference_ms: float | None) -> float | None:
    """The time ratio noise cannot fake: step ratio × the interleaved bench's per-step time ratio."""
    if step_ratio is None or variant_ms is None or reference_ms is None or reference_ms == 0:
        return None
    return step_ratio * variant_ms / reference_ms


def bench_key(variant: dict[str, Any]) -> str:
    """The `hyperadalora bench --methods` spec whose step costs what a variant's step costs. A start (PiSSA, LoRA-GA)
    changes initial values only, so its step is its method's; the optimizer and the generation rule change it."""
    method = variant.get("method", "hyperadalora")
    options = [f"{k}={str(variant[k]).lower() if isinstance(variant[k], bool) else variant[k]}"
               for k in ("optimizer", "generation", "hypernet", "attention_block", "hypernet_checkpointing")
               if k in variant and variant[k] not in (None, "adamw", "gradient", "attention", "auto")]
    return method + (":" + ",".join(options) if options else "")


def summarize(runs: dict[str, list[RunData]], baseline: str, window: int = DEFAULT_WINDOW,
              target_loss: float | None = None, floor: str | None = None,
              bench_ms: dict[str, float] | None = None, bench_keys: dict[str, str] | None = None,
              controls: list[str] | None = None) -> dict[str, Any]:
    """Aggregate runs per variant (same seeds) into the comparison summary (plain JSON-able dict).

    `baseline` is the variant whose final smoothed loss (mean over seeds) defines the target and against which
    time ratios are computed; `floor` (e.g. the head-only run) is the level adapters must beat. `bench_ms`: median
    step time per bench method spec, `bench_keys`: the spec of each variant (see `bench_key`); with them every
    step ratio gets its bench time ratio. `controls`: variants that are not methods a user would pick (never the
    best baseline); every variant gets its steps to each control's final loss.
    """
    if baseline not in runs:
        raise UserInputError(f"baseline variant {baseline!r} has no runs; variants: {', '.join(runs)}")
    per_variant: dict[str, dict[str, Any]] = {}
    for name, rs in runs.items():
        n = _common_length(rs)
        steps = rs[0].steps[:n]
        smoothed_mean = smooth(mean_curve([r.task_loss[:n] for r in rs]), window)
        per_variant[name] = {"runs": rs, "n": n, "steps": steps, "smoothed_mean": smoothed_mean,
                             "wall_mean": mean_curve([r.wall_s[:n] for r in rs])}
    base = per_variant[baseline]
    target_source = "given (--target-loss)"
    if target_loss is None:
        target_loss = base["smoothed_mean"][-1]
        target_source = f"final smoothed task loss of {baseline!r}, mean over seeds"

    # A second, noise-robust target: 90 % of the baseline's drop from its start loss. Two methods that plateau
    # at the same level cross the plateau itself by noise; they cross the 90 % level on their way down.
    base_start = statistics.fmean(statistics.fmean(r.task_loss[:window]) for r in base["runs"])
    target90 = base_start - 0.9 * (base_start - base["smoothed_mean"][-1])
    out: dict[str, Any] = {"baseline": baseline, "floor": floor, "smooth_window": window,
                           "target_loss": target_loss, "target_source": target_source,
                           "target90_loss": target90, "variants": {}}
    for name, v in per_variant.items():
        rs: list[RunData] = v["runs"]
        n = v["n"]
        step_t = steps_to_target(v["steps"], v["smoothed_mean"], target_loss)
        step_90 = steps_to_target(v["steps"], v["smoothed_mean"], target90)
        per_seed = []
        for r in rs:
            sm = smooth(r.task_loss[:n], window)
            s = steps_to_target(r.steps[:n], sm, target_loss)
            per_seed.append({
                "seed": r.seed, "run_dir": str(r.path), "start_loss": statistics.fmean(r.task_loss[:window]),
                "final_smoothed_loss": sm[-1], "steps_to_target": s,
                "seconds_to_target": value_at_step(r.steps[:n], r.wall_s[:n], s),
                "train_seconds": r.summary.get("train_seconds", r.wall_s[n - 1]),
                "final_metrics": final_metrics(r),
            })
        starts = [p["start_loss"] for p in per_seed]
        finals = [p["final_smoothed_loss"] for p in per_seed]
        metric_names = sorted(set().union(*(p["final_metrics"] for p in per_seed)))
        lrs = sorted({r.summary.get("lr", r.config.get("lr")) for r in rs} - {None})
        ranks = [r.total_rank[n - 1] for r in rs if r.total_rank[n - 1] is not None]
        out["variants"][name] = {
            "seeds": [r.seed for r in rs],
            "complete": all(r.complete for r in rs),
            "planned_steps": rs[0].config.get("max_steps"),
            "method": rs[0].summary.get("method", rs[0].config.get("method")),
            "lr": lrs[0] if len(lrs) == 1 else lrs,
            "steps": v["steps"][-1],
            "start_loss": _mean_std(starts),
            "final_smoothed_loss": _mean_std(finals),
            "relative_drop": 1 - statistics.fmean(finals) / statistics.fmean(starts),
            "steps_to_target": step_t,
            "seconds_to_target": value_at_step(v["steps"], v["wall_mean"], step_t),
            "seeds_reaching_target": sum(p["steps_to_target"] is not None for p in per_seed),
            "steps_to_target90": step_90,
            "seconds_to_target90": value_at_step(v["steps"], v["wall_mean"], step_90),
            "train_seconds": _mean_std([p["train_seconds"] for p in per_seed]),
            "seconds_per_step": statistics.fmean(r.wall_s[n - 1] / r.steps[n - 1] for r in rs),
            "final_metrics": {m: _mean_std([p["final_metrics"][m] for p in per_seed if m in p["final_metrics"]])
                              for m in metric_names},
            "trainable_params": rs[0].summary.get("trainable_params"),
            "peak_memory_mb": max((r.summary.get("peak_memory_mb") or 0.0) for r in rs) or None,
            "final_total_rank": statistics.fmean(ranks) if ranks else None,
            "per_seed": per_seed,
        }
    b = out["variants"][baseline]
    for name, v in out["variants"].items():
        v["step_ratio_vs_baseline"] = _ratio(v["steps_to_target"], b["steps_to_target"])
        v["time_ratio_vs_baseline"] = _ratio(v["seconds_to_target"], b["seconds_to_target"])
        v["step_ratio90_vs_baseline"] = _ratio(v["steps_to_target90"], b["steps_to_target90"])
        v["time_ratio90_vs_baseline"] = _ratio(v["seconds_to_target90"], b["seconds_to_target90"])
        if floor in out["variants"] and name != floor and v["complete"] and out["variants"][floor]["complete"]:
            f = out["variants"][floor]["final_smoothed_loss"]["mean"]
            v["beats_floor"] = f - v["final_smoothed_loss"]["mean"] > FLOOR_MARGIN
            v["margin_vs_floor"] = f - v["final_smoothed_loss"]["mean"]
    # The best method a user could pick instead, and every variant's steps to its final loss.
    controls = [c for c in (controls or []) if c in out["variants"]]
    users = [name for name, v in out["variants"].items() if v["method"] not in ("hyperadalora", "head")
             and name != floor and name not in controls and v["complete"]]
    best = min(users, key=lambda n: out["variants"][n]["final_smoothed_loss"]["mean"]) if users else None
    out["best_baseline"] = best
    out["controls"] = controls

    def steps_to_final_of(ref: str) -> dict[str, tuple[int | None, float | None]]:
        """Every variant's steps to `ref`'s final loss (seed-mean curves), and the ratio to `ref`'s own."""
        loss = out["variants"][ref]["final_smoothed_loss"]["mean"]
        ref_steps = steps_to_target(per_variant[ref]["steps"], per_variant[ref]["smoothed_mean"], loss)
        own = {n: steps_to_target(per_variant[n]["steps"], per_variant[n]["smoothed_mean"], loss) for n in per_variant}
        return {n: (s, _ratio(s, ref_steps)) for n, s in own.items()}

    if best is not None:
        out["best_baseline_loss"] = out["variants"][best]["final_smoothed_loss"]["mean"]
        for name, (own, ratio) in steps_to_final_of(best).items():
            out["variants"][name]["steps_to_best_baseline"] = own
            out["variants"][name]["step_ratio_vs_best_baseline"] = ratio
    for c in controls:
        for name, (own, ratio) in steps_to_final_of(c).items():
            out["variants"][name].setdefault("steps_to_controls", {})[c] = {"steps": own, "ratio": ratio}
    keys = bench_keys or {}
    for name, v in out["variants"].items():
        ms = (bench_ms or {}).get(keys.get(name, ""))
        v["bench_step_ms"] = ms
        v["bench_time_ratio_vs_baseline"] = bench_time_ratio(v["step_ratio_vs_baseline"], ms,
                                                             (bench_ms or {}).get(keys.get(baseline, "")))
        v["bench_time_ratio90_vs_baseline"] = bench_time_ratio(v["step_ratio90_vs_baseline"], ms,
                                                               (bench_ms or {}).get(keys.get(baseline, "")))
        if best is not None:
            v["bench_time_ratio_vs_best_baseline"] = bench_time_ratio(
                v["step_ratio_vs_best_baseline"], ms, (bench_ms or {}).get(keys.get(best, "")))
    out["baseline_learned"] = b["relative_drop"] >= LEARNED_DROP
    out["incomplete"] = [name for name, v in out["variants"].items() if not v["complete"]]
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


# --- report.md ---------------------------------------------------------------------------------
def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _fmt_ms(ms: dict[str, float] | None, digits: int = 4) -> str:
    if not ms:
        return "–"
    if ms["n"] == 1:
        return f"{ms['mean']:.{digits}f} (1 seed)"
    return f"{ms['mean']:.{digits}f} ± {ms['std']:.{digits}f}"


def _fmt_target(v: dict[str, Any]) -> str:
    value = v["steps_to_target"]
    seeds = f"({v['seeds_reaching_target']}/{len(v['seeds'])} seeds)"
    return f"not reached {seeds}" if value is None else f"{value} {seeds}"


def render_report(summary: dict[str, Any]) -> str:
    """The report.md text of a comparison summary (as written by `summarize` plus the provenance keys)."""
    lines: list[str] = [f"# Comparison: {summary.get('title', summary.get('experiment', 'custom'))}", ""]
    if summary.get("notes"):
        lines += [*summary["notes"], ""]
    plan = summary.get("plan", {})
    lines += [
        "## Setting",
        "",
        f"- task: `{plan.get('task')}`, data: `{plan.get('data')}`, model: `{plan.get('model')}`",
        f"- steps: {plan.get('max_steps')}, batch size: {plan.get('batch_size')}, max length: "
        f"{plan.get('max_length')} (dynamic padding), seeds: {plan.get('seeds')}",
        f"- shared training settings: `{json.dumps(plan.get('common', {}), sort_keys=True)}`",
        f"- learning rates: {summary.get('lr_source', 'fixed by the preset')}",
    ]
    sweep = summary.get("lr_sweep")
    if sweep and sweep.get("variants"):
        lines += ["", f"Sweep ({sweep['criterion']}); the learning rate on {sweep['grid']} unless the knob says "
                      "otherwise:", "", "| variant | knob | final smoothed loss per value | chosen |", "|---|---|---|---|"]
        for name, r in sweep["variants"].items():
            cells = ", ".join(f"{value}: {_fmt(loss) if loss is not None else 'diverged'}"
                              for value, loss in r["losses"].items())
            knob = r.get("field", "lr")
            at = f" (at lr {r['lr']:g})" if knob != "lr" and r.get("lr") is not None else ""
            lines.append(f"| `{name}` | {knob}{at} | {cells} | {r['chosen']:g} |")
    if summary.get("incomplete"):
        lines += ["", f"**Incomplete comparison:** {', '.join(f'`{n}`' for n in summary['incomplete'])} stopped "
                      "before the planned number of steps (out of time). Their figures cover only the steps they "
                      "ran: \"not reached\" there means not reached *by the step where the run stopped*; no "
                      "conclusion about them is drawn from this folder."]
    lines += [
        "",
        "## Results",
        "",
        f"Target loss **{_fmt(summary['target_loss'])}** ({summary['target_source']}). Smoothed loss = trailing "
        f"mean of the task loss over {summary['smooth_window']} steps; steps/seconds to target are read off the "
        "seed-mean smoothed curve (first step at or below the target, never extrapolated; "
        "`(k/n seeds)` = how many single seeds reach it). Ratios are method / "
        f"`{summary['baseline']}` (< 1 = faster). \"90 %\": the same for the level where the baseline has made 90 % "
        f"of its drop (**{_fmt(summary['target90_loss'])}**), robust when methods end on the same plateau. "
        "Seconds are wall-clock on a shared machine: compare them with care.",
        "",
    ]
    metric_names = sorted(set().union(*(v["final_metrics"] for v in summary["variants"].values())))
    header = ["variant", "lr", "start loss", "final smoothed loss", "steps to target", "s to target",
              "step ratio", "time ratio", "bench time ratio", "steps to 90 %", "s to 90 %", "step ratio 90 %",
              "time ratio 90 %", "bench time ratio 90 %",
              *[f"dev {m}" for m in metric_names], "trainable params", "peak mem (MB)", "s/step"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, v in summary["variants"].items():
        lr = v["lr"] if not isinstance(v["lr"], list) else ", ".join(f"{x:g}" for x in v["lr"])
        label = f"`{name}`" if v.get("complete", True) else \
            f"`{name}` **INCOMPLETE: stopped at step {v['steps']} of {v.get('planned_steps')}**"
        row = [label, f"{lr:g}" if isinstance(lr, float) else str(lr),
               _fmt(v["start_loss"]["mean"]), _fmt_ms(v["final_smoothed_loss"]),
               _fmt_target(v), _fmt(v["seconds_to_target"], 1),
               _fmt(v["step_ratio_vs_baseline"], 3), _fmt(v["time_ratio_vs_baseline"], 3),
               _fmt(v.get("bench_time_ratio_vs_baseline"), 3),
               str(v["steps_to_target90"]) if v["steps_to_target90"] is not None else "not reached",
               _fmt(v["seconds_to_target90"], 1),
               _fmt(v["step_ratio90_vs_baseline"], 3), _fmt(v["time_ratio90_vs_baseline"], 3),
               _fmt(v.get("bench_time_ratio90_vs_baseline"), 3),
               *[_fmt_ms(v["final_metrics"].get(m)) for m in metric_names],
               f"{v['trainable_params']:,}" if v["trainable_params"] else "–",
               _fmt(v["peak_memory_mb"], 0), _fmt(v["seconds_per_step"], 3)]
        lines.append("| " + " | ".join(row) + " |")
    best = summary.get("best_baseline")
    if best is not None:
        lines += ["", f"## Against the best baseline: `{best}`", "",
                  f"The method a user could pick instead that ends lowest: `{best}`, final smoothed loss "
                  f"{_fmt(summary['best_baseline_loss'])}. Steps to that loss (seed-mean curve), and the ratios to "
                  f"`{best}`'s own (< 1 = faster); the bench time ratio multiplies the step ratio by the interleaved "
                  "bench's per-step time ratio.", "",
                  "| variant | steps to best's final | step ratio | bench time ratio | bench step (ms) |",
                  "|---|---|---|---|---|"]
        for name, v in summary["variants"].items():
            steps = v.get("steps_to_best_baseline")
            lines.append(f"| `{name}` | {steps if steps is not None else 'not reached'} | "
                         f"{_fmt(v.get('step_ratio_vs_best_baseline'), 3)} | "
                         f"{_fmt(v.get('bench_time_ratio_vs_best_baseline'), 3)} | {_fmt(v.get('bench_step_ms'), 1)} |")
        if summary.get("bench"):
            lines += ["", f"Bench: {summary['bench']}"]
    b = summary["variants"][summary["baseline"]]
    lines += [
        "",
        "## Did the baseline learn?",
        "",
        f"`{summary['baseline']}`: start loss {_fmt(b['start_loss']['mean'])} → final smoothed loss "
        f"{_fmt(b['final_smoothed_loss']['mean'])} ({abs(b['relative_drop']) * 100:.1f} % "
        f"{'lower' if b['relative_drop'] >= 0 else 'higher'}; "
        f"{LEARNED_DROP * 100:.0f} % required).",
        "",
        f"**baseline learned: {'yes' if summary['baseline_learned'] else 'no'}**" +
        ("" if summary["baseline_learned"] else
         " — the curves below compare methods that barely moved; they do not show a convergence difference."),
        "",
    ]
    floor = summary.get("floor")
    if floor in summary["variants"]:
        f = summary["variants"][floor]
        lines += ["## Against the head-only floor", "",
                  f"`{floor}` (classifier only, no adapters) ends at {_fmt(f['final_smoothed_loss']['mean'])}.", ""]
        for name, v in summary["variants"].items():
            if name == floor:
                continue
            if "beats_floor" not in v:
                lines.append(f"- `{name}`: not compared (a run stopped before its planned steps)")
                continue
            verdict = "beats the floor" if v["beats_floor"] else \
                f"does NOT beat the floor (not by more than {FLOOR_MARGIN})"
            lines.append(f"- `{name}`: {_fmt(v['final_smoothed_loss']['mean'])}, {verdict} "
                         f"(margin {v['margin_vs_floor']:+.4f})")
        lines.append("")
    lines += ["## Per seed", "", "| variant | seed | start | final smoothed | steps to target | s to target | "
              "train s | dev metrics |", "|---|---|---|---|---|---|---|---|"]
    for name, v in summary["variants"].items():
        for p in v["per_seed"]:
            metrics = ", ".join(f"{k} {x:.4f}" for k, x in sorted(p["final_metrics"].items())) or "–"
            lines.append(f"| `{name}` | {p['seed']} | {_fmt(p['start_loss'])} | {_fmt(p['final_smoothed_loss'])} | "
                         f"{p['steps_to_target'] if p['steps_to_target'] is not None else 'not reached'} | "
                         f"{_fmt(p['seconds_to_target'], 1)} | {_fmt(p['train_seconds'], 1)} | {metrics} |")
    plots = summary.get("plots", [])
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    prov = summary.get("provenance", {})
    if prov:
        m = prov.get("machine", {})
        lines += ["", "## Provenance", "",
                  f"- command: `{prov.get('command')}`",
                  f"- date (UTC): {prov.get('date')}",
                  f"- git commit: `{prov.get('git_commit')}`",
                  f"- machine: {m.get('cpu')}, {m.get('cores')} cores ({m.get('torch_threads')} torch threads), "
                  f"GPU: {m.get('gpu') or 'none'}; {m.get('platform')}; python {m.get('python')}, "
                  f"torch {m.get('torch')}"]
    return "\n".join(lines) + "\n"


def jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without RunData objects (already plain), ready for json.dumps."""
    return json.loads(json.dumps(summary, default=str))
