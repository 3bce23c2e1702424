"""State-only generation that moves only when the hypernetworks move (0.1.0's default).

    training forward at step t:  the adapters see S_t exactly;  ∂L/∂S flows into Φ through R(S_t; Φ_t)
                                 (straight-through: S + (R − R.detach()), x − x = 0 in floating point)
    commit:                      S_{t+1} = S_t + R(S_t; Φ_{t+1}) − R(S_t; Φ_t)     (one no-grad forward)

To first order S_{t+1} − S_t = J_Φ (Φ_{t+1} − Φ_t): a step in state space preconditioned by the shared
hypernetworks' Jacobian, with the fixed point the literal recurrence lacks (zero optimizer step: the state
stays bitwise unchanged). It is stable but learns little: one step moves every matrix of a shape group
inside the span of the hypernetwork's features of its rows (docs/method.md, "Where the learning stalls").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .rule import Generated, state_residuals, state_residuals_without_dropout

if TYPE_CHECKING:
    from ..model import HyperAdaLoraModel


class IncrementRule:
    name = "increment"

    def token_dims(self, r: int) -> dict[str, tuple[int, int]]:
        return {"P": (r, r), "lam": (1, 1), "Q": (r, r)}

    def register_state(self, model: HyperAdaLoraModel) -> None:
        pass

    def generate(self, model: HyperAdaLoraModel) -> Generated:
        with model.hypernet_rng():
            R = state_residuals(model)
        values = {name: model.state(name) + (r - r.detach()) for name, r in R.items()}  # value S, gradient via R
        if model.adapter_config.hypernet_dropout > 0:  # the commit must subtract a dropout-free residual
            R = state_residuals_without_dropout(model)
        return Generated(values, cache={"R": {name: r.detach() for name, r in R.items()}})

    @torch.no_grad()
    def commit(self, model: HyperAdaLoraModel, gen: Generated | None, lr_scale: float) -> None:
        if gen is None:
            return
        new = state_residuals_without_dropout(model)  # R(S; Φ_{t+1}): the commit's second forward
        for name, old in gen.cache["R"].items():
            model.state(name).add_(new[name] - old)

    def discard(self, model: HyperAdaLoraModel) -> None:
        pass

    def after_load(self, model: HyperAdaLoraModel) -> None:
        pass
