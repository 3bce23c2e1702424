"""`hyperadalora compare`: several methods / settings on one task with the same seeds, one folder of results.

    hyperadalora compare --experiment nlu-convergence --task rte            # AdaLoRA vs HyperAdaLoRA (+LoRA, head)
    hyperadalora compare --experiment gamma --task rte --seeds 1 --steps 100
    hyperadalora compare --experiment nlu-convergence --task rte --lr-sweep  # pick each method's rate first

The folder (`--out`, default runs/compare_<experiment>_<task>) holds `plan.json`, `runs/<variant>/seed<k>/`
(each run's config.json, log.jsonl, summary.json as written by `hyperadalora.train.train`), `summary.json`,
`report.md` and PNG plots. Finished runs (those with a summary.json) are reused, so an interrupted comparison
resumes with the same command; a folder holding a different plan is refused rather than overwritten.
Why ~440 lines: planning, the sweep and run reuse are one flow; reading runs and reporting are in report.py.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hyperadalora._version import __version__
from hyperadalora.bench.experiments import PAPER_SETTINGS, Plan, build_plan
from hyperadalora.bench.provenance import git_commit, machine_description
from hyperadalora.bench.report import (
    DEFAULT_WINDOW,
    RunData,
    jsonable,
    load_run,
    render_report,
    smooth,
    summarize,
)
from hyperadalora.errors import UserInputError

TrainFn = Callable[[dict[str, Any]], Any]
DEFAULT_SWEEP_GRID = (3e-4, 1e-3, 3e-3, 1e-2)


def train_with_harness(fields: dict[str, Any]) -> Any:
    """Run one training with `hyperadalora.train` (imported lazily: it pulls in transformers)."""
    from hyperadalora.train import TrainConfig, train

    return train(TrainConfig.from_dict(fields))


def validate_with_harness(plan: Plan, out: Path) -> None:
    """Build every run's TrainConfig before training anything, so a bad field fails before any run starts."""
    from hyperadalora.train import TrainConfig

    for v in plan.variants:
        TrainConfig.from_dict(plan.train_fields(v, plan.seeds[0], str(out / "runs" / v.name / "seed0")),
                              source=f"compare run {v.name!r} (preset + --set)")


