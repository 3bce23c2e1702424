"""The SVD-form adapter around one nn.Linear / Conv1D: the hot path of every forward.

It owns no weights of its own: P, Λ, Q live in the model's shared state (one tensor per shape group) and
are either *generated* by the hypernetworks (training forward) or the *committed* state (eval, no_grad).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

if TYPE_CHECKING:
    from .model import HyperAdaLoraModel


def in_out_features(layer: nn.Module) -> tuple[int, int]:
    """(d_in, d_out) of an nn.Linear or a transformers Conv1D (whose weight is stored transposed)."""
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features
    if isinstance(layer, Conv1D):
        d_in, d_out = layer.weight.shape
        return d_in, d_out
    raise TypeError(f"cannot adapt {type(layer).__name__}: only nn.Linear and Conv1D are supported")


class SvdAdapter(nn.Module):
    """y = W₀x + P·diag(Λ ⊙ mask · s)·Q·x, with (P, Λ, Q) read from the owning model's state.

    `index` is this module's row in the model's Λ / mask tensors; `p_slot` / `q_slot` locate its P and Q in
    the shape groups (group key, position), so that all matrices of one shape are generated in one call.
    """

    def __init__(self, base_layer: nn.Module, index: int, p_slot: tuple[str, int], q_slot: tuple[str, int],
                 dropout: float) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.index = index
        self.p_slot = p_slot
        self.q_slot = q_slot
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False
        self._merged_delta: torch.Tensor | None = None
        self._owner: HyperAdaLoraModel | None = None  # set by the owner; not a submodule (no cycle)

    def attach(self, owner: HyperAdaLoraModel) -> None:
        object.__setattr__(self, "_owner", owner)

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        result = self.base_layer(x, *args, **kwargs)
        owner = self._owner
        if self.merged or owner is None or owner.adapters_disabled:
            return result
        P, lam, Q = owner.triplet(self)  # (d_out, r), (r,) already ⊙ mask · scaling, (r, d_in)
        h = self.dropout(x).to(Q.dtype) @ Q.T  # (..., r)
        return result + ((h * lam) @ P.T).to(result.dtype)  # (..., d_out)

    def delta_weight(self) -> torch.Tensor:
        """ΔW (d_out, d_in) from the committed state, in nn.Linear's layout."""
        P, lam, Q = self._owner.triplet(self, committed=True)
        return (P * lam) @ Q  # (d_out, r) @ (r, d_in)

    def delta_weight_in_layout(self) -> torch.Tensor:
        """ΔW in the base layer's own layout and dtype (Conv1D stores (d_in, d_out))."""
        delta = self.delta_weight()
        if isinstance(self.base_layer, Conv1D):
            delta = delta.T
        return delta.to(self.base_layer.weight.dtype)

    def merge(self, delta: torch.Tensor | None = None) -> None:
        """W ← W + ΔW (`delta`, or computed from the committed state); the forward then skips the adapter. The ΔW
        added is kept, so `unmerge` subtracts it exactly."""
        if self.merged:
            return
        self._merged_delta = self.delta_weight_in_layout() if delta is None else delta
        self.base_layer.weight.data += self._merged_delta
        self.merged = True

    def unmerge(self) -> None:
        """W ← W − ΔW of the last merge (the committed state may have moved since)."""
        if not self.merged:
            return
        self.base_layer.weight.data -= self._merged_delta
        self._merged_delta = None
        self.merged = False
