"""The paper's experiments as presets of `hyperadalora compare`: which variants, which settings.

A preset is a plain function returning a `Plan`; `compare` runs it. Every variant trains the same task with the
same seeds, batches and head; only the fields in `Variant.overrides` differ. The default settings were chosen
so that the AdaLoRA baseline's smoothed training loss falls clearly (>= 25 %) within the run on this project's
2-core CPU with MiniLM (see docs/results.md); `--model`, `--data`, `--steps`, `--batch-size` scale them up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hyperadalora.errors import UserInputError

# GLUE task name -> folder under ../shared/data/glue (the GLUE distribution's names)
GLUE_DIRS = {"rte": "RTE", "wnli": "WNLI", "mnli": "MNLI", "sst2": "SST-2", "cola": "CoLA", "mrpc": "MRPC",
             "qnli": "QNLI", "qqp": "QQP"}
DEFAULT_GLUE_ROOT = "../shared/data/glue"
DEFAULT_NLG_DATA = "../shared/data/instruct/alpaca/alpaca_data_1k.json"
DEFAULT_NLG_MODEL = "stories260k"  # the harness's alias for ../shared/models/stories260k
METHODS = ("adalora", "hyperadalora", "lora", "head")

# Learning rates of the adapters per method for the MiniLM presets (the head always trains at head_lr). AdaLoRA:
# `--lr-sweep` on SST-2, 80 steps, final smoothed loss 3e-3: 0.605, 1e-2: 0.473, 3e-2: 0.694 (diverged); at
# LoRA's 1e-3 its SVD adapters barely move (docs/design prototype). HyperAdaLoRA's `lr` is η, the rate of the Adam
# step its hypernetworks start from (the hypernetworks train at meta_lr): AdaLoRA's rate, so that both start from
# the same step. LoRA: 1e-3, where it learns SST-2 fast in the prototype. Re-pick them with --lr-sweep.
NLU_LR = {"adalora": 1e-2, "hyperadalora": 1e-2, "lora": 1e-3, "head": 1e-3}
NLG_LR = {"adalora": 1e-2, "hyperadalora": 1e-2, "lora": 1e-3}

# Per task: steps, batch size, max length (dynamic padding up to it). Sized for the project's 2-core CPU (about
# 1 s/step on SST-2, 2 s/step on RTE with one thread per run, two runs at a time): each preset finishes in
# well under an hour with one seed. RTE and WNLI get 300 steps (about 2 and 7.5 epochs): AdaLoRA at 1e-2 is
# still flat there (docs/results.md), and more steps do not fit this machine. On a GPU raise them with --steps.
NLU_TASK_SETTINGS: dict[str, dict[str, int]] = {
    "rte": {"max_steps": 300, "batch_size": 16, "max_length": 128},
    "wnli": {"max_steps": 300, "batch_size": 16, "max_length": 128},
    # MNLI dev_matched has 9,815 pairs: evaluate on the first 2,000 to keep the end-of-run eval short
    "mnli": {"max_steps": 150, "batch_size": 16, "max_length": 128, "max_eval_samples": 2000},
    # SST-2 has 67k training sentences: a 200-step run sees 3,200, so tokenise only the first 8,000
    "sst2": {"max_steps": 200, "batch_size": 16, "max_length": 64, "max_train_samples": 8000},
}
DEFAULT_NLU_SETTINGS = {"max_steps": 300, "batch_size": 16, "max_length": 128}

# The paper's §4.1: r = 3, γ = 0.1, Adam (the harness's AdamW with weight decay 0 is Adam), lr 1e-5, batch 64.
PAPER_SETTINGS: dict[str, Any] = {"init_r": 3, "target_r": 2, "orth_reg_weight": 0.1, "weight_decay": 0.0,
                                  "lr": 1e-5, "head_lr": 1e-5, "batch_size": 64}

# Shared by every run of the MiniLM presets: the head learns at one fixed rate in every method (so a method's
# adapter rate does not also change its head), constant rate after a short warm-up (a decaying schedule would
# flatten every curve at the end by construction), no progress bar (runs go to log files), log every step (the
# log's wall clock is stamped at each flush, so this gives per-step time resolution; a host sync per step
# costs nothing on CPU; raise it with --set log_every=10 on a GPU).
COMMON = {"head_lr": 1e-3, "lr_scheduler": "constant", "warmup_steps": 10, "progress": False, "log_every": 1}


@dataclass
class Variant:
    """One arm of a comparison: a label and the TrainConfig fields that differ from the plan's common ones."""

    name: str
    overrides: dict[str, Any]


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
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    common: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields shared by all runs (steps, batch…)
    notes: list[str] = field(default_factory=list)

    def train_fields(self, variant: Variant, seed: int, out: str) -> dict[str, Any]:
        """The TrainConfig fields of one run."""
        return {"task": self.task, "data": self.data, "model": self.model, **self.common,
                **variant.overrides, "seed": seed, "out": out}

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "title": self.title, "task": self.task, "data": self.data,
                "model": self.model, "baseline": self.baseline, "floor": self.floor, "seeds": self.seeds,
                "common": self.common, "variants": {v.name: v.overrides for v in self.variants},
                "max_steps": self.common.get("max_steps"), "batch_size": self.common.get("batch_size"),
                "max_length": self.common.get("max_length")}


