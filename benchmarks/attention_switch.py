"""Where attention over every row stops paying: the attention hypernetwork alone, full vs block-local, vs length.

One hypernetwork of the default rule (the attention kind, h = 32, 2 heads, FFN 128, one block; tokens of the
gradient rule, r = 3 · 4 features in, r · 2 outputs), forward + backward (the backward of a weighted sum of its
outputs, as the hypernetwork's gradient in a step), on one torch thread. For each sequence length T (the rows of
P or the columns of Q of one matrix) the batch holds max(1, TOKENS // T) matrices, so every cell times about the
same number of tokens; the cell is the median time per token over the repeats. Full attention is O(T) per token,
block-local attention over blocks of b tokens O(b): the table gives the ratio full / block and the share of the
step that attention is (full attention minus the MLP-kind hypernetwork of the same frame, whose tokens see
nothing). `attention_block="auto"` switches at the length this table shows (docs/method.md, "Cost").

    python benchmarks/attention_switch.py --out benchmarks/results/attention_switch.json \
        --md benchmarks/results/attention_switch.md
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from hyperadalora.generation.gradient import FEATURES, OUTPUTS
from hyperadalora.hypernet import build_hypernet

LENGTHS = (128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 14336)
BLOCKS = (64, 128, 256, 512)
R = 3
TOKENS = 8192


def net_of(kind: str, block: int | None) -> nn.Module:
    torch.manual_seed(0)
    net = build_hypernet(kind, R * FEATURES, R * OUTPUTS, hidden=32, heads=2, layers=1, ffn=128, dropout=0.0,
                         position_encoding=True, attention_block=block)
    nn.init.normal_(net.out_proj.weight, std=0.02)  # a trained net: the backward runs through every block
    return net


def seconds_per_token(net: nn.Module, T: int, repeats: int) -> tuple[float, float]:
    """(median, min) seconds per token of forward + backward over a batch of max(1, TOKENS // T) matrices."""
    B = max(1, TOKENS // T)
    x = torch.randn(B, T, net.in_proj.in_features)
    w = torch.randn(B, T, net.out_proj.out_features)
    times = []
    for i in range(repeats + 1):
        net.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        (net(x) * w).sum().backward()
        if i:  # the first call warms the kernels and the position-code cache
            times.append((time.perf_counter() - t0) / (B * T))
    return statistics.median(times), min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--blocks", type=int, nargs="+", default=list(BLOCKS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    parser.add_argument("--md", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for T in args.lengths:
        row: dict = {"length": T}
        row["full"] = seconds_per_token(net_of("attention", None), T, args.repeats)
        row["mlp"] = seconds_per_token(net_of("mlp", None), T, args.repeats)
        for b in args.blocks:
            if T > b and T % b == 0:  # the block path runs only where b divides T (else it is full attention)
                row[f"block={b}"] = seconds_per_token(net_of("attention", b), T, args.repeats)
        rows.append(row)
        print(" ".join(f"{k}={v[0] * 1e6:.2f}us" if isinstance(v, tuple) else f"T={v}" for k, v in row.items()),
              flush=True)
    result = {"command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
              "machine": platform.processor() or platform.machine(), "threads": args.threads, "rank": R,
              "tokens_per_cell": TOKENS, "repeats": args.repeats, "torch": torch.__version__,
              "unit": "seconds per token, (median, min) over repeats", "rows": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    text = render(result, args.blocks)
    print(text)
    if args.md:
        Path(args.md).write_text(text)
    return 0


def render(result: dict, blocks: list[int]) -> str:
    lines = ["# Full vs block-local attention in the hypernetwork, per token\n",
             f"`{result['command']}` ({result['date']}, {result['machine']}, {result['threads']} thread, torch "
             f"{result['torch']}). Forward + backward of one attention hypernetwork (h = 32, 2 heads, FFN 128, one "
             f"block, r = {result['rank']}), about {result['tokens_per_cell']:,} tokens per cell, median over "
             f"{result['repeats']} repeats, µs per token. `full / b=…`: full attention's time over block-local's; "
             "`attention share`: (full − MLP-kind) / full, the part of the hypernetwork's time that attention over "
             "all rows is. '–': b does not divide T (or T ≤ b).\n",
             "| T | full | MLP kind | " + " | ".join(f"b={b}" for b in blocks) + " | "
             + " | ".join(f"full / b={b}" for b in blocks) + " | attention share |",
             "|---|---|---|" + "---|" * (2 * len(blocks)) + "---|"]
    for row in result["rows"]:
        full, mlp = row["full"][0], row["mlp"][0]
        cells = [f"{row[f'block={b}'][0] * 1e6:.2f}" if f"block={b}" in row else "–" for b in blocks]
        ratios = [f"{full / row[f'block={b}'][0]:.2f}" if f"block={b}" in row else "–" for b in blocks]
        lines.append(f"| {row['length']:,} | {full * 1e6:.2f} | {mlp * 1e6:.2f} | " + " | ".join(cells) + " | "
                     + " | ".join(ratios) + f" | {max(0.0, (full - mlp) / full):.0%} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
