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

from .rule import Generated, Group, Rule, State, state_residuals, state_residuals_without_dropout

if TYPE_CHECKING:
    from ..config import HyperAdaLoraConfig


class IncrementRule(Rule):
    name = "increment"

    def __init__(self, config: HyperAdaLoraConfig, groups: list[Group], device: torch.device) -> None:
        super().__init__(config, groups)
        self.hypernets = self.build_hypernets(device)

    def token_dims(self, r: int) -> dict[str, tuple[int, int]]:
        return {"P": (r, r), "lam": (1, 1), "Q": (r, r)}

    def generate(self, S: State) -> Generated:
        R = state_residuals(self, S)
        values = {name: S[name] + (r - r.detach()) for name, r in R.items()}  # value S, gradient via R
        if self.config.hypernet_dropout > 0:  # the commit must subtract a dropout-free residual
            R = state_residuals_without_dropout(self, S)
        return Generated(values, cache={"R": {name: r.detach() for name, r in R.items()}})

    @torch.no_grad()
    def commit(self, S: State, gen: Generated | None, lr_scale: float) -> None:
        if gen is None:
            return
        new = state_residuals_without_dropout(self, S)  # R(S; Φ_{t+1}): the commit's second forward
        for name, old in gen.cache["R"].items():
            S[name].add_(new[name] - old)
