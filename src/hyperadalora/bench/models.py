"""Model presets of the step benchmark, and its methods built on them (one shared base model) as training builds them.

A preset builds a transformers model: `minilm` loads the real checkpoint; `tiny` and `tiny-llama` are
2-layer models for tests; `llama-3.1-8b` and `qwen2.5-7b` are built from hand-written copies of the real
models' config.json with random weights (step time does not depend on the weights' values, so there is
nothing to download). Every method gets its own module tree, but the frozen base weights are ONE set of
tensors shared by all (built once, the other copies are built on the meta device and point at them): on a
GPU three copies of an 8B model would not leave room for activations. A method is a `--methods` spec turned into
the TrainConfig a run would have and built by train/methods.py, optimizer included, so that a benchmarked step
costs what a training step costs.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..errors import UserInputError
from ..train.config import HYPER_ONLY_FIELDS, INSTRUCT_TASK, METHODS, TrainConfig

if TYPE_CHECKING:
    from ..train.methods import Method

# config.json of meta-llama/Llama-3.1-8B (the fields that shape the computation).
LLAMA_3_1_8B: dict[str, Any] = dict(
    vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
    num_key_value_heads=8, head_dim=128, hidden_act="silu", max_position_embeddings=131072, rms_norm_eps=1e-5,
    rope_theta=500000.0, attention_bias=False, mlp_bias=False, tie_word_embeddings=False,
    rope_scaling={"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    bos_token_id=128000, eos_token_id=128001,
)
# config.json of Qwen/Qwen2.5-7B.
QWEN2_5_7B: dict[str, Any] = dict(
    vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
    num_key_value_heads=4, hidden_act="silu", max_position_embeddings=131072, rms_norm_eps=1e-6,
    rope_theta=1000000.0, sliding_window=131072, use_sliding_window=False, max_window_layers=28,
    tie_word_embeddings=False, bos_token_id=151643, eos_token_id=151643,
)


@dataclass(frozen=True)
class Preset:
    """A benchmark model: how to build its config / weights and which loss it trains with."""

    name: str
    task: str  # "classification" | "causal"
    dtype: torch.dtype
    description: str
    config: Callable[[str | None], Any]  # model_path -> transformers config
    path: Callable[[str | None], str] | None = None  # model_path -> directory of real weights (None: random weights)


def _minilm_path(model_path: str | None) -> str:
    """--model-path, else the 'minilm' alias as training resolves it (an error naming the missing package)."""
    if model_path:
        return model_path
    from ..train.sources import minilm_path

    return minilm_path()


def _stories_path(model_path: str | None) -> str:
    """--model-path, else the 'stories260k' alias as training resolves it ($HYPERADALORA_MODELS_DIR, ...)."""
    if model_path:
        return model_path
    from ..train.sources import stories260k_path

    return stories260k_path()


def _tiny_bert(_: str | None) -> Any:
    from transformers import BertConfig

    return BertConfig(vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=512, num_labels=2)


def _tiny_llama(_: str | None) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)


def _minilm(model_path: str | None) -> Any:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(_minilm_path(model_path), num_labels=2)


def _stories(model_path: str | None) -> Any:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(_stories_path(model_path))


def _llama(_: str | None) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(**LLAMA_3_1_8B)


def _qwen(_: str | None) -> Any:
    from transformers import Qwen2Config

    return Qwen2Config(**QWEN2_5_7B)


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("tiny", "classification", torch.float32, "2-layer BERT, hidden 32, random weights (tests)", _tiny_bert),
    Preset("tiny-llama", "causal", torch.float32, "2-layer LLaMA, hidden 32, random weights (tests)", _tiny_llama),
    Preset("minilm", "classification", torch.float32, "all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384), real weights",
           _minilm, path=_minilm_path),
    Preset("stories260k", "causal", torch.float32, "stories260k (LLaMA, 5 layers, hidden 64), real weights: the NLG "
           "comparison's model", _stories, path=_stories_path),
    Preset("llama-3.1-8b", "causal", torch.bfloat16, "Llama-3.1-8B architecture, random bf16 weights", _llama),
    Preset("qwen2.5-7b", "causal", torch.bfloat16, "Qwen2.5-7B architecture, random bf16 weights", _qwen),
]}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise UserInputError(f"--preset: unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def _auto_class(preset: Preset) -> Any:
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    return AutoModelForCausalLM if preset.task == "causal" else AutoModelForSequenceClassification


def build_base(preset: Preset, device: torch.device, model_path: str | None = None, seed: int = 0) -> nn.Module:
    """The preset's base model on `device` with its weights materialised (loaded or randomly initialised)."""
    cls = _auto_class(preset)
    if preset.path is not None:
        path = preset.path(model_path)
        extra = {"num_labels": 2} if preset.task == "classification" else {}
        try:
            model = cls.from_pretrained(path, dtype=preset.dtype, **extra)
        except OSError as e:
            raise UserInputError(f"--model-path: cannot load {path!r} ({str(e).splitlines()[0]}); pass a local "
                                 "checkpoint directory") from None
        return model.to(device)
    config = preset.config(model_path)
    torch.manual_seed(seed)
    with torch.device("meta"):  # no host copy of the weights: materialise straight on the target device
        model = cls.from_config(config, dtype=preset.dtype)
    model.to_empty(device=device)
    model.init_weights()  # random weights + the rotary buffers that to_empty left uninitialised
    return model