# --- plan --------------------------------------------------------------------------------------
def parse_assignments(items: list[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserInputError(f"{flag} {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value  # a bare string such as hypernet=mlp
    return out


def plan_from_args(args: argparse.Namespace) -> Plan:
    """The preset named by --experiment with every command-line override applied."""
    plan = build_plan(args.experiment, task=args.task, data=args.data, model=args.model,
                      config=getattr(args, "config", None))
    if args.methods:
        wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
        known = {v.name: v for v in plan.variants}
        unknown = [m for m in wanted if m not in known]
        if unknown:
            raise UserInputError(f"--methods: {', '.join(unknown)} not in preset {plan.experiment!r} "
                                 f"(variants: {', '.join(known)})")
        plan.variants = [known[m] for m in wanted]
        if plan.baseline not in wanted and args.target_loss is None:
            raise UserInputError(f"--methods: keep the baseline {plan.baseline!r} (it defines the target loss) "
                                 "or pass --target-loss")
        if plan.baseline not in wanted:
            plan.baseline = wanted[0]
        if plan.floor not in wanted:
            plan.floor = None
        plan.controls = [c for c in plan.controls if c in wanted]
    if args.paper_settings:
        plan.common.update({k: v for k, v in PAPER_SETTINGS.items() if k != "lr"})
        plan.common.pop("lr_scheduler", None)  # the paper names no schedule: the harness default
        plan.common.pop("warmup_steps", None)
        for v in plan.variants:
            v.overrides["lr"] = PAPER_SETTINGS["lr"]
        plan.notes.append("`--paper-settings`: r = 3, γ = 0.1, Adam (AdamW, weight decay 0), learning rate 1e-5 "
                          "(adapters and head), batch 64 for every variant (the paper's §4.1 configuration as "
                          "published).")
    for flag, key in (("steps", "max_steps"), ("batch_size", "batch_size"), ("max_length", "max_length")):
        if getattr(args, flag) is not None:
            plan.common[key] = getattr(args, flag)
    plan.common.update(parse_assignments(args.set, "--set"))
    lrs = parse_assignments(args.lr, "--lr")
    for name, lr in lrs.items():
        hits = [v for v in plan.variants if name in (v.name, v.overrides.get("method"))]
        if not hits:
            raise UserInputError(f"--lr {name}=…: no variant or method {name!r} in this plan "
                                 f"(variants: {', '.join(v.name for v in plan.variants)})")
        if not isinstance(lr, int | float) or lr <= 0:
            raise UserInputError(f"--lr {name}={lr!r}: expected a positive number")
        for v in hits:
            v.overrides["lr"] = float(lr)
    if args.seeds < 1:
        raise UserInputError(f"--seeds: must be >= 1, got {args.seeds}")
    plan.seeds = list(range(args.seed_offset, args.seed_offset + args.seeds))
    return plan


# --- running -----------------------------------------------------------------------------------
def _check_plan_file(out: Path, plan_dict: dict[str, Any]) -> None:
    """Refuse a folder holding another comparison; the seed list may change (more seeds extend a comparison)."""
    path = out / "plan.json"
    new = jsonable(plan_dict)
    if path.is_file():
        old = json.loads(path.read_text())
        if {k: v for k, v in old.items() if k != "seeds"} != {k: v for k, v in new.items() if k != "seeds"}:
            raise UserInputError(f"{path}: this folder holds a different comparison; pass a new --out "
                                 "(or the same settings to resume it)")
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(new, indent=2) + "\n")


FIELDS_FILE = "compare_fields.json"  # the exact TrainConfig fields compare passed, to find identical runs
VERSION_KEY = "trained_by"  # beside them: the hyperadalora version that trained the run


def _canonical(fields: dict[str, Any]) -> dict[str, Any]:
    """The run's full TrainConfig (defaults filled in) without the fields that cannot change what is computed,
    so presets that spell a setting out (hypernet='attention') and presets that leave it default match."""
    from hyperadalora.train.config import HYPER_ONLY_FIELDS, OPERATIONAL_FIELDS, TrainConfig

    full = TrainConfig.from_dict({k: v for k, v in fields.items() if k != "resume"}).to_dict()
    ignored = set(OPERATIONAL_FIELDS) | (HYPER_ONLY_FIELDS if full["method"] != "hyperadalora" else set())
    return jsonable({k: v for k, v in full.items() if k not in ignored})


def _same_run(fields: dict[str, Any], run_dir: Path) -> bool:
    path = run_dir / FIELDS_FILE
    if not (path.is_file() and (run_dir / "summary.json").is_file()):
        return False
    saved = json.loads(path.read_text())
    # HyperAdaLoRA's defaults belong to the version that trained it (0.3 changed the start, η and attention):
    # its runs are the same run only for the same minor version. Files without the key were written by 0.2.
    trained_by = saved.pop(VERSION_KEY, "0.2.0")
    if saved.get("method", "hyperadalora") == "hyperadalora" and _minor(trained_by) != _minor(__version__):
        return False
    return _canonical(saved) == _canonical(fields)


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _find_identical(fields: dict[str, Any], roots: list[Path]) -> Path | None:
    for root in roots:
        for candidate in [*sorted(root.glob("runs/*/seed*")), *sorted(root.glob("sweep/*/*"))]:
            if _same_run(fields, candidate):
                return candidate
    return None


def _run_once(fields: dict[str, Any], run_dir: Path, train_fn: TrainFn, keep_checkpoints: bool,
              reuse_from: list[Path] | None = None) -> None:
    if (run_dir / "summary.json").is_file():
        print(f"[compare] reusing finished run {run_dir}", flush=True)
        return
    source = _find_identical(fields, reuse_from or [])
    if source is not None:
        # the same fields and seed give the same training (CPU runs are bitwise repeatable): copy, don't retrain
        shutil.copytree(source, run_dir, ignore=shutil.ignore_patterns("checkpoints"))
        (run_dir / "reused_from.txt").write_text(f"{source}\n")
        print(f"[compare] copied identical run {source} -> {run_dir}", flush=True)
        return
    # an interrupted run (config written, no summary) continues from its newest checkpoint
    resume = (run_dir / "config.json").is_file()
    print(f"[compare] {'resuming' if resume else 'training'} {run_dir} (lr {fields.get('lr')})", flush=True)
    started = time.time()
    train_fn({**fields, "resume": True} if resume else fields)
    if not (run_dir / "log.jsonl").is_file():
        raise RuntimeError(f"{run_dir}: the training harness wrote no log.jsonl")
    (run_dir / FIELDS_FILE).write_text(json.dumps(jsonable({**fields, VERSION_KEY: __version__}), indent=2) + "\n")
    if not keep_checkpoints:
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # only the logs are compared; keeps folders small
    print(f"[compare] done {run_dir} in {time.time() - started:.0f} s", flush=True)


def _sweep_dir(field: str, value: float) -> str:
    return f"{'lr' if field == 'lr' else field + '_'}{value:g}"  # lr: the folder names of earlier sweeps


def lr_sweep(plan: Plan, out: Path, grid: list[float], steps: int, train_fn: TrainFn,
             window: int = DEFAULT_WINDOW, keep_checkpoints: bool = False,
             only: list[str] | None = None, reuse_from: list[Path] | None = None) -> dict[str, Any]:
    """Pick each variant's knob on one short run per value (first seed, `steps` steps).

    The knob is the variant's `Sweep` (the experiment file's `sweeps`): its learning rate on `grid` by default,
    or another field on its own grid (LoRA+'s ratio, Prodigy's d_coef); a variant with `lr_from` first takes
    that variant's chosen rate (variants are swept in the file's order). `only`: variant or method names to
    sweep (default: every variant with adapters); the others keep their values. A sweep run with exactly the same
    fields finished in a `reuse_from` folder is copied instead of retrained.

    Criterion: the lowest smoothed *training task loss* at the end of the short run (trailing mean over
    min(window, steps) steps); runs whose loss is not finite are excluded. Sets the chosen value on each variant.
    """
    window = min(window, steps)
    results: dict[str, Any] = {"criterion": f"lowest final smoothed training task loss (moving mean over {window} "
                                            f"steps) after {steps} steps, seed {plan.seeds[0]}",
                               "grid": grid, "steps": steps, "variants": {}}
    by_name = {v.name: v for v in plan.variants}
    for v in plan.variants:
        if v.overrides.get("method") == "head":
            continue  # no adapter parameters: `lr` does not apply, the head trains at head_lr in every variant
        if only is not None and v.name not in only and v.overrides.get("method") not in only:
            continue
        knob = v.sweep
        if knob.lr_from is not None and knob.lr_from in by_name:
            v.overrides["lr"] = by_name[knob.lr_from].overrides["lr"]  # already swept: earlier in the file
        values = knob.grid or grid if knob.field == "lr" else knob.grid
        scores: dict[str, float | None] = {}
        for value in values:
            run_dir = out / "sweep" / v.name / _sweep_dir(knob.field, value)
            fields = plan.train_fields(v, plan.seeds[0], str(run_dir))
            fields.update({knob.field: value, "max_steps": steps})
            _run_once(fields, run_dir, train_fn, keep_checkpoints, reuse_from)
            run = load_run(run_dir, v.name, plan.seeds[0])
            final = smooth(run.task_loss, window)[-1]
            scores[f"{value:g}"] = final if math.isfinite(final) else None
        finite = {value: s for value, s in scores.items() if s is not None}
        if not finite:
            raise RuntimeError(f"sweep: every {knob.field} diverged for {v.name!r}: {scores}")
        best = min(finite, key=finite.get)
        v.overrides[knob.field] = float(best)
        results["variants"][v.name] = {"field": knob.field, "grid": list(values), "losses": scores,
                                       "chosen": float(best), "lr": v.overrides.get("lr")}
        print(f"[compare] sweep {v.name} {knob.field}: {scores} -> {best}", flush=True)
    return results


def run_plan(plan: Plan, out: Path, train_fn: TrainFn, keep_checkpoints: bool = False,
             reuse_from: list[Path] | None = None) -> dict[str, list[RunData]]:
    """Train every variant × seed into out/runs/<variant>/seed<k>/; load them.

    Finished runs in `out` are kept; a run with exactly the same fields finished in another comparison folder
    listed in `reuse_from` is copied instead of retrained.
    """
    runs: dict[str, list[RunData]] = {}
    for v in plan.variants:
        for seed in plan.seeds:
            run_dir = out / "runs" / v.name / f"seed{seed}"
            _run_once(plan.train_fields(v, seed, str(run_dir)), run_dir, train_fn, keep_checkpoints,
                      [out, *(reuse_from or [])])  # a sweep run with the comparison's own settings is one of them
            runs.setdefault(v.name, []).append(load_run(run_dir, v.name, seed))
    return runs


def collect_runs(plan: Plan, out: Path, reuse_from: list[Path] | None = None) -> dict[str, list[RunData]]:
    """Load the runs of a plan without training (for --report-only): finished ones, identical finished ones from
    `reuse_from` (copied in), and stopped ones (reported as incomplete)."""
    runs: dict[str, list[RunData]] = {}
    for v in plan.variants:
        for seed in plan.seeds:
            run_dir = out / "runs" / v.name / f"seed{seed}"
            source = None if (run_dir / "log.jsonl").is_file() else \
                _find_identical(plan.train_fields(v, seed, str(run_dir)), reuse_from or [])
            if source is not None:
                shutil.copytree(source, run_dir, ignore=shutil.ignore_patterns("checkpoints"))
                (run_dir / "reused_from.txt").write_text(f"{source}\n")
            if (run_dir / "log.jsonl").is_file():
                runs.setdefault(v.name, []).append(load_run(run_dir, v.name, seed))
    if plan.baseline not in runs:
        raise UserInputError(f"{out}: no finished runs of the baseline {plan.baseline!r}; run the comparison first")
    return runs


def write_outputs(plan: Plan, out: Path, runs: dict[str, list[RunData]], *, window: int = DEFAULT_WINDOW,
                  target_loss: float | None = None, x_axes: tuple[str, ...] = ("step", "seconds"),
                  command: str | None = None, lr_source: str | None = None,
                  sweep: dict[str, Any] | None = None, notes: list[str] | None = None,
                  bench: str | None = None, bench_batch_size: int | None = None) -> dict[str, Any]:
    """summary.json, report.md and the PNG plots of a finished comparison; returns the summary."""
    from hyperadalora.bench.plots import write_plots

    bench_ms, keys = None, None
    if bench is not None:
        from hyperadalora.bench.report import bench_key, bench_step_ms

        bench_ms = bench_step_ms(json.loads(Path(bench).read_text()), bench_batch_size)
        keys = {v.name: bench_key(v.overrides) for v in plan.variants}
    summary = summarize(runs, plan.baseline, window=window, target_loss=target_loss, floor=plan.floor,
                        bench_ms=bench_ms, bench_keys=keys, controls=plan.controls)
    if bench is not None:
        missing = sorted({k for k in keys.values() if k not in bench_ms})
        summary["bench"] = (f"`{bench}`" + (f" (batch size {bench_batch_size})" if bench_batch_size else "") +
                            (f"; not benchmarked there: {', '.join(missing)}" if missing else ""))
    missing = {v.name: len(plan.seeds) - len(runs.get(v.name, [])) for v in plan.variants}
    incomplete = [f"{name} ({k} of {len(plan.seeds)} seeds missing)" for name, k in missing.items() if k]
    summary.update({
        "experiment": plan.experiment, "title": plan.title, "plan": plan.to_dict(),
        "lr_source": lr_source or "fixed by the preset / --lr (see the table)",
        "lr_sweep": sweep,
        "notes": [*plan.notes, *(notes or [])] + ([f"**Incomplete:** {', '.join(incomplete)}."] if incomplete else []),
        "provenance": {"command": command, "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                       "git_commit": git_commit(), "machine": machine_description()},
    })
    summary["plots"] = write_plots(runs, out, x_axes=x_axes, window=window, target=summary["target_loss"],
                                   title=plan.title)
    summary = jsonable(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "report.md").write_text(render_report(summary))
    return summary


# --- CLI ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `hyperadalora compare`."""
    parser.add_argument("--experiment", default="nlu-convergence",
                        help="an experiment file of configs/experiments: nlu-convergence (Figure 2), gamma (Table 2), "
                             "ablation (Figure 3), nlg (Tables 1, 3), baselines / nlg-baselines (every method users "
                             "would pick instead, issue #16)")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="an experiment file anywhere (instead of configs/experiments/<experiment>.yaml)")
    parser.add_argument("--task", default=None, help="GLUE task for the NLU presets (rte, wnli, mnli, sst2, …; default rte)")
    parser.add_argument("--data", default=None, help="data folder/file (default: the experiment file's, for the task)")
    parser.add_argument("--model", default=None, help="model name or path (default: minilm; stories260k for nlg)")
    parser.add_argument("--methods", default=None, help="comma-separated subset of the preset's variants")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (same seeds for every variant)")
    parser.add_argument("--seed-offset", type=int, default=0, help="first seed")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default: the preset's)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-length", type=int, default=None, help="max tokens (dynamic padding up to it)")
    parser.add_argument("--lr", action="append", metavar="VARIANT=LR",
                        help="learning rate of a variant or method, e.g. --lr adalora=1e-2 (repeatable)")
    parser.add_argument("--set", action="append", metavar="FIELD=VALUE",
                        help="any other TrainConfig field for every run, e.g. --set warmup_steps=10 (repeatable)")
    parser.add_argument("--paper-settings", action="store_true",
                        help="the paper's configuration: r=3, γ=0.1, Adam, lr 1e-5, batch 64")
    parser.add_argument("--lr-sweep", action="store_true",
                        help="before comparing, pick each variant's rate from --sweep-grid on a short run "
                             "(lowest final smoothed training loss)")
    parser.add_argument("--sweep-grid", default=",".join(f"{x:g}" for x in DEFAULT_SWEEP_GRID),
                        help="comma-separated learning rates for --lr-sweep")
    parser.add_argument("--sweep-methods", default=None,
                        help="comma-separated variants / methods to sweep (default: all with adapters)")
    parser.add_argument("--sweep-steps", type=int, default=60, help="steps of each --lr-sweep run")
    parser.add_argument("--target-loss", type=float, default=None,
                        help="target training loss (default: the baseline's final smoothed loss, mean over seeds)")
    parser.add_argument("--smooth-window", type=int, default=DEFAULT_WINDOW,
                        help="moving-window length (steps) of the smoothed loss")
    parser.add_argument("--x-axis", default="both", choices=("step", "seconds", "both"), help="x-axis of the plots")
    parser.add_argument("--out", default=None, help="output folder (default runs/compare_<experiment>_<task>)")
    parser.add_argument("--reuse-from", action="append", default=[], metavar="DIR",
                        help="another compare folder: runs there with exactly the same settings and seed are "
                             "copied instead of retrained (repeatable)")
    parser.add_argument("--bench", default=None, metavar="FILE",
                        help="a `hyperadalora bench` JSON measured on this task's shapes: every step ratio gets a "
                             "time ratio = step ratio x the bench's per-step time ratio")
    parser.add_argument("--bench-batch-size", type=int, default=None,
                        help="the batch size of --bench to read (default: its only one)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads for the runs (default: torch's). On a CPU shared with other "
                             "jobs, 1 thread avoids OpenMP oversubscription (measured 4x faster here)")
    parser.add_argument("--keep-checkpoints", action="store_true", help="keep each run's checkpoints/ folder")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: rebuild summary.json, report.md and plots from the runs in --out (stopped runs "
                             "are marked incomplete; identical finished runs in --reuse-from are copied in)")


def run(args: argparse.Namespace, train_fn: TrainFn | None = None) -> int:
    """Entry point of `hyperadalora compare`; returns the exit code."""
    plan = plan_from_args(args)
    if args.smooth_window < 1:
        raise UserInputError(f"--smooth-window: must be >= 1, got {args.smooth_window}")
    out = Path(args.out or f"runs/compare_{plan.experiment}_{plan.task}")
    if args.threads is not None:
        if args.threads < 1:
            raise UserInputError(f"--threads: must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    if train_fn is None:
        validate_with_harness(plan, out)
        train_fn = train_with_harness
    command = " ".join(["hyperadalora", "compare", *map(shlex.quote, getattr(args, "argv", None) or sys.argv[2:])])
    x_axes = ("step", "seconds") if args.x_axis == "both" else (args.x_axis,)
    sweep, lr_source = None, None
    if args.lr_sweep:
        try:
            grid = [float(x) for x in args.sweep_grid.split(",") if x.strip()]
        except ValueError:
            raise UserInputError(f"--sweep-grid {args.sweep_grid!r}: expected comma-separated numbers") from None
        if not grid or any(g <= 0 for g in grid):
            raise UserInputError(f"--sweep-grid {args.sweep_grid!r}: expected positive learning rates")
        if args.sweep_steps < 2:
            raise UserInputError(f"--sweep-steps: must be >= 2, got {args.sweep_steps}")
        out.mkdir(parents=True, exist_ok=True)
        only = [m.strip() for m in args.sweep_methods.split(",") if m.strip()] if args.sweep_methods else None
        sweep = lr_sweep(plan, out, grid, args.sweep_steps, train_fn, args.smooth_window, args.keep_checkpoints,
                         only, [Path(d) for d in args.reuse_from])
        swept = ", ".join(f"`{name}`" for name in sweep["variants"])
        lr_source = (f"{swept} chosen by `--lr-sweep` from {grid}: {sweep['criterion']}; any other variant keeps "
                     "the preset's / --lr rate")
    plan_dict = plan.to_dict()
    if args.report_only:
        runs = collect_runs(plan, out, [Path(d) for d in args.reuse_from])
        previous = out / "summary.json"
        if previous.is_file() and sweep is None:  # keep how the rates were chosen when only re-rendering
            old = json.loads(previous.read_text())
            sweep, lr_source = old.get("lr_sweep"), old.get("lr_source")
    else:
        _check_plan_file(out, plan_dict)
        runs = run_plan(plan, out, train_fn, args.keep_checkpoints, [Path(d) for d in args.reuse_from])
    summary = write_outputs(plan, out, runs, window=args.smooth_window, target_loss=args.target_loss,
                            x_axes=x_axes, command=command, lr_source=lr_source, sweep=sweep,
                            bench=args.bench, bench_batch_size=args.bench_batch_size)
    print(f"[compare] wrote {out / 'report.md'}; baseline learned: {'yes' if summary['baseline_learned'] else 'no'}")
    for name, v in summary["variants"].items():
        print(f"  {name:>14}: final {v['final_smoothed_loss']['mean']:.4f}, steps to target "
              f"{v['steps_to_target'] if v['steps_to_target'] is not None else 'not reached'}, "
              f"step ratio {v['step_ratio_vs_baseline'] if v['step_ratio_vs_baseline'] is not None else '–'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (`python -m hyperadalora.bench.compare`); the CLI normally calls `run`."""
    parser = argparse.ArgumentParser(prog="hyperadalora compare", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    try:
        return run(args)
    except UserInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
