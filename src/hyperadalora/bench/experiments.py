"""The experiments of `hyperadalora compare` as plans: which variants, which settings, which sweeps.

The recipe data (tuned rates, per-task steps, default data paths, sweep grids) lives in one YAML file per
experiment, `configs/experiments/<experiment>.yaml` in the checkout (torchtune keeps `recipes/configs/*.yaml`);
this module only reads such a file into a `Plan` and checks it. Every variant trains the same task with the same
seeds, batches and head; only the fields in `Variant.overrides` differ.

A file holds:

    experiment: nlu-convergence          # its name (the file's stem)
    title: "convergence on {TASK}"       # {TASK}: the task, upper-case
    task: rte                            # the default --task
    model: minilm                        # the default --model
    data: <root>/glue/{GLUE_DIR}         # the default --data, relative to the working directory
    glue_dirs: {rte: RTE, ...}           # GLUE task -> folder name ({GLUE_DIR})
    baseline: adalora                    # the variant that defines the target loss
    floor: head                          # optional: the level adapters must beat
    common: {...}                        # TrainConfig fields of every run
    tasks: {sst2: {...}, default: {...}} # TrainConfig fields per task (steps, batch, length)
    variants: {name: {TrainConfig fields}}
    sweeps: {name: {field: ..., grid: [...], lr_from: ...}}  # optional: what `--lr-sweep` tunes (default: lr)
    notes: [...]                         # optional: lines for the report
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperadalora.errors import UserInputError

# The paper's §4.1: r = 3, γ = 0.1, Adam (the harness's AdamW with weight decay 0 is Adam), lr 1e-5, batch 64.
PAPER_SETTINGS: dict[str, Any] = {"init_r": 3, "target_r": 2, "orth_reg_weight": 0.1, "weight_decay": 0.0,
                                  "lr": 1e-5, "head_lr": 1e-5, "batch_size": 64}
PRESET_KEYS = {"experiment", "title", "task", "model", "data", "glue_dirs", "baseline", "floor", "controls", "common",
               "tasks", "variants", "sweeps", "notes"}
REQUIRED_KEYS = ("experiment", "title", "task", "model", "data", "baseline", "common", "variants")
SWEEP_KEYS = {"field", "grid", "lr_from"}


@dataclass
class Sweep:
    """What `--lr-sweep` tunes for one variant: a TrainConfig field and its grid (None: the --sweep-grid of
    rates). `lr_from`: a variant whose (swept) rate this one takes first, e.g. LoRA+ tunes its ratio at LoRA's."""

    field: str = "lr"
    grid: list[float] | None = None
    lr_from: str | None = None


@dataclass
class Variant:
    """One arm of a comparison: a label and the TrainConfig fields that differ from the plan's common ones."""

    name: str
    overrides: dict[str, Any]
    sweep: Sweep = field(default_factory=Sweep)


@dataclass
class Plan:
    """A whole comparison: the task, the settings shared by every run, the variants, the seeds."""

    experiment: str
    title: str
    task: str
    data: str
    model: str
    variants: list[Variant]
    baseline: str
    floor: str | None = None
    # variants that control an experiment (AdaLoRA from the candidate's start, LoRA at its final rank), not methods a
    # user would pick instead: never the best baseline; every variant's steps to each one's final loss are reported
    controls: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    common: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields shared by all runs (steps, batch…)
    notes: list[str] = field(default_factory=list)

    def train_fields(self, variant: Variant, seed: int, out: str) -> dict[str, Any]:
        """The TrainConfig fields of one run."""
        return {"task": self.task, "data": self.data, "model": self.model, **self.common,
                **variant.overrides, "seed": seed, "out": out}

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "title": self.title, "task": self.task, "data": self.data,
                "model": self.model, "baseline": self.baseline, "floor": self.floor,
                "controls": self.controls, "seeds": self.seeds,
                "common": self.common, "variants": {v.name: v.overrides for v in self.variants},
                "max_steps": self.common.get("max_steps"), "batch_size": self.common.get("batch_size"),
                "max_length": self.common.get("max_length")}


# --- the config files ---------------------------------------------------------------------------
def default_config_dir() -> Path:
    """configs/experiments of the source checkout holding this package (an installed package has none: pass
    --config)."""
    from hyperadalora.train.sources import repo_root

    root = repo_root()
    if root is None:
        raise UserInputError("--experiment: no configs/experiments beside an installed package; pass --config FILE "
                             "(a configs/experiments/*.yaml of the source repository)")
    return root / "configs" / "experiments"


