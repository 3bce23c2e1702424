"""Hypernetworks that map a matrix's tokens to per-token outputs; `build_hypernet` picks the kind."""

from __future__ import annotations

from torch import nn

from .attention import AUTO_BLOCK, AUTO_FULL_MAX, BertBlock, Block, attention_span
from .base import Hypernet
from .cnn import ConvBlock
from .mlp import MlpBlock

__all__ = ["AUTO_BLOCK", "AUTO_FULL_MAX", "Hypernet", "attention_span", "build_hypernet"]


def build_hypernet(kind: str, in_dim: int, out_dim: int, hidden: int, heads: int, layers: int, ffn: int,
                   dropout: float, position_encoding: bool, attention_block: Block = None) -> Hypernet:
    """One hypernetwork of `kind` ('attention', 'mlp' or 'cnn') from tokens of width `in_dim` to `out_dim`."""
    if kind == "attention":
        blocks = [BertBlock(hidden, heads, ffn, dropout, attention_block) for _ in range(layers)]
    elif kind == "mlp":
        blocks = [MlpBlock(hidden, ffn, dropout) for _ in range(layers)]
    elif kind == "cnn":
        blocks = [ConvBlock(hidden, ffn, dropout) for _ in range(layers)]
    else:
        raise ValueError(f"hypernet: unknown kind {kind!r}; choose one of attention, mlp, cnn")
    return Hypernet(in_dim, out_dim, hidden, nn.ModuleList(blocks), position_encoding)
