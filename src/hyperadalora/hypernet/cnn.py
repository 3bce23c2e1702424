"""Ablation variant: a 1-D convolution block; each token sees its neighbours in the matrix."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBlock(nn.Module):
    """x ← LN(x + Conv1d_k(GELU(Conv1d_k(x)))) along the token axis, kernel 3, same padding."""

    def __init__(self, hidden: int, ffn: int, dropout: float, kernel: int = 3) -> None:
        super().__init__()
        self.conv_in = nn.Conv1d(hidden, ffn, kernel, padding=kernel // 2)
        self.conv_out = nn.Conv1d(ffn, hidden, kernel, padding=kernel // 2)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.conv_out(F.gelu(self.conv_in(x.transpose(1, 2)))).transpose(1, 2)  # (B, T, C)
        return self.norm(x + F.dropout(f, self.dropout, self.training))
