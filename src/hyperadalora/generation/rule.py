"""What every generation rule shares: the state's shape groups, their tokens, and the rules' one interface.

The committed state S = (P, Λ, Q) of all adapted matrices lives in the model as one buffer per shape group:
`P_<d_out>` (n_g, d_out, r), `Q_<d_in>` (n_g, r, d_in) and `lam` (n_mod, r). A hypernetwork reads one group
as a batch of token sequences, one sequence per matrix:

    kind "P":    a token per row of P        (n_g, d_out, r·F)
    kind "Q":    a token per column of Q     (n_g, d_in,  r·F)
    kind "lam":  a token per singular value  (1, n_mod·r, F)   (every module's values in one sequence)

where F is the number of features the rule gives each entry (1 for the state-only rules: the value itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch

if TYPE_CHECKING:
    from ..model import HyperAdaLoraModel


@dataclass(frozen=True)
class Group:
    """One state tensor of the model: the P (or Q) of every adapted matrix of one size, or all singular values."""

    name: str  # its buffer name on the model: "P_384", "Q_1536", "lam"
    kind: str  # "P", "Q" or "lam": which hypernetwork reads it, and how it becomes tokens
    modules: tuple[int, ...]  # the adapted modules (rows of Λ) whose matrices it stacks, in order
    dim: int = 0  # d_out of its P matrices or d_in of its Q matrices (0 for Λ)


@dataclass
class Generated:
    """What one training forward reads, and what the rule's commit needs from it."""

    values: dict[str, torch.Tensor]  # group name -> adapter value shaped like the state, with a graph into Φ
    cache: dict[str, Any] = field(default_factory=dict)


def to_tokens(kind: str, x: torch.Tensor) -> torch.Tensor:
    """Per-entry features x (state shape + (F,)) -> token sequences (B, T, r·F) for the hypernetwork of `kind`."""
    if kind == "P":
        return x.flatten(2)  # (n_g, d_out, r, F) -> (n_g, d_out, r·F): a row of P per token
    if kind == "Q":
        return x.transpose(1, 2).flatten(2)  # (n_g, r, d_in, F) -> (n_g, d_in, r·F): a column of Q per token
    return x.reshape(1, -1, x.shape[-1])  # (n, r, F) -> (1, n·r, F): a singular value per token


def from_tokens(kind: str, y: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Inverse of `to_tokens`: hypernetwork outputs (B, T, r·O) -> state shape + (O,)."""
    if kind == "P":
        return y.view(*shape, -1)  # (n_g, d_out, r, O)
    if kind == "Q":
        n, r, d = shape
        return y.view(n, d, r, -1).transpose(1, 2)  # (n_g, r, d_in, O)
    return y.view(*shape, -1)  # (n, r, O)


CHECKPOINT_TOKENS = 8_192  # tokens per recomputed chunk with hypernet_checkpointing


def run_hypernet(model: HyperAdaLoraModel, kind: str, tokens: torch.Tensor) -> torch.Tensor:
    """H_kind(tokens) for one shape group (B matrices, T tokens each).

    With `hypernet_checkpointing` the matrices go through in chunks of at most CHECKPOINT_TOKENS tokens whose
    activations are recomputed in the backward (torch.utils.checkpoint), so the hypernetworks hold one chunk's
    activations instead of every token's. Matrices are independent sequences, so chunking changes nothing but
    the order of the float sums inside BLAS.
    """
    net = model.hypernets[kind]
    if not (model.adapter_config.hypernet_checkpointing and torch.is_grad_enabled()):
        return net(tokens)
    from torch.utils.checkpoint import checkpoint

    per = max(1, CHECKPOINT_TOKENS // tokens.shape[1])  # matrices per chunk
    return torch.cat([checkpoint(net, chunk, use_reentrant=False) for chunk in tokens.split(per)])


def token_scale(model: HyperAdaLoraModel, kind: str) -> float:
    """σ of a kind's values: the state-only hypernetworks read S/σ (and scale their output by σ)."""
    cfg = model.adapter_config
    if not cfg.normalize_tokens:
        return 1.0
    return cfg.lambda_scale if kind == "lam" else cfg.init_std


def state_residuals(model: HyperAdaLoraModel) -> dict[str, torch.Tensor]:
    """R_X = σ·H_X(S_X / σ; Φ_X) for every group: the residual of the state-only rules (literal, increment)."""
    out = {}
    for g in model.groups:
        S = model.state(g.name)
        sigma = token_scale(model, g.kind)
        y = run_hypernet(model, g.kind, to_tokens(g.kind, S.unsqueeze(-1) / sigma))  # (B, T, r) or (1, n·r, 1)
        out[g.name] = from_tokens(g.kind, y, S.shape).squeeze(-1) * sigma
    return out


@torch.no_grad()
def state_residuals_without_dropout(model: HyperAdaLoraModel) -> dict[str, torch.Tensor]:
    """R of the current hypernetworks in eval mode: what a commit adds or subtracts."""
    was = model.hypernets.training
    model.hypernets.eval()
    try:
        return state_residuals(model)
    finally:
        model.hypernets.train(was)


class Rule(Protocol):
    """The interface `HyperAdaLoraModel` calls; one small class per rule, its math in its module docstring."""

    name: str

    def token_dims(self, r: int) -> dict[str, tuple[int, int]]:
        """(input, output) token widths of the hypernetworks H_P, H_Λ ('lam'), H_Q."""

    def register_state(self, model: HyperAdaLoraModel) -> None:
        """Register the rule's own state on the model as persistent buffers (saved, checkpointed, moved)."""

    def generate(self, model: HyperAdaLoraModel) -> Generated:
        """The values the training forward reads, with a graph into the hypernetworks."""

    def commit(self, model: HyperAdaLoraModel, gen: Generated | None, lr_scale: float) -> None:
        """After the optimizer step: write the new committed state (and the rule's own state)."""

    def discard(self, model: HyperAdaLoraModel) -> None:
        """Forget what a skipped step's backward accumulated."""

    def after_load(self, model: HyperAdaLoraModel) -> None:
        """Re-read host-side copies of the rule's state after its buffers were loaded."""
