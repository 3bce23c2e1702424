"""Ablation variant: a per-token MLP block; tokens do not see each other."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MlpBlock(nn.Module):
    """x ← LN(x + W2·GELU(W1·x)), applied to each token alone."""

    def __init__(self, hidden: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.ffn_out(F.gelu(self.ffn_in(x)))  # (B, T, C)
        return self.norm(x + F.dropout(f, self.dropout, self.training))
