"""The paper's default hypernetwork block: one BERT layer (post-LN self-attention + feed-forward), on SDPA."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BertBlock(nn.Module):
    """x ← LN(x + Attn(x)); x ← LN(x + FFN(x)), as in transformers' BertLayer, with fused attention.

    Eq. (8) of the paper: every token (a row of P, a column of Q, a singular value) is updated from all
    tokens of its matrix, p_i' = Σ_j softmax(q_i·k_j / √d) v_j.
    """

    def __init__(self, hidden: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.norm1 = nn.LayerNorm(hidden)
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        p = self.dropout if self.training else 0.0
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # 3 × (B, nh, T, hs)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # (B, nh, T, hs)
        a = a.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        x = self.norm1(x + F.dropout(self.attn_out(a), p, self.training))
        f = self.ffn_out(F.gelu(self.ffn_in(x)))  # (B, T, C)
        return self.norm2(x + F.dropout(f, p, self.training))
