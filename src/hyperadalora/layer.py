"""The SVD-form adapter around one nn.Linear / Conv1D: the hot path of every forward.

It owns no weights of its own: P, Λ, Q live in the model's shared state (one tensor per shape group) and
are either *generated* by the rule (training forward) or the *committed* state (eval, no_grad). Every adapter
of a model reads them from one `SharedTriplets` object, as peft's VB-LoRA layers read one shared vector bank:
the adapter knows where its matrices sit in the groups, and nothing of the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

if TYPE_CHECKING:
    from .generation import Generated


@dataclass
class Triplets:
    """What the adapters read during one forward: P and Q per shape group, Λ_eff = Λ ⊙ mask · scaling."""

    values: dict[str, torch.Tensor]  # group name -> (n_g, d_out, r) for P groups, (n_g, r, d_in) for Q groups
    lam: torch.Tensor  # (n_mod, r)
    orth: torch.Tensor | None = None  # mean over modules of ‖PᵀP−I‖² + ‖QQᵀ−I‖²
    generated: Generated | None = None  # what update_and_allocate commits from (training forwards only)


def _in_backward() -> bool:
    """True while autograd runs a backward pass (e.g. activation checkpointing recomputing a forward)."""
    return torch._C._current_graph_task_id() != -1


class SharedTriplets:
    """The one holder every adapter of a model reads (P, Λ_eff, Q) from.

    `current` is what the running forward reads (the model sets it: generated triplets in a training forward,
    which stay in place after it for a backward recomputing the forward and for the commit; the committed ones
    otherwise); `in_forward` is true inside the model's forward; `disabled` switches every adapter off.
    `state` is the model's live buffer mapping (a cast or move replaces its values, not the mapping), from
    which the committed triplets are read when no forward is running, e.g. when `base_model` is called directly.
    """

    def __init__(self, state: Mapping[str, torch.Tensor], groups: Sequence[str], scaling: float) -> None:
        self.state = state
        self.groups = tuple(groups)
        self.scaling = scaling
        self.current: Triplets | None = None
        self.in_forward = False
        self.disabled = False

    def committed(self) -> Triplets:
        """The adapters as they stand: the committed state, no hypernetwork."""
        s = self.state
        return Triplets({name: s[name] for name in self.groups}, s["lam"] * s["mask"] * self.scaling)

    def read(self, adapter: SvdAdapter, committed: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(P (d_out, r), Λ_eff (r,), Q (r, d_in)) of one adapter for the running forward.

        Inside the model's forward (or a backward recomputing it) the adapters read what that forward generated.
        Called from anywhere else, e.g. by running `base_model` directly, they read the committed state in eval /
        no_grad, and refuse a training forward: it would train nothing (the hypernetworks never run).
        """
        t = self.current
        if committed or t is None or not (self.in_forward or _in_backward()):
            if not committed and adapter.training and torch.is_grad_enabled() and not self.disabled:
                raise RuntimeError("HyperAdaLoRA: a training forward ran through the base model directly, so no "
                                   "hypernetwork would generate the adapters; call the HyperAdaLoraModel (model(**batch)) "
                                   "to train, or use model.eval() / torch.no_grad() for inference")
            t = self.committed()
        (pk, pi), (qk, qi) = adapter.p_slot, adapter.q_slot
        return t.values[pk][pi], t.lam[adapter.index], t.values[qk][qi]


def in_out_features(layer: nn.Module) -> tuple[int, int]:
    """(d_in, d_out) of an nn.Linear or a transformers Conv1D (whose weight is stored transposed)."""
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features
    if isinstance(layer, Conv1D):
        d_in, d_out = layer.weight.shape
        return d_in, d_out
    raise TypeError(f"cannot adapt {type(layer).__name__}: only nn.Linear and Conv1D are supported")


class SvdAdapter(nn.Module):
    """y = W₀x + P·diag(Λ ⊙ mask · s)·Q·x, with (P, Λ, Q) read from the model's shared triplets.

    `index` is this module's row in the model's Λ / mask tensors; `p_slot` / `q_slot` locate its P and Q in
    the shape groups (group key, position), so that all matrices of one shape are generated in one call.
    """

    def __init__(self, base_layer: nn.Module, index: int, p_slot: tuple[str, int], q_slot: tuple[str, int],
                 dropout: float, triplets: SharedTriplets) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.index = index
        self.p_slot = p_slot
        self.q_slot = q_slot
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False
        self._merged_delta: torch.Tensor | None = None
        self.triplets = triplets

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        result = self.base_layer(x, *args, **kwargs)
        if self.merged or self.triplets.disabled:
            return result
        P, lam, Q = self.triplets.read(self)  # (d_out, r), (r,) already ⊙ mask · scaling, (r, d_in)
        h = self.dropout(x).to(Q.dtype) @ Q.T  # (..., r)
        return result + ((h * lam) @ P.T).to(result.dtype)  # (..., d_out)

    def delta_weight(self) -> torch.Tensor:
        """ΔW (d_out, d_in) from the committed state, in nn.Linear's layout."""
        P, lam, Q = self.triplets.read(self, committed=True)
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
