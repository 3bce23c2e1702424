"""How a run is spread over processes: the accelerate.Accelerator, its precision, and FSDP2 sharding.

One process and DDP (`torchrun`, `accelerate launch --multi_gpu`) need nothing from the loop but
`accelerator.prepare`. Under FSDP2 the loop shards only the frozen base model's transformer blocks
(`shard_base_model`); the hypernetworks, the adapter state and the head stay replicated (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import UserInputError
from .config import TrainConfig


def distributed_mode(cfg: TrainConfig) -> str:
    """'fsdp' or 'ddp' (one process included), from what the launcher set; refuse what is not supported.

    Supported FSDP is FSDP2 (`accelerate launch --use_fsdp --fsdp_version 2`) sharding the frozen base model's
    transformer blocks, with the hypernetworks, the adapter state and the head replicated (docs/reliability.md).
    """
    env = os.environ

    def flag(name: str) -> bool:
        return env.get(name, "false").lower() in ("true", "1", "yes")

    ddp_alternative = "launch with DDP (torchrun, or accelerate launch --multi_gpu)"
    if flag("ACCELERATE_USE_DEEPSPEED"):
        raise UserInputError("distributed mode: DeepSpeed (any ZeRO stage) is not supported; " + ddp_alternative +
                             ", or FSDP2 for a base model too large for one device (accelerate launch --use_fsdp "
                             "--fsdp_version 2)")
    if not flag("ACCELERATE_USE_FSDP"):
        return "ddp"
    fsdp2 = "accelerate launch --use_fsdp --fsdp_version 2 (shards the frozen base model; the hypernetworks, the " \
            "state and the head stay replicated)"
    if env.get("FSDP_VERSION", "1") != "2":
        raise UserInputError(f"distributed mode: FSDP version {env.get('FSDP_VERSION', '1')} is not supported; use {fsdp2}")
    if flag("FSDP_OFFLOAD_PARAMS"):
        raise UserInputError(f"distributed mode: FSDP with CPU offload is not supported; use {fsdp2} without "
                             "--fsdp_offload_params")
    if cfg.method != "hyperadalora":
        raise UserInputError(f"distributed mode: FSDP is supported for method hyperadalora only (peft's {cfg.method} "
                             f"keeps its trainable weights inside the sharded blocks); {ddp_alternative}")
    return "fsdp"


@contextlib.contextmanager
def _without_env(name: str):
    value = os.environ.pop(name, None)
    try:
        yield
    finally:
        if value is not None:
            os.environ[name] = value


def _mixed_precision(cfg: TrainConfig) -> str:
    if cfg.mixed_precision == "auto":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    if cfg.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise UserInputError("mixed_precision: fp16 needs a CUDA device; use bf16 or no on this machine")
    return cfg.mixed_precision


def make_accelerator(cfg: TrainConfig, out: Path) -> tuple[Any, bool]:
    """The accelerate.Accelerator of the run (its process group, precision and tracker), and whether the base
    model is to be sharded (FSDP over several processes)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    mode = distributed_mode(cfg)
    # accelerate keeps one AcceleratorState per process; a second run in the same process (tests, notebooks) may
    # use another precision. The process group (PartialState) is kept.
    AcceleratorState._reset_state()
    # torchrun on a machine without CUDA: accelerate joins the process group (gloo) only when told cpu=True.
    cpu_group = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    # Under FSDP the loop shards the base model itself (shard_base_model): accelerate's own FSDP would shard the
    # whole prepared model, hypernetworks included, which generate the adapters outside any block's forward.
    with _without_env("ACCELERATE_USE_FSDP") if mode == "fsdp" else contextlib.nullcontext():
        accelerator = Accelerator(cpu=cpu_group, mixed_precision=_mixed_precision(cfg),
                                  log_with="tensorboard" if cfg.tensorboard else None,
                                  project_dir=str(out) if cfg.tensorboard else None)
    sharded = mode == "fsdp" and accelerator.num_processes > 1
    if cfg.batch_size % accelerator.num_processes:
        raise UserInputError(f"batch_size: {cfg.batch_size} is not divisible by the {accelerator.num_processes} "
                             "processes; it is the global batch, split evenly between them")
    return accelerator, sharded


def shard_base_model(model: Any, reshard_after_forward: bool) -> None:
    """FSDP2 `fully_shard` on each transformer block of the frozen base model (its `_no_split_modules` classes, as
    accelerate's auto-wrap policy uses). The hypernetworks, the adapter state and the head are not sharded: DDP
    (accelerate.prepare) replicates them and averages their gradients, and is told to leave the sharded ones alone."""
    from torch.distributed.fsdp import fully_shard

    base = model.base_model
    classes = set(getattr(base, "_no_split_modules", None) or ())
    blocks = [m for m in base.modules() if type(m).__name__ in classes]
    if not blocks:
        raise UserInputError(f"distributed mode: FSDP needs the model's transformer block classes (_no_split_modules), "
                             f"which {type(base).__name__} does not name; launch with DDP instead")
    for block in blocks:
        fully_shard(block, reshard_after_forward=reshard_after_forward)
    model._ddp_params_and_buffers_to_ignore = [
        *model._ddp_params_and_buffers_to_ignore, *(n for n, p in model.named_parameters() if not p.requires_grad)]

