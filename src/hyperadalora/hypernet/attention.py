"""The paper's default hypernetwork block: one BERT layer (post-LN self-attention + feed-forward), on SDPA."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BertBlock(nn.Module):
    """x ← LN(x + Attn(x)); x ← LN(x + FFN(x)), as in transformers' BertLayer, with fused attention.

    Eq. (8) of the paper: every token (a row of P, a column of Q, a singular value) is updated from all
    tokens of its matrix, p_i' = Σ_j softmax(q_i·k_j / √d) v_j. With `block` set, tokens attend only within
    consecutive blocks of that many tokens: O(T·block) instead of O(T²) (an option, docs/method.md).
    """

    def __init__(self, hidden: int, heads: int, ffn: int, dropout: float, block: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.block = block
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.norm1 = nn.LayerNorm(hidden)
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.dropout = dropout

    def attend(self, x: torch.Tensor, p: float) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # 3 × (B, nh, T, hs)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # (B, nh, T, hs)
        return a.transpose(1, 2).reshape(B, T, C)  # (B, T, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        p = self.dropout if self.training else 0.0
        if self.block is None or T <= self.block or T % self.block:
            a = self.attend(x, p)  # every token sees every token of its matrix
        else:
            a = self.attend(x.reshape(B * T // self.block, self.block, C), p).reshape(B, T, C)  # blocks as batch
        x = self.norm1(x + F.dropout(self.attn_out(a), p, self.training))
        f = self.ffn_out(F.gelu(self.ffn_in(x)))  # (B, T, C)
        return self.norm2(x + F.dropout(f, p, self.training))
