"""The frame shared by every hypernetwork kind: token embedding, position codes, blocks, residual head."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_codes(length: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Transformer position codes (length, dim): sin/cos of position / 10000^(2i/dim)."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]  # (T, 1)
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    codes = torch.zeros(length, dim, device=device, dtype=torch.float32)
    codes[:, 0::2] = torch.sin(pos * freq)
    codes[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return codes.to(dtype)


class Hypernet(nn.Module):
    """Y = H(X) for tokens X (B, T, d_in): embed to width h, add position codes, run the blocks, project to d_out.

    What the output means is the generation rule's (generation/): a residual R with H(S) = S + R for the
    state-only rules, per-entry gains for the gradient rule. The output projection starts at zero, so at
    initialisation every rule starts where the rule says it must (the base model, or Adam's step).
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int, blocks: nn.ModuleList, position_encoding: bool) -> None:
        super().__init__()
        self.in_proj = nn.Linear(in_dim, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.blocks = blocks
        self.out_proj = nn.Linear(hidden, out_dim)
        nn.init.zeros_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)
        self.position_encoding = position_encoding
        self._codes: dict[tuple, torch.Tensor] = {}  # cache: position codes are constants

    def codes(self, length: int, like: torch.Tensor) -> torch.Tensor:
        key = (length, like.device, like.dtype)
        if key not in self._codes:
            self._codes[key] = sinusoidal_codes(length, self.in_proj.out_features, like.device, like.dtype)
        return self._codes[key]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.in_proj(tokens)  # (B, T, h)
        if self.position_encoding:
            h = h + self.codes(tokens.shape[1], h)  # (T, h) broadcast over B
        h = self.norm(h)  # BERT embeddings end in a LayerNorm too
        for block in self.blocks:
            h = block(h)
        return self.out_proj(h)  # (B, T, d_out)
