"""Configuration of a HyperAdaLoRA model: a validated dataclass whose fields carry their help text."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HYPERNET_KINDS = ("attention", "mlp", "cnn")
GENERATIONS = ("increment", "literal")
IMPORTANCES = ("magnitude", "sensitivity")
INIT_LAMBDAS = ("zero", "normal")

CONFIG_NAME = "hyperadalora_config.json"


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

    hypernet: str = field(default="attention", metadata={"help": "Hypernetwork kind: 'attention' (a BERT layer), 'mlp' or 'cnn'."})
    hypernet_hidden: int = field(default=32, metadata={"help": "Hidden width h of each hypernetwork."})
    hypernet_heads: int = field(
        default=2, metadata={"help": "Attention heads (attention kind only); divides hypernet_hidden. Fewer, wider heads "
                                     "cost the same FLOPs but run 2-3× faster in SDPA on CPU (docs/method.md)."})
    hypernet_layers: int = field(default=1, metadata={"help": "Number of BERT / MLP / CNN blocks per hypernetwork."})
    hypernet_ffn: int = field(default=128, metadata={"help": "Feed-forward width inside each block."})
    attention_block: int | None = field(
        default=None,
        metadata={"help": "None: every token attends to all tokens of its matrix (paper eq. 8). An integer b: "
                          "tokens attend within consecutive blocks of b rows/columns (used when b divides the "
                          "matrix dimension), O(d·b) instead of O(d²): a cheaper option, not the paper's."},
    )
    module_heads: bool = field(
        default=False,
        metadata={"help": "Give H_P and H_Q one output projection per adapted matrix (h × r weights each) on top of "
                          "the shared body, instead of one shared projection. Not in the paper: an option measured "
                          "in docs/method.md ('Where the learning stalls')."},
    )
    hypernet_dropout: float = field(default=0.0, metadata={"help": "Dropout inside the hypernetworks."})
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
    residual_scale: float | None = field(
        default=None,
        metadata={"help": "τ: the output gain of H_P and H_Q, R = τ·H(S/σ). None: τ = σ = init_std, so the "
                          "hypernetwork's output is in the units of its input. A larger τ lets one optimizer step "
                          "of the hypernetwork move P and Q further (docs/method.md, 'Where the learning stalls')."},
    )
    generation: str = field(
        default="increment",
        metadata={"help": "'increment': the state moves by the change of the hypernetwork's output caused by its "
                          "optimizer step, S ← S + σ(R(S; Φ_new) − R(S; Φ_old)) (no drift at a flat loss); "
                          "'literal': the paper's recurrence S ← H(S) (docs/method.md)."},
    )
    commit_every: int = field(
        default=1,
        metadata={"help": "K (generation='increment'): 1 commits S ← S + R(S; Φ_new) − R(S; Φ_old) after every step, "
                          "as the paper's recurrence feeds every step's state back in. K > 1 keeps an anchor A for K "
                          "steps: the adapters see A + R(A; Φ) − R(A; Φ_A), and the extra no-grad hypernetwork "
                          "forward of the commit runs once per K steps (an option that saves step time; "
                          "docs/method.md)."},
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
    total_step: int | None = field(default=None, metadata={"help": "Total optimizer steps; required for pruning."})
    beta1: float = field(default=0.85, metadata={"help": "EMA coefficient of sensitivity (importance='sensitivity')."})
    beta2: float = field(default=0.85, metadata={"help": "EMA coefficient of uncertainty (importance='sensitivity')."})

    modules_to_save: list[str] | None = field(
        default=None, metadata={"help": "Modules trained in full and saved with the adapter, e.g. ['classifier']."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the adapter state and hypernetwork initialisation."})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise a one-line ValueError naming the field and the fix for any impossible setting."""

        def bad(name: str, msg: str) -> None:
            raise ValueError(f"HyperAdaLoraConfig.{name}: {msg}")

        for name in ("init_r", "target_r", "hypernet_hidden", "hypernet_heads", "hypernet_layers",
                     "hypernet_ffn", "deltaT", "commit_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                bad(name, f"must be a positive integer, got {value!r}")
        if self.target_r >= self.init_r:
            bad("target_r", f"must be smaller than init_r ({self.target_r} >= {self.init_r}); lower target_r or raise init_r")
        if self.hypernet not in HYPERNET_KINDS:
            bad("hypernet", f"unknown kind {self.hypernet!r}; choose one of {', '.join(HYPERNET_KINDS)}")
        if self.generation not in GENERATIONS:
            bad("generation", f"unknown value {self.generation!r}; choose one of {', '.join(GENERATIONS)}")
        if self.commit_every > 1 and self.generation != "increment":
            bad("commit_every", f"> 1 needs generation='increment' (got {self.generation!r}); set commit_every=1")
        if self.importance not in IMPORTANCES:
            bad("importance", f"unknown value {self.importance!r}; choose one of {', '.join(IMPORTANCES)}")
        if self.init_lambda not in INIT_LAMBDAS:
            bad("init_lambda", f"unknown value {self.init_lambda!r}; choose one of {', '.join(INIT_LAMBDAS)}")
        if self.attention_block is not None and (not isinstance(self.attention_block, int) or self.attention_block < 1):
            bad("attention_block", f"must be None or a positive integer, got {self.attention_block!r}")
        if self.hypernet_hidden % self.hypernet_heads:
            bad("hypernet_heads", f"must divide hypernet_hidden ({self.hypernet_hidden} % {self.hypernet_heads} != 0)")
        if not (isinstance(self.orth_reg_weight, int | float) and self.orth_reg_weight >= 0):
            bad("orth_reg_weight", f"must be >= 0, got {self.orth_reg_weight!r}")
        if not 0 <= self.lora_dropout < 1:
            bad("lora_dropout", f"must be in [0, 1), got {self.lora_dropout!r}")
        if not 0 <= self.hypernet_dropout < 1:
            bad("hypernet_dropout", f"must be in [0, 1), got {self.hypernet_dropout!r}")
        if self.residual_scale is not None and not (isinstance(self.residual_scale, int | float)
                                                    and self.residual_scale > 0):
            bad("residual_scale", f"must be None or > 0, got {self.residual_scale!r}")
        for name in ("init_std", "lambda_scale"):
            if not getattr(self, name) > 0:
                bad(name, f"must be > 0, got {getattr(self, name)!r}")
        for name in ("beta1", "beta2"):
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
        """Build a config from a dict, refusing unknown keys with a suggestion."""
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                import difflib

                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"HyperAdaLoraConfig: unknown field {key!r}{hint}")
        return cls(**data)

    def save(self, directory: str | Path) -> None:
        Path(directory, CONFIG_NAME).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> HyperAdaLoraConfig:
        path = Path(directory, CONFIG_NAME)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"{path}: no HyperAdaLoRA config here; is this a directory written by save_pretrained?") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
        return cls.from_dict(data)

    @classmethod
    def paper_literal(cls, **overrides: Any) -> HyperAdaLoraConfig:
        """The paper's reading taken literally: S ← H(S) every step, raw tokens, no position codes, r = 3."""
        base = dict(init_r=3, target_r=2, generation="literal", normalize_tokens=False,
                    position_encoding=False, hypernet_hidden=32, hypernet_ffn=128)
        base.update(overrides)
        return cls(**base)
