"""Will the default scale? A measured cost model of HyperAdaLoRA's hypernetworks at the paper's 8B shapes.

No GPU and no 8B weights here, so the parts are measured one at a time on this CPU and added up:

1. The adapted matrices of LLaMA-3.1-8B and Qwen2.5-7B (every q/k/v/o/gate/up/down projection, r = 3, the paper's
   rank), from the real configs built on the meta device: the shape groups the hypernetworks see.
2. The hypernetworks of the default rule (generation="gradient", the attention kind, h = 32) on real tensors:
   forward + backward time and the bytes they keep for the backward (saved-tensor hooks: exact), for ONE matrix of
   every distinct sequence length; a group of n matrices is n independent sequences, so its cost is n × that
   (the linear extrapolation is the model, stated as such). Also with `hypernet_checkpointing` and with
   `attention_block` (block-local attention, O(T·b) instead of O(T²)).
3. The base model's step: one decoder layer's forward + input-gradient backward (frozen weights) at batch 1 and a
   short sequence on this CPU, scaled linearly to sequence 512 and to the layer count, plus the LM head; and,
   for a GPU, an analytic FLOP count (forward 2·P·tokens + backward 2·P·tokens for input gradients only, plus
   attention), stated as an estimate.
4. Predicted step-time ratios HyperAdaLoRA / AdaLoRA for batch 1–32 at sequence 512: (base + H) / base, where H
   (the hypernetworks) does not grow with the batch; and memory: the hypernetworks' saved activations against
   AdaLoRA's adapter + Adam memory.

    python benchmarks/cost_model_8b.py --out benchmarks/results/cost_model_8b.json --md benchmarks/results/cost_model_8b.md
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

from hyperadalora import HyperAdaLoraConfig, HyperAdaLoraModel
from hyperadalora.bench.models import LLAMA_3_1_8B, QWEN2_5_7B
from hyperadalora.generation.gradient import FEATURES, OUTPUTS
from hyperadalora.hypernet import build_hypernet

MODELS = {"llama-3.1-8b": ("llama", LLAMA_3_1_8B), "qwen2.5-7b": ("qwen2", QWEN2_5_7B)}
SEQ = 512
BATCHES = (1, 2, 4, 8, 16, 32)
R = 3


def build_meta(kind: str, fields: dict):
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    config = (LlamaConfig if kind == "llama" else Qwen2Config)(**fields)
    with torch.device("meta"):
        base = AutoModelForCausalLM.from_config(config)
    return config, base


def groups_of(base: nn.Module) -> list[dict]:
    """The shape groups of the default targets (every projection), from the model on the meta device."""
    model = HyperAdaLoraModel(base, HyperAdaLoraConfig(init_r=R, target_r=2))
    out = []
    for g in model.groups:
        n = len(g.modules)
        out.append({"name": g.name, "kind": g.kind, "matrices": 1 if g.kind == "lam" else n,
                    "tokens_per_matrix": n * R if g.kind == "lam" else g.dim})
    entries = sum(g["matrices"] * g["tokens_per_matrix"] * (1 if g["kind"] == "lam" else R) for g in out)
    return out, entries, len(model.adapters)


def saved_bytes_and_time(net: nn.Module, tokens: torch.Tensor, checkpointing: bool, repeats: int) -> tuple[int, float]:
    """Bytes the autograd graph keeps between forward and backward, and the median forward + backward seconds."""
    from torch.utils.checkpoint import checkpoint

    def forward():
        return checkpoint(net, tokens, use_reentrant=False) if checkpointing else net(tokens)

    saved = 0

    def pack(t):
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = forward()
    weight = torch.randn_like(out)
    (out * weight).sum().backward()
    times = []
    for _ in range(repeats):
        net.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        (forward() * weight).sum().backward()
        times.append(time.perf_counter() - t0)
    return saved, statistics.median(times)


def hypernet_cost(groups: list[dict], variant: dict, repeats: int) -> dict:
    """Measured per-matrix cost of every distinct sequence length, times the number of matrices."""
    torch.manual_seed(0)
    per_len: dict[tuple[str, int], tuple[int, float]] = {}
    nets = {}
    for kind in ("P", "Q", "lam"):
        d_in, d_out = (FEATURES, OUTPUTS) if kind == "lam" else (R * FEATURES, R * OUTPUTS)
        nets[kind] = build_hypernet("attention", d_in, d_out, hidden=32, heads=2, layers=1, ffn=128, dropout=0.0,
                                    position_encoding=True,
                                    attention_block=None if kind == "lam" else variant.get("attention_block"))
        nn.init.normal_(nets[kind].out_proj.weight, std=0.02)
    total_s, total_bytes, rows = 0.0, 0, []
    for g in groups:
        key = (g["kind"] if g["kind"] == "lam" else "PQ", g["tokens_per_matrix"])
        net = nets[g["kind"]]
        if key not in per_len:
            tokens = torch.randn(1, g["tokens_per_matrix"], net.in_proj.in_features)
            per_len[key] = saved_bytes_and_time(net, tokens, variant.get("checkpointing", False), repeats)
        b, s = per_len[key]
        total_s += s * g["matrices"]
        total_bytes += b * g["matrices"]
        rows.append({**g, "seconds_per_matrix": s, "saved_bytes_per_matrix": b})
    return {"seconds": total_s, "saved_bytes": total_bytes, "groups": rows}


def hypernet_flops(groups: list[dict], block: int | None) -> float:
    """Forward + backward FLOPs of the default hypernetworks (3× the forward's multiply-adds × 2)."""
    h, ffn = 32, 128
    total = 0.0
    for g in groups:
        T, n = g["tokens_per_matrix"], g["matrices"]
        d_in, d_out = (FEATURES, OUTPUTS) if g["kind"] == "lam" else (R * FEATURES, R * OUTPUTS)
        per_token = d_in * h + 3 * h * h + h * h + 2 * h * ffn + h * d_out  # projections and FFN
        span = T if (block is None or g["kind"] == "lam" or T <= block) else block
        attn = 2 * T * span * h  # scores and weighted sum
        total += n * (T * per_token + attn)
    return 3 * 2 * total


def base_cpu_seconds(kind: str, config, seq: int, repeats: int) -> float:
    """One decoder layer, frozen weights, input needs grad: forward + backward at batch 1, this CPU."""
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaRotaryEmbedding
    from transformers.models.qwen2.modeling_qwen2 import Qwen2DecoderLayer, Qwen2RotaryEmbedding

    layer_cls, rope_cls = (LlamaDecoderLayer, LlamaRotaryEmbedding) if kind == "llama" else (Qwen2DecoderLayer, Qwen2RotaryEmbedding)
    config._attn_implementation = "sdpa"
    layer = layer_cls(config, 0).requires_grad_(False)
    rope = rope_cls(config)
    x = torch.randn(1, seq, config.hidden_size, requires_grad=True)
    pos = torch.arange(seq)[None]
    emb = rope(x, pos)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        out = layer(x, position_embeddings=emb, position_ids=pos)
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()
        times.append(time.perf_counter() - t0)
        x.grad = None
    del layer
    return statistics.median(times[1:])


def head_cpu_seconds(config, seq: int, repeats: int) -> float:
    head = nn.Linear(config.hidden_size, config.vocab_size, bias=False).requires_grad_(False)
    x = torch.randn(1, seq, config.hidden_size, requires_grad=True)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        head(x).logsumexp(-1).sum().backward()
        times.append(time.perf_counter() - t0)
        x.grad = None
    return statistics.median(times[1:])


def base_flops(config, tokens: int) -> float:
    """Forward 2·P·tokens plus backward for input gradients only 2·P·tokens (frozen base), plus attention."""
    h, inter, L, V = config.hidden_size, config.intermediate_size, config.num_hidden_layers, config.vocab_size
    kv = config.num_key_value_heads * (h // config.num_attention_heads)
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * inter  # q, o, k, v, gate, up, down weights
    params = L * per_layer + h * V  # the LM head; embeddings are a lookup
    attn = L * 2 * 2 * SEQ * h * (tokens // SEQ) * SEQ  # QKᵀ and AV, forward
    return 2 * (2 * params * tokens + attn)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--base-seq", type=int, default=64, help="sequence of the measured decoder layer (scaled to 512)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--md", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variants = {"default": {}, "hypernet_checkpointing": {"checkpointing": True},
                "attention_block=256": {"attention_block": 256}}
    result = {"command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
              "machine": platform.processor() or platform.machine(), "threads": args.threads, "seq": SEQ,
              "rank": R, "models": {}}
    for name in args.models:
        kind, fields = MODELS[name]
        config, base = build_meta(kind, fields)
        groups, entries, n_modules = groups_of(base)
        del base
        hyper = {v: hypernet_cost(groups, spec, args.repeats) for v, spec in variants.items()}
        layer_s = base_cpu_seconds(kind, config, args.base_seq, args.repeats)
        head_s = head_cpu_seconds(config, args.base_seq, args.repeats)
        base1_cpu = (layer_s * config.num_hidden_layers + head_s) * SEQ / args.base_seq  # batch 1, seq 512
        adalora_bytes = entries * 4 * 4  # fp32 P, Λ, Q + gradient + Adam's two moments
        ours_state_bytes = entries * 4 * 7  # S, last gradient, two moments, accumulator, generated value and its grad
        entry = {
            "adapted_modules": n_modules, "state_entries": entries, "groups": hyper["default"]["groups"],
            "total_tokens": sum(g["matrices"] * g["tokens_per_matrix"] for g in groups),
            "adalora_adapter_and_adam_bytes": adalora_bytes, "hyperadalora_state_bytes": ours_state_bytes,
            "base_layer_cpu_seconds_at_seq": {"seq": args.base_seq, "layer": layer_s, "head": head_s},
            "base_step_cpu_seconds_batch1_seq512": base1_cpu,
            "variants": {},
        }
        for v, h in hyper.items():
            flops = hypernet_flops(groups, variants[v].get("attention_block"))
            cpu = {b: (base1_cpu * b + h["seconds"]) / (base1_cpu * b) for b in BATCHES}
            gpu = {b: (base_flops(config, b * SEQ) + flops) / base_flops(config, b * SEQ) for b in BATCHES}
            entry["variants"][v] = {
                "hypernet_cpu_seconds": h["seconds"], "hypernet_saved_bytes": h["saved_bytes"],
                "hypernet_flops": flops, "predicted_ratio_cpu": cpu, "predicted_ratio_gpu_flops": gpu,
                "memory_vs_adalora_adapter_and_adam": (h["saved_bytes"] + ours_state_bytes) / adalora_bytes,
            }
        result["models"][name] = entry
        print(f"{name}: {n_modules} modules, {entries:,} state entries, {entry['total_tokens']:,} tokens", flush=True)
        for v, e in entry["variants"].items():
            print(f"  {v:>24}: hypernets {e['hypernet_cpu_seconds']:.1f} s CPU, {e['hypernet_saved_bytes'] / 2**30:.2f} GiB "
                  f"saved; ratio b=1 CPU {e['predicted_ratio_cpu'][1]:.2f} / GPU-FLOPs {e['predicted_ratio_gpu_flops'][1]:.3f}; "
                  f"b=32 CPU {e['predicted_ratio_cpu'][32]:.3f} / GPU-FLOPs {e['predicted_ratio_gpu_flops'][32]:.4f}", flush=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if args.md:
        Path(args.md).write_text(render(result))
    return 0


def render(result: dict) -> str:
    lines = ["# Cost model at the paper's 8B shapes\n", f"`{result['command']}` ({result['date']}, {result['machine']}, "
             f"{result['threads']} thread). Measured per matrix on this CPU and summed; base step from one measured "
             "decoder layer scaled to 32/28 layers and sequence 512; GPU column from FLOP counts (an estimate).\n"]
    for name, m in result["models"].items():
        lines += [f"## {name}\n", f"{m['adapted_modules']} adapted matrices, {m['state_entries']:,} state entries, "
                  f"{m['total_tokens']:,} hypernetwork tokens per step. AdaLoRA's adapters + Adam: "
                  f"{m['adalora_adapter_and_adam_bytes'] / 2**20:.0f} MiB; HyperAdaLoRA's state: "
                  f"{m['hyperadalora_state_bytes'] / 2**20:.0f} MiB. Base step (batch 1, seq 512) on this CPU: "
                  f"{m['base_step_cpu_seconds_batch1_seq512']:.0f} s.\n",
                  "| variant | hypernets fwd+bwd (CPU s) | saved activations (GiB) | memory / AdaLoRA's adapter+Adam | "
                  + " | ".join(f"ratio b={b} CPU / GPU" for b in (1, 8, 32)) + " |",
                  "|---|---|---|---|" + "---|" * 3]
        for v, e in m["variants"].items():
            cells = " | ".join(f"{e['predicted_ratio_cpu'][b]:.3f} / {e['predicted_ratio_gpu_flops'][b]:.4f}" for b in (1, 8, 32))
            lines.append(f"| {v} | {e['hypernet_cpu_seconds']:.1f} | {e['hypernet_saved_bytes'] / 2**30:.2f} | "
                         f"{e['memory_vs_adalora_adapter_and_adam']:.1f} | {cells} |")
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
