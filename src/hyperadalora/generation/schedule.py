"""How the learning-rate schedule reaches the rule without hand arithmetic.

The gradient rules step the state at η_t = state_lr × lr_scale_t, where lr_scale_t is the schedule's
multiplier of the optimizer step just taken: lr_t / lr_0 of the parameter group that trains the rule's Φ
(`initial_lr` is what every torch LRScheduler records as lr_0; with no scheduler the multiplier is 1).

One process-wide optimizer step post-hook (`torch.optim.optimizer.register_optimizer_step_post_hook`)
records, right after every `optimizer.step()`, each param group's lr / initial_lr, holding the optimizer
only by weak reference. `update_and_allocate(step)` then looks up the optimizer whose groups hold the rule's
first parameter. Recording at the step, not at the commit, makes the order of `scheduler.step()` and
`update_and_allocate` irrelevant (peft's examples step the scheduler first).

Not seen: an optimizer that holds copies of the parameters rather than the parameters (FSDP's flat
parameters, DeepSpeed's partitions); pass `lr_scale=` explicitly there, as the training harness does.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

_LAST_STEP: weakref.WeakKeyDictionary[torch.optim.Optimizer, list[float]] = weakref.WeakKeyDictionary()
_HOOK: Any = None


def _record(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    scales = []
    for group in optimizer.param_groups:
        initial = group.get("initial_lr")
        scales.append(float(group["lr"] / initial) if initial else 1.0)  # float(): a tensor lr is read once here
    _LAST_STEP[optimizer] = scales


def watch_optimizers() -> None:
    """Start recording every optimizer's step (once per process; idempotent)."""
    global _HOOK
    if _HOOK is None:
        from torch.optim.optimizer import register_optimizer_step_post_hook

        _HOOK = register_optimizer_step_post_hook(_record)


def lr_scale_of(param: torch.Tensor) -> float:
    """lr / initial_lr, at its last step, of the param group holding `param`; 1.0 if no optimizer stepped it."""
    for optimizer, scales in list(_LAST_STEP.items()):
        for group, scale in zip(optimizer.param_groups, scales, strict=False):
            if any(p is param for p in group["params"]):
                return scale
    return 1.0
