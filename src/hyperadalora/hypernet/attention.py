"""The paper's default hypernetwork block: one BERT layer (post-LN self-attention + feed-forward), on SDPA."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# attention_block="auto" (the default): a sequence of at most AUTO_FULL_MAX tokens (the rows of P or the columns
# of Q of one matrix) gets attention over all of them (eq. 8); a longer one attends within blocks of about
# AUTO_BLOCK tokens. From benchmarks/results/attention_switch.md (docs/method.md, "Cost"): per token, full
# attention costs 1.5x blocks of 128 at 256 tokens, 1.9x at 512, 3.8x at 1,536 and 27x at 14,336, so blocks pay
# from the first length that holds two of them; a matrix of at most 256 rows is one or two blocks' worth and keeps
# eq. 8. b = 128 learns as well as full attention on SST-2 (3 seeds each, docs/results.md).
AUTO_FULL_MAX = 256
AUTO_BLOCK = 128

Block = int | str | None  # a positive integer b, None / "full" (every token of the matrix), or "auto"


def auto_block(length: int) -> int:
    """The block size "auto" uses for a sequence above AUTO_FULL_MAX: the divisor of `length` in
    [AUTO_BLOCK/2, 2·AUTO_BLOCK] closest to AUTO_BLOCK (ties: the smaller), else AUTO_BLOCK itself, the last
    block then taking the remainder (between AUTO_BLOCK and 2·AUTO_BLOCK − 1 tokens)."""
    divisors = [b for b in range(AUTO_BLOCK // 2, 2 * AUTO_BLOCK + 1) if length % b == 0]
    return min(divisors, key=lambda b: (abs(b - AUTO_BLOCK), b)) if divisors else AUTO_BLOCK


def attention_span(block: Block, length: int) -> int | None:
    """The block size the tokens of a `length`-token sequence attend within, or None for all of them.

    None / "full": all of them. An integer b: blocks of b where b divides the length and is shorter than it, all
    of them otherwise (the option's meaning since 0.2). "auto": all of them up to AUTO_FULL_MAX tokens, blocks of
    `auto_block(length)` above.
    """
    if block is None or block == "full":
        return None
    if block == "auto":
        return None if length <= AUTO_FULL_MAX else auto_block(length)
    return block if length > block and length % block == 0 else None


class BertBlock(nn.Module):
    """x ← LN(x + Attn(x)); x ← LN(x + FFN(x)), as in transformers' BertLayer, with fused attention.

    Eq. (8) of the paper: every token (a row of P, a column of Q, a singular value) is updated from all
    tokens of its matrix, p_i' = Σ_j softmax(q_i·k_j / √d) v_j. With `block` an integer, tokens attend only within
    consecutive blocks of that many tokens: O(T·block) instead of O(T²); with "auto", all tokens of a short
    matrix and blocks in a long one (`attention_span`; docs/method.md, "Cost").
    """

    def __init__(self, hidden: int, heads: int, ffn: int, dropout: float, block: Block = None) -> None:
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
        span = attention_span(self.block, T)
        if span is None:
            a = self.attend(x, p)  # every token sees every token of its matrix
        elif T % span == 0:
            a = self.attend(x.reshape(B * T // span, span, C), p).reshape(B, T, C)  # blocks as batch
        else:  # "auto" on a length without a divisor near AUTO_BLOCK: the last block takes the remainder
            cut = (T // span - 1) * span
            head = self.attend(x[:, :cut].reshape(B * cut // span, span, C), p).reshape(B, cut, C)
            a = torch.cat([head, self.attend(x[:, cut:], p)], dim=1)
        x = self.norm1(x + F.dropout(self.attn_out(a), p, self.training))
        f = self.ffn_out(F.gelu(self.ffn_in(x)))  # (B, T, C)
        return self.norm2(x + F.dropout(f, p, self.training))