def _glue_data(task: str, data: str | None) -> str:
    if data:
        return data
    if task not in GLUE_DIRS:
        raise UserInputError(f"--task: unknown GLUE task {task!r}; choose one of {', '.join(GLUE_DIRS)}")
    return f"{DEFAULT_GLUE_ROOT}/{GLUE_DIRS[task]}"


def _nlu_common(task: str) -> dict[str, Any]:
    return {**COMMON, **NLU_TASK_SETTINGS.get(task, DEFAULT_NLU_SETTINGS)}


def nlu_convergence(task: str = "rte", data: str | None = None, model: str = "minilm") -> Plan:
    """Figure 2: AdaLoRA vs HyperAdaLoRA training-loss convergence, LoRA as the reference, head-only as the floor."""
    return Plan(
        experiment="nlu-convergence", title=f"convergence on {task.upper()} (paper Figure 2)", task=task,
        data=_glue_data(task, data), model=model, baseline="adalora", floor="head",
        variants=[Variant(m, {"method": m, "lr": NLU_LR[m]}) for m in ("adalora", "hyperadalora", "lora", "head")],
        common=_nlu_common(task),
    )


def gamma(task: str = "rte", data: str | None = None, model: str = "minilm") -> Plan:
    """Table 2: HyperAdaLoRA with orthogonality weight γ ∈ {0.1, 0.15, 0.2}; γ = 0.1 (the paper's) is the baseline."""
    return Plan(
        experiment="gamma", title=f"γ sensitivity on {task.upper()} (paper Table 2)", task=task,
        data=_glue_data(task, data), model=model, baseline="gamma0.1",
        variants=[Variant(f"gamma{g}", {"method": "hyperadalora", "lr": NLU_LR["hyperadalora"], "orth_reg_weight": g})
                  for g in (0.1, 0.15, 0.2)],
        common=_nlu_common(task),
    )


def ablation(task: str = "rte", data: str | None = None, model: str = "minilm") -> Plan:
    """Figure 3: HyperAdaLoRA with attention / CNN / MLP hypernetworks; attention (the paper's) is the baseline."""
    return Plan(
        experiment="ablation", title=f"hypernetwork ablation on {task.upper()} (paper Figure 3)", task=task,
        data=_glue_data(task, data), model=model, baseline="attention",
        variants=[Variant(k, {"method": "hyperadalora", "lr": NLU_LR["hyperadalora"], "hypernet": k})
                  for k in ("attention", "cnn", "mlp")],
        common=_nlu_common(task),
    )


def nlg(task: str = "instruct", data: str | None = None, model: str | None = None) -> Plan:
    """Tables 1 and 3: instruction tuning a causal LM, held-out BLEU-4 / ROUGE-1 and time to AdaLoRA's final loss."""
    return Plan(
        experiment="nlg", title="instruction tuning (paper Tables 1 and 3)", task=task,
        data=data or DEFAULT_NLG_DATA, model=model or DEFAULT_NLG_MODEL, baseline="adalora",
        variants=[Variant(m, {"method": m, "lr": NLG_LR[m]}) for m in ("adalora", "hyperadalora", "lora")],
        common={**COMMON, "max_steps": 200, "batch_size": 16, "max_length": 256},
    )


PRESETS: dict[str, Callable[..., Plan]] = {
    "nlu-convergence": nlu_convergence,
    "gamma": gamma,
    "ablation": ablation,
    "nlg": nlg,
}


def build_plan(experiment: str, task: str | None = None, data: str | None = None, model: str | None = None) -> Plan:
    """The preset's plan; `task`/`data`/`model` None keep the preset's defaults."""
    if experiment not in PRESETS:
        raise UserInputError(f"--experiment: unknown preset {experiment!r}; choose one of {', '.join(PRESETS)}")
    kwargs = {k: v for k, v in {"task": task, "data": data, "model": model}.items() if v is not None}
    return PRESETS[experiment](**kwargs)