def share_base(base: nn.Module, preset: Preset, model_path: str | None = None) -> nn.Module:
    """A second module tree of `base`'s architecture whose parameters and buffers are `base`'s tensors.

    Built on the meta device (no allocation). Parameters are new nn.Parameter objects over the same storage,
    so each method sets requires_grad on its own; modules_to_save copies (peft) are separate tensors anyway.
    """
    cls = _auto_class(preset)
    with torch.device("meta"):
        twin = cls.from_config(copy.deepcopy(base.config), dtype=preset.dtype)
    for name, p in base.named_parameters(remove_duplicate=False):
        parent, _, leaf = name.rpartition(".")
        setattr(twin.get_submodule(parent), leaf, nn.Parameter(p.detach(), requires_grad=p.requires_grad))
    for name, b in base.named_buffers(remove_duplicate=False):
        parent, _, leaf = name.rpartition(".")
        twin.get_submodule(parent)._buffers[leaf] = b
    left = [n for n, t in list(twin.named_parameters()) + list(twin.named_buffers()) if t.is_meta]
    if left:
        raise RuntimeError(f"share_base: tensors left on the meta device: {left[:3]}")
    return twin


# Methods the bench runs: every adapter method of training ('head' adapts no layer: no step to compare).
METHOD_KINDS = tuple(m for m in METHODS if m != "head")
# TrainConfig fields a spec cannot set: the method is named before ':', task and out belong to a run, and a start
# (lora_init) changes initial values only, so its step is its method's, but PiSSA / LoRA-GA rewrite the base
# weights, which every method of the bench shares.
NOT_OPTIONS = frozenset({"method", "task", "out", "lora_init"})
LR = 1e-4  # the methods' rate (TrainConfig.lr); a step's cost does not depend on it


@dataclass(frozen=True)
class MethodSpec:
    """A method to benchmark: a training method ('lora', 'loraplus', 'adalora', 'hyperadalora') with TrainConfig
    options, 'method:key=value,...'; `name` is the spec as given (the key of the result JSON)."""

    name: str
    kind: str  # TrainConfig.method
    overrides: dict[str, Any]


def parse_method(spec: str) -> MethodSpec:
    """'hyperadalora:hypernet_hidden=32,hypernet=mlp' -> MethodSpec; values parsed as int/float/bool/str."""
    kind, _, rest = spec.partition(":")
    if kind not in METHOD_KINDS:
        raise UserInputError(f"--methods: unknown method {kind!r} in {spec!r}; choose from {', '.join(METHOD_KINDS)}")
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - NOT_OPTIONS
    overrides: dict[str, Any] = {}
    for item in rest.split(",") if rest else []:
        key, eq, value = item.partition("=")
        if not eq or key not in fields:
            raise UserInputError(f"--methods: {item!r} in {spec!r} is not key=value with a TrainConfig field as key "
                                 f"(e.g. lora:optimizer=prodigy, hyperadalora:generation=per_matrix; not "
                                 f"{', '.join(sorted(NOT_OPTIONS))})")
        if key in HYPER_ONLY_FIELDS and kind != "hyperadalora":
            raise UserInputError(f"--methods: {key} in {spec!r} is an option of hyperadalora only; drop it or "
                                 f"benchmark hyperadalora:{item}")
        overrides[key] = _parse_value(value)
    return MethodSpec(spec, kind, overrides)


def _parse_value(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


@dataclass
class Rank:
    """The adapter settings every method shares."""

    init_r: int = 3
    target_r: int = 2
    lora_alpha: float = 8.0
    deltaT: int = 1
    total_step: int = 10**9  # so that every benchmarked step is in the pruning phase (the costliest)


def train_config(spec: MethodSpec, preset: Preset, rank: Rank, targets: list[str] | None) -> TrainConfig:
    """The TrainConfig a training run of `spec` would have: the shared rank settings, then the spec's options.

    The bench trains no task and writes nothing: `task` (a two-label GLUE task for a classifier, else instruct)
    and `out` only satisfy the run's validation. The rate is constant (no schedule is stepped), which
    schedule-free AdamW requires."""
    try:
        return TrainConfig(
            method=spec.kind, task=INSTRUCT_TASK if preset.task == "causal" else "sst2", out=os.devnull, lr=LR,
            lr_scheduler="constant", init_r=rank.init_r, target_r=rank.target_r, lora_alpha=rank.lora_alpha,
            deltaT=rank.deltaT, target_modules=targets, **spec.overrides)
    except UserInputError as e:
        raise UserInputError(f"--methods {spec.name}: {e}") from None


def build(base: nn.Module, cfg: TrainConfig, preset: Preset, rank: Rank) -> Method:
    """`cfg`'s method on `base` (in place), built as training builds it (train/methods.py `build_method`)."""
    from ..train.methods import build_method

    return build_method(base, cfg, causal=preset.task == "causal", total_steps=rank.total_step)


def adapted_count(method: Method) -> int:
    """Number of adapted layers, to check that every method adapts the same modules."""
    from peft.tuners.lora import LoraLayer

    from ..train.methods import HyperAdaLoraMethod

    if isinstance(method, HyperAdaLoraMethod):
        return len(method.model.adapted_names)
    return sum(isinstance(m, LoraLayer) for m in method.model.modules())
