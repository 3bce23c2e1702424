"""Model presets of the step benchmark and the three methods wrapped around them on one shared base model.

A preset builds a transformers model: `minilm` loads the real checkpoint; `tiny` and `tiny-llama` are
2-layer models for tests; `llama-3.1-8b` and `qwen2.5-7b` are built from hand-written copies of the real
models' config.json with random weights (step time does not depend on the weights' values, so there is
nothing to download). Every method gets its own module tree, but the frozen base weights are ONE set of
tensors shared by all (built once, the other copies are built on the meta device and point at them): on a
GPU three copies of an 8B model would not leave room for activations.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import UserInputError

METHOD_KINDS = ("lora", "adalora", "hyperadalora")

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
    pretrained: bool = False  # load real weights from model_path (else random weights)


def _minilm_path(model_path: str | None) -> str:
    """--model-path, else the 'minilm' alias as training resolves it (an error naming the missing package)."""
    if model_path:
        return model_path
    from ..train.sources import minilm_path

    return minilm_path()


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
           _minilm, pretrained=True),
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
    if preset.pretrained:
        path = _minilm_path(model_path)
        try:
            model = cls.from_pretrained(path, num_labels=2, dtype=preset.dtype)
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


@dataclass
class MethodSpec:
    """A method to benchmark: 'lora', 'adalora', 'hyperadalora', or 'hyperadalora:key=value,...' (an option)."""

    name: str
    kind: str
    overrides: dict[str, Any]


def parse_method(spec: str) -> MethodSpec:
    """'hyperadalora:hypernet_hidden=32,hypernet=mlp' -> MethodSpec; values parsed as int/float/bool/str."""
    from ..config import HyperAdaLoraConfig

    kind, _, rest = spec.partition(":")
    if kind not in METHOD_KINDS:
        raise UserInputError(f"--methods: unknown method {kind!r} in {spec!r}; choose from {', '.join(METHOD_KINDS)}")
    overrides: dict[str, Any] = {}
    if rest:
        if kind != "hyperadalora":
            raise UserInputError(f"--methods: options (':key=value') are only for hyperadalora, got {spec!r}")
        fields = set(HyperAdaLoraConfig.__dataclass_fields__)
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            if not eq or key not in fields:
                raise UserInputError(f"--methods: {item!r} in {spec!r} is not key=value with a HyperAdaLoraConfig field "
                                     "as key (e.g. hyperadalora:hypernet_hidden=32)")
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


def wrap(base: nn.Module, spec: MethodSpec, preset: Preset, targets: list[str], rank: Rank) -> nn.Module:
    """Put `spec`'s adapters on `base` (in place) and return the model to train."""
    saved = ["classifier"] if preset.task == "classification" else None
    if spec.kind == "hyperadalora":
        from .. import HyperAdaLoraConfig, get_hyperadalora_model

        try:
            cfg = HyperAdaLoraConfig(**{
                "target_modules": targets, "init_r": rank.init_r, "target_r": rank.target_r,
                "lora_alpha": rank.lora_alpha, "deltaT": rank.deltaT, "total_step": rank.total_step,
                "modules_to_save": saved, **spec.overrides,
            })
        except (ValueError, TypeError) as e:
            raise UserInputError(f"--methods {spec.name}: {e}") from None
        return get_hyperadalora_model(base, cfg)
    from peft import AdaLoraConfig, LoraConfig, get_peft_model

    if spec.kind == "lora":
        cfg = LoraConfig(r=rank.init_r, lora_alpha=rank.lora_alpha, target_modules=targets, modules_to_save=saved)
    else:
        cfg = AdaLoraConfig(init_r=rank.init_r, target_r=rank.target_r, lora_alpha=rank.lora_alpha,
                            target_modules=targets, modules_to_save=saved, tinit=0, tfinal=0,
                            deltaT=rank.deltaT, total_step=rank.total_step)
    return get_peft_model(base, cfg)


def adapted_count(model: nn.Module, spec: MethodSpec) -> int:
    """Number of adapted layers, to check that every method adapts the same modules."""
    if spec.kind == "hyperadalora":
        return len(model.adapted_names)
    from peft.tuners.lora import LoraLayer

    return sum(isinstance(m, LoraLayer) for m in model.modules())


def update_fn(model: nn.Module, spec: MethodSpec) -> Callable[[int], None] | None:
    """The per-step hook after optimizer.step(): update_and_allocate for AdaLoRA and HyperAdaLoRA."""
    if spec.kind == "hyperadalora":
        return model.update_and_allocate
    if spec.kind == "adalora":
        return model.base_model.update_and_allocate
    return None
