"""One learned gain per matrix (generation='per_matrix'): the gradient rule with its hypernetworks replaced by
constants, the ablation of issue 16 (what the per-entry, feature-reading hypernetworks add over a learned
step size per matrix).

The step is the gradient rule's (gradient.py, same moments, same bounds γ, α, same commit), but the outputs
(c, a) of every entry of a matrix X_m ∈ {P_m, Λ_m, Q_m} of adapted module m are one learned pair per module
and kind, read no feature:

    S_{t+1} = S_t + U_t,   U_t = −η_t·( γ(c_{m,X})·m̂_t/d_t + α(a_{m,X})·g_t/d_t ) − η_t·λ_wd·S_t.

The pairs start at zero, so γ = 1, α = 0: the rule starts exactly at AdamW on (P, Λ, Q), as the gradient
rule does. They are trained by the same one-step hypergradient ∂L_{t+1}/∂c = g_{t+1}·∂U_t/∂c, i.e.
hypergradient descent on Adam's step (Baydin et al. 2018), with one learned rate and turn per matrix.
Its Φ is 3 × n_mod × 2 numbers, saved as "pairs.P", "pairs.lam", "pairs.Q".
"""

from __future__ import annotations

import torch
from torch import nn

from .gradient import OUTPUTS, GradientRule
from .rule import Group


class PerMatrixRule(GradientRule):
    name = "per_matrix"

    def build_phi(self, device: torch.device) -> None:
        """Φ: a (c, a) pair per adapted module for each kind, (n_mod, 2), zero at the start."""
        n_mod = sum(len(g.modules) for g in self.groups if g.kind == "lam")
        self.pairs = nn.ParameterDict({k: nn.Parameter(torch.zeros(n_mod, OUTPUTS, device=device))
                                       for k in ("P", "lam", "Q")})
        for g in self.groups:  # which modules' pairs a group's matrices take, in the group's order
            self.register_buffer(f"index_{g.name}", torch.tensor(g.modules, device=device), persistent=False)

    def outputs(self, g: Group, phi: torch.Tensor) -> torch.Tensor:
        """Each matrix's pair, broadcast over its entries and the K feature sets (which it does not read):
        (1, n_g, 1, 1, 2) for P and Q, (1, n_mod, 1, 2) for Λ."""
        pairs = self.pairs[g.kind].index_select(0, self._buffers[f"index_{g.name}"])  # (n_g, 2)
        return pairs.view(1, pairs.shape[0], *([1] * (phi.dim() - 3)), OUTPUTS)
