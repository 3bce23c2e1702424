"""What every generation rule shares: the state's shape groups, their tokens, and the rules' base class.

The committed state S = (P, Λ, Q) of all adapted matrices lives in the model as one buffer per shape group:
`P_<d_out>` (n_g, d_out, r), `Q_<d_in>` (n_g, r, d_in) and `lam` (n_mod, r). A hypernetwork reads one group
as a batch of token sequences, one sequence per matrix:

    kind "P":    a token per row of P        (n_g, d_out, r·F)
    kind "Q":    a token per column of Q     (n_g, d_in,  r·F)
    kind "lam":  a token per singular value  (1, n_mod·r, F)   (every module's values in one sequence)

where F is the number of features the rule gives each entry (1 for the state-only rules: the value itself).

A rule is an nn.Module that owns what it learns and keeps: its hypernetworks Φ (parameters) and its own
optimizer statistics (buffers, saved with the adapter). The model hands it the committed state S, a mapping
group name -> tensor, and writes nothing of the rule's itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

if TYPE_CHECKING:
    from ..config import HyperAdaLoraConfig

State = Mapping[str, torch.Tensor]  # group name -> committed tensor of that group (the model's buffers)


@dataclass(frozen=True)
class Group:
    """One state tensor of the model: the P (or Q) of every adapted matrix of one size, or all singular values."""

    name: str  # its buffer name on the model: "P_384", "Q_1536", "lam"
    kind: str  # "P", "Q" or "lam": which hypernetwork reads it, and how it becomes tokens
    modules: tuple[int, ...]  # the adapted modules (rows of Λ) whose matrices it stacks, in order
    dim: int = 0  # d_out of its P matrices or d_in of its Q matrices (0 for Λ)

    def shape(self, r: int) -> tuple[int, ...]:
        """(n_g, d_out, r) for P, (n_g, r, d_in) for Q, (n_mod, r) for Λ."""
        n = len(self.modules)
        return {"P": (n, self.dim, r), "Q": (n, r, self.dim), "lam": (n, r)}[self.kind]


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


CHECKPOINT_TOKENS = 2_048  # tokens per recomputed chunk with hypernet_checkpointing
# hypernet_checkpointing="auto": on where the hypernetworks would keep more than this share of the frozen weights'
# bytes (the one part of a step's memory known when the model is wrapped, and a lower bound on it).
CHECKPOINT_SHARE = 0.25


class Rule(nn.Module):
    """The interface `HyperAdaLoraModel` calls; one small subclass per rule, its math in its module docstring.

    The rule's direct buffers are its optimizer statistics: they keep their dtype when the model is cast
    (`model.to(torch.bfloat16)` moves them, never rounds them), and a load of them through any path
    (`model.load_state_dict`, `load_adapter_state_dict`) refreshes the host copies (`after_load`).
    """

    name: ClassVar[str]
    # A statistic's name in the saved adapter ("state.<name>") where it differs from the buffer's (0.2's names).
    SAVED_NAMES: ClassVar[dict[str, str]] = {}

    def __init__(self, config: HyperAdaLoraConfig, groups: list[Group]) -> None:
        super().__init__()
        self.config = config
        self.groups = groups
        self.register_load_state_dict_post_hook(_after_load)  # whoever loads the buffers, the host copies follow
        # whether run_hypernet recomputes the hypernetworks in the backward; "auto" is decided by the model, which
        # knows the frozen weights (decide_checkpointing)
        self.checkpointing = config.hypernet_checkpointing is True

    def build_hypernets(self, device: torch.device) -> nn.ModuleDict:
        """One H_P, H_Λ, H_Q for the whole model, with the rule's token widths."""
        from ..hypernet import build_hypernet  # the hypernetwork kinds import nothing of the rules

        cfg = self.config
        kw = dict(hidden=cfg.hypernet_hidden, heads=cfg.hypernet_heads, layers=cfg.hypernet_layers,
                  ffn=cfg.hypernet_ffn, dropout=cfg.hypernet_dropout, position_encoding=cfg.position_encoding)
        dims = self.token_dims(cfg.init_r)
        nets = nn.ModuleDict({
            "P": build_hypernet(cfg.hypernet, *dims["P"], attention_block=cfg.attention_block, **kw),  # tokens: rows of P
            "lam": build_hypernet(cfg.hypernet, *dims["lam"], **kw),  # tokens: every singular value of the model
            "Q": build_hypernet(cfg.hypernet, *dims["Q"], attention_block=cfg.attention_block, **kw),  # tokens: columns of Q
        }).to(device)
        if cfg.hypernet_compile:
            for net in nets.values():
                net.compile()  # in place: parameters and state-dict keys stay the module's own
        return nets

    def saved_bytes(self) -> int:
        """Predicted bytes the hypernetworks keep for the backward in one step without checkpointing, fp32 per token:
        its input, the embedding LayerNorm's input and statistics and the output projection's input (2h + 2), and
        per block q, k, v, the attention output and its log-sum-exp, the inputs of the two projections and of the
        FFN, the two residual LayerNorms' inputs and statistics and the FFN's two wide tensors (8h + 2·ffn + heads +
        4): 596 floats, 2.3 KB, at the defaults, as measured (tests/generation/test_rule.py)."""
        cfg, r = self.config, self.config.init_r
        h, ffn = cfg.hypernet_hidden, cfg.hypernet_ffn
        per_block = 8 * h + 2 * ffn + cfg.hypernet_heads + 4
        total = 0
        for g in self.groups:
            n, T = (1, len(g.modules) * r) if g.kind == "lam" else (len(g.modules), g.dim)
            width = self.token_dims(r)[g.kind][0]
            total += n * T * (width + 2 * h + 2 + cfg.hypernet_layers * per_block)
        return 4 * total

    def decide_checkpointing(self, frozen_bytes: int) -> bool:
        """Resolve hypernet_checkpointing="auto" for a model whose frozen weights take `frozen_bytes`."""
        if self.config.hypernet_checkpointing == "auto":  # never with compiled hypernetworks (config.py)
            self.checkpointing = not self.config.hypernet_compile and self.saved_bytes() > CHECKPOINT_SHARE * frozen_bytes
        return self.checkpointing

    def attention_spans(self) -> dict[str, int | None]:
        """Per group: the block of consecutive tokens its tokens attend within, None for all tokens of the matrix
        (eq. 8), as `attention_block` resolves at the group's length; {} for the hypernetwork kinds without
        attention. H_Λ's one sequence (every singular value of the model) always gets full attention."""
        from ..hypernet import attention_span

        if self.config.hypernet != "attention":
            return {}
        return {g.name: None if g.kind == "lam" else attention_span(self.config.attention_block, g.dim)
                for g in self.groups}

    def token_dims(self, r: int) -> dict[str, tuple[int, int]]:
        """(input, output) token widths of the hypernetworks H_P, H_Λ ('lam'), H_Q."""
        raise NotImplementedError

    def generate(self, S: State) -> Generated:
        """The values the training forward reads, with a graph into Φ."""
        raise NotImplementedError

    def commit(self, S: State, gen: Generated | None, lr_scale: float) -> None:
        """After the optimizer step: write the new committed state S (in place) and the rule's statistics."""
        raise NotImplementedError

    def observe_loss(self, loss: torch.Tensor, replace: bool = False) -> None:
        """A training forward's task loss (a 0-dim tensor), for the rules that read the loss's trend; `replace`:
        the step's loss as the training loop computed it, in place of what the forwards saw."""

    def discard(self) -> None:
        """Forget what a skipped step's backward accumulated."""

    def after_load(self) -> None:
        """Re-read the host copies of the rule's statistics after its buffers were loaded."""

    def adapter_keys(self) -> dict[str, str]:
        """This rule's `state_dict()` key -> its key in the saved adapter: statistics as "state.<name>", the
        hypernetworks' weights as they are ("hypernets.P.…"), the format 0.2 wrote from the model's own buffers."""
        return {k: f"state.{self.SAVED_NAMES.get(k, k)}" if k in self._buffers else k for k in self.state_dict()}

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> Rule:
        """As nn.Module's, but the statistics keep their dtype: a cast of the model would round Adam's moments
        and the float64 schedule multiplier (which must come back exactly on resume)."""
        before = dict(self._buffers)
        super()._apply(fn, recurse)
        for k, old in before.items():
            new = self._buffers[k]
            if old is not None and new.dtype != old.dtype:
                self._buffers[k] = old.to(new.device)  # moved where the cast would have put it, not rounded
        return self


