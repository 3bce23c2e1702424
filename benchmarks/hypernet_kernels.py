"""Issue #19's kernel levers for the hypernetworks on this CPU, measured side by side in one process: SDPA's flash
kernel against its math kernel (blocks of 128 and full attention, 2 heads of 16), and the default hypernetwork
(attention kind, h = 32, FFN 128, blocks above 256 rows) eager against torch.compile and against bf16 autocast, on
MiniLM's P groups (62 matrices of 384 rows and 6 of 1,536: what H_P reads per step). Forward + backward, one thread,
median of 7 after a warm-up.

    python benchmarks/hypernet_kernels.py --out benchmarks/results/hypernet_kernels.json --md benchmarks/results/hypernet_kernels.md
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
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from hyperadalora.hypernet import build_hypernet


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def attention_kernels(repeats: int) -> list[dict]:
    rows = []
    for T, block in ((384, 128), (1536, 128), (384, None), (1536, None)):
        x = torch.randn(16_384 // T, T, 32, requires_grad=True)  # ≈ 16k tokens, hidden 32

        def run(backend, x=x, block=block):
            def step():
                xb = x.reshape(-1, block, 32) if block else x
                B, L, _ = xb.shape
                q = k = v = xb.view(B, L, 2, 16).transpose(1, 2)  # (B, heads, L, 16)
                with sdpa_kernel(backend):
                    F.scaled_dot_product_attention(q, k, v).sum().backward()
            return step

        flash, math_ = (median_ms(run(b), repeats) for b in (SDPBackend.FLASH_ATTENTION, SDPBackend.MATH))
        rows.append({"rows": T, "block": block, "tokens": x.shape[0] * T, "flash_ms": flash, "math_ms": math_})
    return rows


def hypernet_variants(repeats: int) -> dict:
    torch.manual_seed(0)
    net = build_hypernet("attention", 12, 6, 32, 2, 1, 128, 0.0, True, attention_block="auto")
    torch.nn.init.normal_(net.out_proj.weight, std=0.02)
    xs = [torch.randn(62, 384, 12), torch.randn(6, 1536, 12)]

    def run(f):
        return lambda: [f(x).float().sum().backward() for x in xs]

    def bf16(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return net(x)

    t0 = time.perf_counter()
    compiled = torch.compile(net)
    run(compiled)()
    compile_s = time.perf_counter() - t0
    out = {"compile_seconds": compile_s, "rounds": []}
    for _ in range(2):  # interleaved rounds: drift hits each variant alike
        out["rounds"].append({"eager_ms": median_ms(run(net), repeats), "compiled_ms": median_ms(run(compiled), repeats),
                              "bf16_autocast_ms": median_ms(run(bf16), repeats)})
    return out


def render(result: dict) -> str:
    lines = ["# Hypernetwork kernels on this CPU (issue #19)", "", f"`{result['command']}` ({result['date']}, "
             f"{result['machine']}, 1 thread). Forward + backward, median of {result['repeats']}.", "",
             "| rows per matrix | attention | tokens | SDPA flash (ms) | SDPA math (ms) | math / flash |", "|---|---|---|---|---|---|"]
    for r in result["attention"]:
        lines.append(f"| {r['rows']} | {'blocks of ' + str(r['block']) if r['block'] else 'full (eq. 8)'} | "
                     f"{r['tokens']:,} | {r['flash_ms']:.1f} | {r['math_ms']:.1f} | {r['math_ms'] / r['flash_ms']:.2f} |")
    h = result["hypernet"]
    lines += ["", f"The default hypernetwork on MiniLM's P groups (torch.compile: {h['compile_seconds']:.0f} s to compile):", "",
              "| round | eager (ms) | torch.compile (ms) | bf16 autocast (ms) | compiled / eager | bf16 / eager |",
              "|---|---|---|---|---|---|"]
    for i, r in enumerate(h["rounds"], 1):
        lines.append(f"| {i} | {r['eager_ms']:.1f} | {r['compiled_ms']:.1f} | {r['bf16_autocast_ms']:.1f} | "
                     f"{r['compiled_ms'] / r['eager_ms']:.2f} | {r['bf16_autocast_ms'] / r['eager_ms']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", required=True)
    p.add_argument("--md", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    result = {"command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
              "machine": platform.processor() or platform.machine(), "repeats": args.repeats, "torch": torch.__version__,
              "attention": attention_kernels(args.repeats), "hypernet": hypernet_variants(args.repeats)}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if args.md:
        Path(args.md).write_text(render(result))
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