def available(config_dir: Path) -> list[str]:
    """Experiment names of the YAML files in `config_dir`."""
    return sorted(p.stem for p in config_dir.glob("*.yaml"))


def read_preset(path: str | Path) -> dict[str, Any]:
    """The checked mapping of one experiment file (one-line errors naming the file and the key)."""
    from hyperadalora.train.config import read_config_file

    path = Path(path)
    raw = read_config_file(path)
    unknown = sorted(set(raw) - PRESET_KEYS)
    if unknown:
        raise UserInputError(f"{path}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(PRESET_KEYS))}")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise UserInputError(f"{path}: missing key {missing[0]!r}")
    if not isinstance(raw["variants"], dict) or not raw["variants"]:
        raise UserInputError(f"{path}: variants: expected a mapping of variant names to TrainConfig fields")
    for name in (raw["baseline"], raw.get("floor")):
        if name is not None and name not in raw["variants"]:
            raise UserInputError(f"{path}: {name!r} (baseline/floor) is not one of the variants")
    controls = raw.get("controls") or []
    if not isinstance(controls, list) or any(c not in raw["variants"] for c in controls):
        raise UserInputError(f"{path}: controls: expected a list of variant names, got {controls!r}")
    for name, sweep in (raw.get("sweeps") or {}).items():
        if name not in raw["variants"]:
            raise UserInputError(f"{path}: sweeps: {name!r} is not one of the variants")
        if not isinstance(sweep, dict) or set(sweep) - SWEEP_KEYS or "field" not in sweep:
            raise UserInputError(f"{path}: sweeps.{name}: expected {{field: NAME, grid: [values], lr_from: VARIANT}}")
        if sweep["field"] != "lr" and not sweep.get("grid"):
            raise UserInputError(f"{path}: sweeps.{name}: a grid is required for field {sweep['field']!r}")
        if sweep.get("lr_from") is not None and sweep["lr_from"] not in raw["variants"]:
            raise UserInputError(f"{path}: sweeps.{name}.lr_from: {sweep['lr_from']!r} is not one of the variants")
    return raw


def _glue_dir(raw: dict[str, Any], task: str, path: Path) -> str:
    dirs = raw.get("glue_dirs") or {}
    if task not in dirs:
        raise UserInputError(f"--task: unknown GLUE task {task!r} for {path.name}; choose one of {', '.join(dirs)}")
    return dirs[task]


def _for_task(fields: dict[str, Any], task: str) -> dict[str, Any]:
    """A variant's fields with "{TASK}" in its string values replaced by the task (a per-task file, e.g. the
    warm start held out from that task)."""
    return {k: v.replace("{TASK}", task) if isinstance(v, str) else v for k, v in fields.items()}


def plan_from_file(path: str | Path, task: str | None = None, data: str | None = None,
                   model: str | None = None) -> Plan:
    """The plan of one experiment file; `task`/`data`/`model` None keep the file's defaults."""
    path = Path(path)
    raw = read_preset(path)
    task = task or raw["task"]
    default_data = raw["data"]
    if "{GLUE_DIR}" in default_data and data is None:
        default_data = default_data.replace("{GLUE_DIR}", _glue_dir(raw, task, path))
    elif raw.get("glue_dirs"):
        _glue_dir(raw, task, path)  # an unknown task fails the same way with --data given
    tasks = raw.get("tasks") or {}
    sweeps = raw.get("sweeps") or {}
    return Plan(
        experiment=raw["experiment"], title=raw["title"].replace("{TASK}", task.upper()), task=task,
        data=data or default_data, model=model or raw["model"], baseline=raw["baseline"], floor=raw.get("floor"),
        controls=list(raw.get("controls") or []),
        variants=[Variant(name, _for_task(fields, task), Sweep(**sweeps[name]) if name in sweeps else Sweep())
                  for name, fields in raw["variants"].items()],
        common={**raw["common"], **tasks.get(task, tasks.get("default", {}))},
        notes=list(raw.get("notes") or []),
    )


def build_plan(experiment: str, task: str | None = None, data: str | None = None, model: str | None = None,
               config: str | Path | None = None) -> Plan:
    """The plan of `config` (a file), else of `<checkout>/configs/experiments/<experiment>.yaml`."""
    if config is not None:
        return plan_from_file(config, task, data, model)
    directory = default_config_dir()
    path = directory / f"{experiment}.yaml"
    if not path.is_file():
        raise UserInputError(f"--experiment: unknown preset {experiment!r}; choose one of "
                             f"{', '.join(available(directory))} (files in {directory}) or pass --config FILE")
    return plan_from_file(path, task, data, model)