def _after_load(rule: Rule, incompatible_keys: Any) -> None:
    rule.after_load()


def run_hypernet(rule: Rule, kind: str, tokens: torch.Tensor) -> torch.Tensor:
    """H_kind(tokens) for one shape group (B matrices, T tokens each).

    With `hypernet_checkpointing` the matrices go through in chunks of at most CHECKPOINT_TOKENS tokens whose
    activations are recomputed in the backward (torch.utils.checkpoint), so the hypernetworks hold one chunk's
    activations instead of every token's. Matrices are independent sequences, so chunking changes nothing but
    the order of the float sums inside BLAS.
    """
    net = rule.hypernets[kind]
    if not (rule.checkpointing and torch.is_grad_enabled()):
        return net(tokens)
    from torch.utils.checkpoint import checkpoint

    per = max(1, CHECKPOINT_TOKENS // tokens.shape[1])  # matrices per chunk
    return torch.cat([checkpoint(net, chunk, use_reentrant=False) for chunk in tokens.split(per)])


def token_scale(config: HyperAdaLoraConfig, kind: str) -> float:
    """σ of a kind's values: the state-only hypernetworks read S/σ (and scale their output by σ)."""
    if not config.normalize_tokens:
        return 1.0
    return config.lambda_scale if kind == "lam" else config.init_std


def state_residuals(rule: Rule, S: State) -> dict[str, torch.Tensor]:
    """R_X = σ·H_X(S_X / σ; Φ_X) for every group: the residual of the state-only rules (literal, increment)."""
    out = {}
    for g in rule.groups:
        s = S[g.name]
        sigma = token_scale(rule.config, g.kind)
        y = run_hypernet(rule, g.kind, to_tokens(g.kind, s.unsqueeze(-1) / sigma))  # (B, T, r) or (1, n·r, 1)
        out[g.name] = from_tokens(g.kind, y, s.shape).squeeze(-1) * sigma
    return out


@torch.no_grad()
def state_residuals_without_dropout(rule: Rule, S: State) -> dict[str, torch.Tensor]:
    """R of the current hypernetworks in eval mode: what a commit adds or subtracts."""
    was = rule.hypernets.training
    rule.hypernets.eval()
    try:
        return state_residuals(rule, S)
    finally:
        rule.hypernets.train(was)
