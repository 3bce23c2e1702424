"""The paper's recurrence taken literally (eqs. 4–6): the hypernetworks map the state to the next state.

    training forward at step t:  the adapters see  S_t + R(S_t; Φ_t),   R_X = σ·H_X(S_X / σ; Φ_X)
    commit (update_and_allocate): S_{t+1} = S_t + R(S_t; Φ_t)           (the triplet the forward trained on)

The residual is re-applied at every step whether or not the loss still asks for it, so the state drifts
(docs/method.md, choice 3); kept as the paper-literal option (`HyperAdaLoraConfig.paper_literal()`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .rule import Generated, Group, Rule, State, state_residuals

if TYPE_CHECKING:
    from ..config import HyperAdaLoraConfig


class LiteralRule(Rule):
    name = "literal"

    def __init__(self, config: HyperAdaLoraConfig, groups: list[Group], device: torch.device) -> None:
        super().__init__(config, groups)
        self.hypernets = self.build_hypernets(device)  # the committed state is all it keeps besides Φ

    def token_dims(self, r: int) -> dict[str, tuple[int, int]]:
        return {"P": (r, r), "lam": (1, 1), "Q": (r, r)}  # a token is a row / column / value; H(S) = S + R

    def generate(self, S: State) -> Generated:
        R = state_residuals(self, S)
        return Generated({name: S[name] + r for name, r in R.items()})

    @torch.no_grad()
    def commit(self, S: State, gen: Generated | None, lr_scale: float) -> None:
        if gen is None:
            return
        for name, value in gen.values.items():
            S[name].copy_(value)
