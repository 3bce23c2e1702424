"""Configuration of a HyperAdaLoRA model: a validated dataclass whose fields carry their help text."""

from __future__ import annotations

import dataclasses
import difflib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HYPERNET_KINDS = ("attention", "mlp", "cnn")
GENERATIONS = ("gradient", "per_matrix", "increment", "literal")  # generation.RULES, by name
IMPORTANCES = ("magnitude", "sensitivity")
INIT_LAMBDAS = ("zero", "normal")
INIT_PQS = ("normal", "orthogonal", "gradient")  # start.py
ATTENTION_BLOCKS = ("auto", "full")  # the named values of attention_block, beside None (= "full") and integers

CONFIG_NAME = "hyperadalora_config.json"
VERSION_KEY = "hyperadalora_version"
# Options of 0.1.0 removed once measured (docs/method.md), with the default a saved config may carry.
REMOVED_FIELDS: dict[str, Any] = {"residual_scale": None, "module_heads": False, "commit_every": 1}


@dataclass
class HyperAdaLoraConfig:
    """Everything that defines a HyperAdaLoRA model; `validate()` runs on construction.

    The adapter of a targeted weight W (d_out × d_in) is ΔW = P·diag(Λ ⊙ mask)·Q · (lora_alpha / init_r)
    with P (d_out × r), Λ (r), Q (r × d_in) *generated* by three shared hypernetworks H_P, H_Λ, H_Q.
    """

    target_modules: list[str] | str | None = field(
        default=None,
        metadata={"help": "Names (suffix match, as in peft) or one regex (full match) of the nn.Linear / "
                          "Conv1D modules to adapt. None: the default for the model's architecture."},
    )
    init_r: int = field(default=12, metadata={"help": "Initial rank of every adapter (the paper uses 3)."})
    target_r: int = field(default=8, metadata={"help": "Average rank per adapter after pruning; < init_r."})
    lora_alpha: float = field(default=8.0, metadata={"help": "ΔW is scaled by lora_alpha / init_r, as in peft's AdaLoRA."})
    lora_dropout: float = field(default=0.0, metadata={"help": "Dropout on the adapter's input."})
    init_lambda: str = field(
        default="zero",
        metadata={"help": "'zero': Λ = 0 as in AdaLoRA, so the model starts as the base model; "
                          "'normal': Λ ~ N(0, init_std²) as the paper's §3.2 says."},
    )
    init_std: float = field(default=0.02, metadata={"help": "Std of the normal initialisation of P and Q (and Λ if 'normal')."})
    init_pq: str = field(
        default="orthogonal",
        metadata={"help": "Start of P and Q (Λ = 0 keeps the base model's output in every case): 'orthogonal' "
                          "(default), random orthonormal columns of P and rows of Q (eq. 7's regulariser starts at "
                          "zero); 'normal', N(0, init_std²) as AdaLoRA and the paper; 'gradient', the top-r singular vectors "
                          "of each weight's mean gradient over a few batches (LoRA-GA's idea in SVD form; needs "
                          "train_step: get_hyperadalora_model(model, config, train_step)). docs/method.md."},
    )

    hypernet_init: str = field(
        default="zero",
        metadata={"help": "Start of the hypernetworks (generation='gradient'): 'zero', the output projection at zero "
                          "so the first steps are exactly Adam's; the name of a warm start shipped with the package; "
                          "or a path to a .safetensors warm start written by hyperadalora.warm_start.save_warm_start "
                          "(checked and checksummed on load, never unpickled)."},
    )
    hypernet: str = field(default="attention", metadata={"help": "Hypernetwork kind: 'attention' (a BERT layer), 'mlp' or 'cnn'."})
    hypernet_hidden: int = field(default=32, metadata={"help": "Hidden width h of each hypernetwork."})
    hypernet_heads: int = field(
        default=2, metadata={"help": "Attention heads (attention kind only); divides hypernet_hidden. Fewer, wider heads "
                                     "cost the same FLOPs but run 2-3× faster in SDPA on CPU (docs/method.md)."})
    hypernet_layers: int = field(default=1, metadata={"help": "Number of BERT / MLP / CNN blocks per hypernetwork."})
    hypernet_ffn: int = field(default=128, metadata={"help": "Feed-forward width inside each block."})
    attention_block: int | str | None = field(
        default="auto",
        metadata={"help": "Which rows (H_P) / columns (H_Q) of its matrix a token attends to. 'auto' (default): all "
                          "of them (paper eq. 8) where the matrix has at most 256, else blocks of about 128 "
                          "consecutive ones (a divisor of the dimension), O(d·b) instead of O(d²): MiniLM's 384- and "
                          "1,536-row matrices and the 3,584-18,944-row matrices of 7-8B models. 'full' or None: "
                          "all of them at every size. An integer b: blocks of b wherever b divides the dimension "
                          "(docs/method.md, Cost)."},
    )
    hypernet_dropout: float = field(default=0.0, metadata={"help": "Dropout inside the hypernetworks."})
    hypernet_checkpointing: bool | str = field(
        default="auto",
        metadata={"help": "Recompute the hypernetworks' activations in the backward, in chunks of at most 2,048 "
                          "tokens: their memory drops from every row's activations to one chunk's, for one more "
                          "hypernetwork forward per step. 'auto' (default): where the activations they would keep "
                          "(≈ 2.3 KB per row or column of every adapted matrix) exceed a quarter of the frozen "
                          "weights' bytes, which is every model measured here (MiniLM, stories260k, 7-8B); "
                          "True / False force it (docs/method.md, Cost)."},
    )
    hypernet_compile: bool = field(
        default=False,
        metadata={"help": "torch.compile the hypernetworks (in place: the saved keys do not change). On this CPU "
                          "0.83-0.92x their eager forward + backward once compiled, after about a minute of compiling: "
                          "for long runs. Without checkpointing ('auto' turns it off; True is refused): "
                          "torch.utils.checkpoint's recompute does not match a compiled forward (docs/method.md, Cost)."},
    )
    position_encoding: bool = field(
        default=True,
        metadata={"help": "Add sinusoidal position codes to the hypernetworks' tokens (row / column index for "
                          "P / Q, module-and-rank index for Λ): breaks the symmetry of Λ = 0 (docs/method.md)."},
    )
    normalize_tokens: bool = field(
        default=True,
        metadata={"help": "Feed the hypernetworks P/σ, Λ/σ, Q/σ and scale their residual by σ = init_std, so the "
                          "hypernetwork works in units of order 1 (docs/method.md)."},
    )
    lambda_scale: float = field(
        default=1.0,
        metadata={"help": "σ_Λ: the hypernetwork H_Λ reads Λ/σ_Λ and its residual is scaled by σ_Λ (with "
                          "normalize_tokens). Singular values live on a scale of order 1, P and Q entries on init_std."},
    )
    generation: str = field(
        default="gradient",
        metadata={"help": "How the hypernetworks generate the next state S = (P, Λ, Q). 'gradient' (default): they "
                          "read the state with its gradient and Adam moments and generate S + U, starting exactly at "
                          "Adam's step; 'per_matrix': the same step with one learned (gain, turn) per adapted matrix "
                          "in place of the hypernetworks (an ablation); 'increment': they read the state only, and it moves by the change of their "
                          "output, S ← S + R(S; Φ_new) − R(S; Φ_old); 'literal': the paper's recurrence S ← H(S) "
                          "(docs/method.md)."},
    )
    state_lr: float = field(
        default=1e-2,
        metadata={"help": "η (the gradient rules: generation='gradient', 'per_matrix'): the rate of the Adam step on P, Λ, Q that the hypernetworks start "
                          "from and rescale: AdaLoRA's learning rate (default 1e-2: one rate for every task, docs/method.md). The "
                          "hypernetworks' own weights train at the "
                          "optimizer's rate. A schedule applies by itself: update_and_allocate(step) reads lr / initial_lr "
                          "from the optimizer that trains the hypernetworks (or pass lr_scale)."},
    )
    state_beta1: float = field(default=0.9, metadata={"help": "Adam β1 of the state's first moment (the gradient rules: generation='gradient', 'per_matrix')."})
    state_beta2: float = field(default=0.999, metadata={"help": "Adam β2 of the state's second moment (the gradient rules: generation='gradient', 'per_matrix')."})
    state_eps: float = field(default=1e-8, metadata={"help": "Adam ε of the state's step (the gradient rules: generation='gradient', 'per_matrix')."})
    state_weight_decay: float = field(
        default=0.0, metadata={"help": "Decoupled weight decay of the state, as AdamW's (the gradient rules: generation='gradient', 'per_matrix')."})
    max_gain: float = field(
        default=1000.0,
        metadata={"help": "G (the gradient rules: generation='gradient', 'per_matrix'): bound of the learned per-entry gain on the Adam step (in "
                          "[1/G, G]) and of the coefficient of the normalised-gradient term (in [−G, G]). 1000 since "
                          "0.4 (0.3: 10, which capped the step at 10η, so a rate 100× too low never left the floor); "
                          "at a good rate the bound does not bind (docs/method.md)."},
    )
    progress_features: bool = field(
        default=False,
        metadata={"help": "generation='gradient': the hypernetworks also read where the run is, three features "
                          "shared by every entry: progress t/T, the step count log(1+t)/log(1+T) and the loss trend "
                          "log(L̄_fast/L̄_slow) (EMAs 0.9 / 0.99 of the step's task loss: update_and_allocate's `loss`, "
                          "else the training forwards' `loss`). Needs total_step (T). Off by default: in issue #17's "
                          "screens it changed nothing (docs/method.md)."},
    )
    hypergradient_horizon: int = field(
        default=1,
        metadata={"help": "H (the gradient rules): steps of the state's path that the hypergradient credits. 1 "
                          "(default): the one-step hypergradient g_{t+1}·∂U_t/∂Φ; H > 1 adds g_{t+1}·∂U_{t−k}/∂Φ "
                          "for k < H, the past steps re-generated by the current Φ from their saved features, with "
                          "∂S_{t+1}/∂S_t taken as I (docs/method.md). The hypernetworks read H× the tokens. 1 by default: "
                          "H = 4 ended worse in issue #17's screens, at 1.2-1.6× the step time."},
    )
    orth_reg_weight: float = field(default=0.1, metadata={"help": "γ in L = L_task + γ(‖PᵀP−I‖²_F + ‖QQᵀ−I‖²_F) (paper eq. 7)."})

    importance: str = field(
        default="magnitude",
        metadata={"help": "Pruning score: 'magnitude' |λ| (the paper) or 'sensitivity' (AdaLoRA's EMA of "
                          "sensitivity × uncertainty, on the generated triplet)."},
    )
    tinit: int = field(default=0, metadata={"help": "Steps of warm-up before pruning starts."})
    tfinal: int = field(default=0, metadata={"help": "Final steps with the rank pattern frozen."})
    deltaT: int = field(default=1, metadata={"help": "Steps between two budget allocations."})
    total_step: int | None = field(
        default=None,
        metadata={"help": "Total optimizer steps T of the rank schedule. None: no pruning, every adapter keeps "
                          "init_r (peft's AdaLoRA refuses None; here it is the fixed-rank method)."},
    )
    beta1: float = field(default=0.85, metadata={"help": "EMA coefficient of sensitivity (importance='sensitivity')."})
    beta2: float = field(default=0.85, metadata={"help": "EMA coefficient of uncertainty (importance='sensitivity')."})

    modules_to_save: list[str] | None = field(
        default=None, metadata={"help": "Modules trained in full and saved with the adapter, e.g. ['classifier']."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the adapter state and hypernetwork initialisation."})

    def __post_init__(self) -> None:
        self.validate()
        self.max_gain = float(self.max_gain)  # one spelling in saved configs and warm starts (a fit field): 1000.0
        if self.attention_block == "full":
            self.attention_block = None  # one spelling of full attention in a saved config: null, as every version wrote it

    def validate(self) -> None:
        """Raise a one-line ValueError naming the field and the fix for any impossible setting."""

        def bad(name: str, msg: str) -> None:
            raise ValueError(f"HyperAdaLoraConfig.{name}: {msg}")

        for name in ("init_r", "target_r", "hypernet_hidden", "hypernet_heads", "hypernet_layers",
                     "hypernet_ffn", "deltaT", "hypergradient_horizon"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                bad(name, f"must be a positive integer, got {value!r}")
        if self.target_r >= self.init_r:
            bad("target_r", f"must be smaller than init_r ({self.target_r} >= {self.init_r}); lower target_r or raise init_r")
        if self.hypernet not in HYPERNET_KINDS:
            bad("hypernet", f"unknown kind {self.hypernet!r}; choose one of {', '.join(HYPERNET_KINDS)}")
        if self.generation not in GENERATIONS:
            bad("generation", f"unknown value {self.generation!r}; choose one of {', '.join(GENERATIONS)}")
        if self.importance not in IMPORTANCES:
            bad("importance", f"unknown value {self.importance!r}; choose one of {', '.join(IMPORTANCES)}")
        if self.init_lambda not in INIT_LAMBDAS:
            bad("init_lambda", f"unknown value {self.init_lambda!r}; choose one of {', '.join(INIT_LAMBDAS)}")
        if not isinstance(self.hypernet_init, str) or not self.hypernet_init:
            bad("hypernet_init", f"must be 'zero', a shipped warm start's name or a file path, got {self.hypernet_init!r}")
        if self.hypernet_init != "zero" and self.generation != "gradient":
            bad("hypernet_init", f"a warm start is a gradient-rule Φ, not {self.generation!r}'s; use "
                                 "hypernet_init='zero' or generation='gradient'")
        if self.init_pq not in INIT_PQS:
            bad("init_pq", f"unknown value {self.init_pq!r}; choose one of {', '.join(INIT_PQS)}")
        if self.hypernet_checkpointing not in (True, False, "auto"):
            bad("hypernet_checkpointing", f"must be true, false or 'auto', got {self.hypernet_checkpointing!r}")
        if self.hypernet_compile and self.hypernet_checkpointing is True:
            bad("hypernet_compile", "cannot be combined with hypernet_checkpointing=True (the checkpoint's recompute "
                                    "does not match a compiled forward); drop one of them")
        block = self.attention_block
        if not (block is None or block in ATTENTION_BLOCKS
                or (isinstance(block, int) and not isinstance(block, bool) and block >= 1)):
            bad("attention_block", f"must be 'auto', 'full', None or a positive integer, got {block!r}")
        if self.hypernet_hidden % self.hypernet_heads:
            bad("hypernet_heads", f"must divide hypernet_hidden ({self.hypernet_hidden} % {self.hypernet_heads} != 0)")
        if not (isinstance(self.orth_reg_weight, int | float) and self.orth_reg_weight >= 0):
            bad("orth_reg_weight", f"must be >= 0, got {self.orth_reg_weight!r}")
        if not 0 <= self.lora_dropout < 1:
            bad("lora_dropout", f"must be in [0, 1), got {self.lora_dropout!r}")
        if not 0 <= self.hypernet_dropout < 1:
            bad("hypernet_dropout", f"must be in [0, 1), got {self.hypernet_dropout!r}")
        for name in ("init_std", "lambda_scale", "state_lr", "state_eps"):
            if not getattr(self, name) > 0:
                bad(name, f"must be > 0, got {getattr(self, name)!r}")
        if not self.max_gain > 1:
            bad("max_gain", f"must be > 1, got {self.max_gain!r}")
        if self.progress_features and self.generation != "gradient":
            bad("progress_features", f"is read by the hypernetworks of generation='gradient', not {self.generation!r}'s; "
                                     "drop it or use generation='gradient'")
        if self.progress_features and self.total_step is None:
            bad("progress_features", "needs total_step (the run's length T, for t/T); set total_step or drop it")
        if self.hypergradient_horizon > 1 and self.generation not in ("gradient", "per_matrix"):
            bad("hypergradient_horizon", f"is a gradient rule's (generation='gradient' or 'per_matrix'), not "
                                         f"{self.generation!r}'s; use 1")
        if not self.state_weight_decay >= 0:
            bad("state_weight_decay", f"must be >= 0, got {self.state_weight_decay!r}")
        for name in ("beta1", "beta2", "state_beta1", "state_beta2"):
            if not 0 <= getattr(self, name) < 1:
                bad(name, f"must be in [0, 1), got {getattr(self, name)!r}")
        for name in ("tinit", "tfinal"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                bad(name, f"must be a non-negative integer, got {getattr(self, name)!r}")
        if self.total_step is not None:
            if not isinstance(self.total_step, int) or self.total_step < 1:
                bad("total_step", f"must be a positive integer, got {self.total_step!r}")
            if self.tinit + self.tfinal >= self.total_step:
                bad("tinit", f"tinit + tfinal ({self.tinit} + {self.tfinal}) must be < total_step ({self.total_step}); "
                             "lower tinit/tfinal or raise total_step")
        if isinstance(self.target_modules, list) and not self.target_modules:
            bad("target_modules", "is an empty list; name at least one module or pass None for the default")

    # --- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HyperAdaLoraConfig:
        """Build a config from user input (a dict), refusing unknown keys with a suggestion."""
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"HyperAdaLoraConfig: unknown field {key!r}{hint}")
        return cls(**data)

    def to_json(self) -> str:
        """The saved form: every field, plus the version of hyperadalora that wrote it (as peft's peft_version)."""
        from . import __version__

        return json.dumps({**self.to_dict(), VERSION_KEY: __version__}, indent=2) + "\n"

    def save(self, directory: str | Path) -> None:
        Path(directory, CONFIG_NAME).write_text(self.to_json())

    @classmethod
    def load(cls, directory: str | Path) -> HyperAdaLoraConfig:
        """Read a saved config. Unlike `from_dict` it is tolerant of the version that wrote it: keys it does not
        know (written by a newer version) are ignored with a warning naming them, and options removed since
        0.1.0 are accepted at their old default (refused otherwise, naming the option)."""
        path = Path(directory, CONFIG_NAME)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"{path}: no HyperAdaLoRA config here; is this a directory written by save_pretrained?") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object of config fields, got {type(data).__name__}")
        written_by = data.pop(VERSION_KEY, "0.1.0")
        for key, old_default in REMOVED_FIELDS.items():
            if key in data and (value := data.pop(key)) != old_default:
                raise ValueError(f"{path}: saved with {key}={value!r}, an option removed "
                                 f"in hyperadalora 0.2.0 (docs/method.md); load it with hyperadalora {written_by}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            warnings.warn(f"{path}: written by hyperadalora {written_by}; ignoring fields this version does not know: "
                          f"{', '.join(unknown)}", stacklevel=2)
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def paper_literal(cls, **overrides: Any) -> HyperAdaLoraConfig:
        """The paper's reading taken literally: S ← H(S) every step, raw tokens, no position codes, r = 3."""
        base = dict(init_r=3, target_r=2, generation="literal", normalize_tokens=False,
                    position_encoding=False, hypernet_hidden=32, hypernet_ffn=128)
        base.update(overrides)
        return cls(**base)
