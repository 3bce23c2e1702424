"""Will the default scale? A measured cost model of HyperAdaLoRA's hypernetworks at the paper's 8B shapes.

No GPU and no 8B weights here, so the parts are measured one at a time on this CPU and added up:

1. The adapted matrices of LLaMA-3.1-8B and Qwen2.5-7B (every q/k/v/o/gate/up/down projection, r = 3, the paper's
   rank), from the real configs built on the meta device: the shape groups the hypernetworks see.
2. The hypernetworks of the default rule (generation="gradient", the attention kind, h = 32) on real tensors:
   forward + backward time and the bytes they keep for the backward (saved-tensor hooks, each storage counted
   once, their own weights not counted), for ONE matrix of every distinct sequence length; a group of n matrices
   is n independent sequences, so its cost is n × that (the linear extrapolation is the model, stated as such).
   Variants: the default `attention_block="auto"` (full attention up to 256 rows, blocks of 128 above) and full
   attention over every row (eq. 8, 0.2's default), each with and without `hypernet_checkpointing` (whose GPU
   FLOPs count the recompute: one more forward); 0.3's "auto" checkpointing is on at these shapes.
3. The base model's step: one decoder layer's forward + input-gradient backward (frozen weights) at batch 1 and a
   short sequence on this CPU, scaled linearly to sequence 512 and to the layer count, plus the LM head; and,
   for a GPU, an analytic FLOP count (forward 2·P·tokens + backward 2·P·tokens for input gradients only, plus
   attention), stated as an estimate.
4. Predicted step-time ratios HyperAdaLoRA / AdaLoRA for batch 1–32 at sequence 512: (base + H) / base, where H
   (the hypernetworks) does not grow with the batch.
5. Predicted peak memory of a training step, AdaLoRA's and HyperAdaLoRA's, at batch 1 and 8, sequence 512, as the
   paper's users run them: frozen weights in bf16 (counted from the meta model), adapters, hypernetworks and
   optimizer state in fp32 (peft's autocast_adapter_dtype; HyperAdaLoRA builds its state and hypernetworks in
   fp32). Peak = frozen weights + the step's saved activations + adapter state + hypernetworks' saved tensors,
   summed as if all were resident at once (the end of the forward, when every saved tensor is alive); transient
   buffers of the backward are left out, the same for both methods except the one chunk the checkpointed
   hypernetworks recompute, which is added. The activations: the saved tensors of one bf16 decoder layer with
   rank-3 fp32 adapters on its seven projections (both methods' adapter path: the input cast to fp32 and the r-wide
   intermediate), measured at the short sequence and scaled linearly to 512 × batch × layers (attention saves
   O(sequence), as SDPA's flash kernels), plus the LM head and its fp32 cross-entropy, measured the same way.
   AdaLoRA's adapter state: P, Λ, Q, their gradients, Adam's two moments and peft's RankAllocator's three EMAs
   (ipt, exp_avg_ipt, exp_avg_unc): 7 floats per entry. HyperAdaLoRA's: S, the last gradient, two moments, the
   accumulator, the generated value and its gradient (7 floats per entry), the gradient rule's elementwise graph
   (the outputs of tanh, exp, tanh, the turn and the normalised step and gradient it multiplies: 6 floats per
   entry, counted from generation/gradient.py), and the hypernetworks' weights with gradient and Adam moments.

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
from hyperadalora.generation.rule import CHECKPOINT_TOKENS
from hyperadalora.hypernet import attention_span, build_hypernet

MODELS = {"llama-3.1-8b": ("llama", LLAMA_3_1_8B), "qwen2.5-7b": ("qwen2", QWEN2_5_7B)}
SEQ = 512
BATCHES = (1, 2, 4, 8, 16, 32)
MEMORY_BATCHES = (1, 8)
R = 3
HIDDEN, HEADS, FFN = 32, 2, 128  # the default hypernetworks
VARIANTS = {  # name -> (attention_block, hypernet_checkpointing); "auto" checkpointing is on at these shapes
    "default (0.3): blocks above 256 rows, checkpointing": ("auto", True),
    "blocks above 256 rows, no checkpointing": ("auto", False),
    "full attention (eq. 8), no checkpointing (0.2's default)": (None, False),
    "full attention + checkpointing": (None, True),
}
# Measured at full size, every entry and token at once (the others per matrix only: full attention takes minutes)
OWN_WORK_VARIANTS = ("default (0.3): blocks above 256 rows, checkpointing", "blocks above 256 rows, no checkpointing")
ADALORA_FLOATS_PER_ENTRY = 7  # P/Λ/Q, gradient, Adam m and v, RankAllocator ipt, exp_avg_ipt, exp_avg_unc
OURS_STATE_FLOATS_PER_ENTRY = 7  # S, last gradient, m, v, accumulator, generated value, its gradient
OURS_GRAPH_FLOATS_PER_ENTRY = 6  # saved by the gradient rule's elementwise ops (tanh, exp, tanh, α, m̂/d, g/d)


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
    shapes = [(a.base_layer.out_features, a.base_layer.in_features) for a in model.adapters]
    return out, entries, len(model.adapters), model.groups, shapes


class SavedBytes:
    """Bytes autograd keeps for the backward inside the context: every saved storage once, parameters excluded
    (the frozen weights are counted apart, and a hypernetwork's weights are a few KB)."""

    def __init__(self, exclude: nn.Module | None = None) -> None:
        self.skip = {p.untyped_storage().data_ptr() for p in exclude.parameters()} if exclude is not None else set()
        self.seen: set[int] = set()
        self.bytes = 0

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key not in self.skip and key not in self.seen:
            self.seen.add(key)
            self.bytes += storage.nbytes()
        return t

    def __enter__(self) -> SavedBytes:
        self.hooks = torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)
        self.hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.hooks.__exit__(*exc)


def saved_bytes_and_time(net: nn.Module, tokens: torch.Tensor, checkpointing: bool, repeats: int) -> tuple[int, float]:
    """Bytes the autograd graph keeps between forward and backward, and the median forward + backward seconds."""
    from torch.utils.checkpoint import checkpoint

    def forward():
        return checkpoint(net, tokens, use_reentrant=False) if checkpointing else net(tokens)

    with SavedBytes(net) as saved:
        out = forward()
    weight = torch.randn_like(out)
    (out * weight).sum().backward()
    times = []
    for _ in range(repeats):
        net.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        (forward() * weight).sum().backward()
        times.append(time.perf_counter() - t0)
    return saved.bytes, statistics.median(times) if times else 0.0


def build_nets(block) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    nets = {}
    for kind in ("P", "Q", "lam"):
        d_in, d_out = (FEATURES, OUTPUTS) if kind == "lam" else (R * FEATURES, R * OUTPUTS)
        nets[kind] = build_hypernet("attention", d_in, d_out, hidden=HIDDEN, heads=HEADS, layers=1, ffn=FFN,
                                    dropout=0.0, position_encoding=True,
                                    attention_block=None if kind == "lam" else block)  # H_Λ: always full
        nn.init.normal_(nets[kind].out_proj.weight, std=0.02)
    return nets


def hypernet_cost(groups: list[dict], block, checkpointing: bool, repeats: int) -> dict:
    """Measured per-matrix cost of every distinct sequence length, times the number of matrices. With
    checkpointing, also the transient of the backward: the activations of the largest recomputed chunk."""
    per_len: dict[tuple[str, int], tuple[int, float]] = {}
    nets = build_nets(block)
    total_s, total_bytes, chunk_bytes, rows = 0.0, 0, 0, []
    for g in groups:
        key = (g["kind"] if g["kind"] == "lam" else "PQ", g["tokens_per_matrix"])
        net = nets[g["kind"]]
        if key not in per_len:
            tokens = torch.randn(1, g["tokens_per_matrix"], net.in_proj.in_features)
            per_len[key] = saved_bytes_and_time(net, tokens, checkpointing, repeats)
            if checkpointing:  # one matrix's activations, as the recompute holds them
                per_len[key] += (saved_bytes_and_time(net, tokens, False, 0)[0],)
        b, s = per_len[key][:2]
        total_s += s * g["matrices"]
        total_bytes += b * g["matrices"]
        if checkpointing:
            per_chunk = min(g["matrices"], max(1, CHECKPOINT_TOKENS // g["tokens_per_matrix"]))  # run_hypernet's chunks
            chunk_bytes = max(chunk_bytes, per_len[key][2] * per_chunk)
        rows.append({**g, "attention_span": None if g["kind"] == "lam" else attention_span(block, g["tokens_per_matrix"]),
                     "seconds_per_matrix": s, "saved_bytes_per_matrix": b})
    params = sum(p.numel() for n in nets.values() for p in n.parameters())
    return {"seconds": total_s, "saved_bytes": total_bytes, "recompute_chunk_bytes": chunk_bytes,
            "hypernet_params": params, "groups": rows}


def hypernet_flops(groups: list[dict], block) -> float:
    """Forward + backward FLOPs of the default hypernetworks (3× the forward's multiply-adds × 2)."""
    h, ffn = HIDDEN, FFN
    total = 0.0
    for g in groups:
        T, n = g["tokens_per_matrix"], g["matrices"]
        d_in, d_out = (FEATURES, OUTPUTS) if g["kind"] == "lam" else (R * FEATURES, R * OUTPUTS)
        per_token = d_in * h + 3 * h * h + h * h + 2 * h * ffn + h * d_out  # projections and FFN
        span = (None if g["kind"] == "lam" else attention_span(block, T)) or T
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


class _LowRank(nn.Module):
    """A frozen bf16 projection plus a rank-r fp32 adapter, the path both methods' adapters take: the input cast to
    the adapter's dtype, times Qᵀ (saved for Q's gradient), the r-wide intermediate (saved), times Pᵀ."""

    def __init__(self, base: nn.Linear, r: int) -> None:
        super().__init__()
        self.base = base
        self.Q = nn.Parameter(torch.randn(r, base.in_features) * 0.02)
        self.P = nn.Parameter(torch.randn(base.out_features, r) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + ((x.to(self.Q.dtype) @ self.Q.T) @ self.P.T).to(x.dtype)


def layer_saved_bytes(kind: str, config, seq: int) -> int:
    """Activations one bf16 decoder layer with rank-R fp32 adapters on its projections keeps for the backward, at
    batch 1 and `seq` (frozen weights and adapter parameters excluded)."""
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaRotaryEmbedding
    from transformers.models.qwen2.modeling_qwen2 import Qwen2DecoderLayer, Qwen2RotaryEmbedding

    layer_cls, rope_cls = (LlamaDecoderLayer, LlamaRotaryEmbedding) if kind == "llama" else (Qwen2DecoderLayer, Qwen2RotaryEmbedding)
    config._attn_implementation = "sdpa"
    layer = layer_cls(config, 0).to(torch.bfloat16).requires_grad_(False)
    for parent in (layer.self_attn, layer.mlp):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                setattr(parent, name, _LowRank(child, R))
    x = torch.randn(1, seq, config.hidden_size, dtype=torch.bfloat16, requires_grad=True)
    pos = torch.arange(seq)[None]
    emb = tuple(e.to(torch.bfloat16) for e in rope_cls(config)(x, pos))
    with SavedBytes(layer) as saved:
        layer(x, position_embeddings=emb, position_ids=pos)
    return saved.bytes


def head_saved_bytes(config, seq: int) -> int:
    """The LM head (bf16) and transformers' causal-LM loss (logits upcast to fp32, cross-entropy): saved bytes."""
    head = nn.Linear(config.hidden_size, config.vocab_size, bias=False, dtype=torch.bfloat16).requires_grad_(False)
    x = torch.randn(1, seq, config.hidden_size, dtype=torch.bfloat16, requires_grad=True)
    labels = torch.randint(config.vocab_size, (seq,))
    with SavedBytes(head) as saved:
        nn.functional.cross_entropy(head(x)[0].float(), labels)
    return saved.bytes


def peak_memory(weights: int, per_token_acts: float, entries: int, tokens: int, h: dict | None) -> dict:
    """Predicted peak bytes of one step (module docstring, 5): AdaLoRA's when `h` is None, else HyperAdaLoRA's."""
    parts = {"frozen_weights_bf16": weights, "activations": per_token_acts * tokens}
    if h is None:
        parts["adapters_and_optimizer"] = entries * 4 * ADALORA_FLOATS_PER_ENTRY
    else:
        parts["adapters_and_optimizer"] = entries * 4 * OURS_STATE_FLOATS_PER_ENTRY + h["hypernet_params"] * 4 * 4
        parts["generation_graph"] = entries * 4 * OURS_GRAPH_FLOATS_PER_ENTRY
        parts["hypernet_saved"] = h["saved_bytes"] + h["recompute_chunk_bytes"]
    return {**parts, "peak": sum(parts.values())}


def adalora_bookkeeping_seconds(shapes: list[tuple[int, int]], repeats: int) -> dict:
    """AdaLoRA's own work per step besides the adapter matmuls, with peft's code at the real entry count: the
    orthogonality term over every lora_A / lora_B (forward + backward, peft's definition), AdamW over P, Λ, Q, and
    peft's RankAllocator.update_and_allocate (importance EMAs of every entry, then the budget mask). `shapes`:
    (d_out, d_in) of every adapted matrix."""
    from peft import AdaLoraConfig
    from peft.tuners.adalora import RankAllocator

    class Module(nn.Module):  # peft's parameter names: <module>.lora_A.default etc.
        def __init__(self, d_out: int, d_in: int) -> None:
            super().__init__()
            self.lora_A = nn.ParameterDict({"default": nn.Parameter(torch.randn(R, d_in) * 0.02)})
            self.lora_B = nn.ParameterDict({"default": nn.Parameter(torch.randn(d_out, R) * 0.02)})
            self.lora_E = nn.ParameterDict({"default": nn.Parameter(torch.randn(R, 1) * 0.02)})

    model = nn.ModuleList(Module(o, i) for o, i in shapes)
    params = list(model.parameters())
    config = AdaLoraConfig(init_r=R, target_r=2, total_step=1000, tinit=0, tfinal=0, deltaT=1)
    allocator = RankAllocator(model, config, "default")
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
    ab = [p for n, p in model.named_parameters() if "lora_A" in n or "lora_B" in n]
    parts: dict[str, list[float]] = {"orth_term": [], "adamw": [], "rank_allocator": []}
    for step in range(1, repeats + 2):
        for p in params:
            p.grad = torch.randn_like(p) * 1e-3  # the task's gradient, as the backward leaves it
        t0 = time.perf_counter()
        orth = sum(torch.norm((p @ p.T if p.shape[0] == R else p.T @ p) - torch.eye(R), p="fro") for p in ab) / len(ab)
        orth.backward()
        t1 = time.perf_counter()
        optimizer.step()
        t2 = time.perf_counter()
        allocator.update_and_allocate(model, step)
        t3 = time.perf_counter()
        if step > 1:  # the first is a warm-up
            parts["orth_term"].append(t1 - t0)
            parts["adamw"].append(t2 - t1)
            parts["rank_allocator"].append(t3 - t2)
    out = {k: statistics.median(v) for k, v in parts.items()}
    return {**out, "seconds": sum(out.values())}


def rule_step_seconds(base_groups: list, block, checkpointing: bool, repeats: int) -> dict:
    """HyperAdaLoRA's own work per step besides the adapter matmuls, with the library's code at the real entry
    count: the gradient rule's generation (features, the hypernetworks, gains and the step), the orthogonality term
    on the generated P and Q, the backward through both from the adapters' gradient, AdamW over Φ, and the commit
    (moments and state). `base_groups`: the model's shape groups (generation.Group)."""
    from hyperadalora.generation import build_rule
    from hyperadalora.model import _orth

    torch.manual_seed(0)
    config = HyperAdaLoraConfig(init_r=R, target_r=2, attention_block=block, hypernet_checkpointing=checkpointing)
    rule = build_rule(config, base_groups, torch.device("cpu"))
    for net in rule.hypernets.values():
        nn.init.normal_(net.out_proj.weight, std=0.02)  # trained Φ: gains away from 1
    S = {g.name: torch.randn(*g.shape(R)) * 0.02 for g in base_groups}
    optimizer = torch.optim.AdamW(rule.parameters(), lr=1e-3)
    parts: dict[str, list[float]] = {"generate": [], "backward": [], "adamw_phi": [], "commit": []}
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        gen = rule.generate(S)
        orth = sum(_orth(v.transpose(1, 2) @ v if g.kind == "P" else v @ v.transpose(1, 2))
                   for g in base_groups if g.kind != "lam" for v in (gen.values[g.name],))
        t1 = time.perf_counter()
        # the adapters' gradient reaches the generated values: a fixed random one stands in for it
        loss = sum((v * torch.randn_like(v)).sum() for v in gen.values.values()) * 1e-3 + 0.1 * orth
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        rule.commit(S, gen, 1.0)
        t4 = time.perf_counter()
        del gen, loss, orth
        for k, a, b in (("generate", t0, t1), ("backward", t1, t2), ("adamw_phi", t2, t3), ("commit", t3, t4)):
            parts[k].append(b - a)
    out = {k: statistics.median(v[1:]) for k, v in parts.items()}  # the first is a warm-up (and has no moments yet)
    return {**out, "seconds": sum(out.values())}


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
    result = {"command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
              "machine": platform.processor() or platform.machine(), "threads": args.threads, "seq": SEQ,
              "rank": R, "memory_assumptions": "frozen weights bf16; adapters, state, hypernetworks, optimizer fp32; "
              "peak = weights + saved activations + adapter/optimizer state + hypernetworks' saved tensors "
              "(module docstring, 5)", "models": {}}
    for name in args.models:
        kind, fields = MODELS[name]
        config, base = build_meta(kind, fields)
        groups, entries, n_modules, base_groups, shapes = groups_of(base)
        weights = sum(p.numel() for p in base.parameters()) * 2  # bf16
        del base
        hyper = {v: hypernet_cost(groups, block, ckpt, args.repeats) for v, (block, ckpt) in VARIANTS.items()}
        layer_s = base_cpu_seconds(kind, config, args.base_seq, args.repeats)
        head_s = head_cpu_seconds(config, args.base_seq, args.repeats)
        base1_cpu = (layer_s * config.num_hidden_layers + head_s) * SEQ / args.base_seq  # batch 1, seq 512
        layer_bytes = layer_saved_bytes(kind, config, args.base_seq)
        head_bytes = head_saved_bytes(config, args.base_seq)
        per_token_acts = (layer_bytes * config.num_hidden_layers + head_bytes) / args.base_seq
        adalora_bytes = entries * 4 * 4  # fp32 P, Λ, Q + gradient + Adam's two moments
        ada_own = adalora_bookkeeping_seconds(shapes, args.repeats)
        print(f"{name}: AdaLoRA's own work per step {ada_own['seconds']:.2f} s CPU {ada_own}", flush=True)
        ours_state_bytes = entries * 4 * OURS_STATE_FLOATS_PER_ENTRY
        adalora_peak = {b: peak_memory(weights, per_token_acts, entries, b * SEQ, None) for b in MEMORY_BATCHES}
        entry = {
            "adapted_modules": n_modules, "state_entries": entries, "groups": hyper[next(iter(VARIANTS))]["groups"],
            "total_tokens": sum(g["matrices"] * g["tokens_per_matrix"] for g in groups),
            "adalora_adapter_and_adam_bytes": adalora_bytes, "hyperadalora_state_bytes": ours_state_bytes,
            "base_layer_cpu_seconds_at_seq": {"seq": args.base_seq, "layer": layer_s, "head": head_s},
            "base_step_cpu_seconds_batch1_seq512": base1_cpu,
            "frozen_weights_bf16_bytes": weights,
            "saved_activation_bytes_at_seq": {"seq": args.base_seq, "layer": layer_bytes, "head_and_loss": head_bytes},
            "adalora_peak_bytes": adalora_peak, "adalora_own_work_cpu": ada_own,
            "variants": {},
        }
        for v, h in hyper.items():
            flops = hypernet_flops(groups, VARIANTS[v][0]) * (4 / 3 if VARIANTS[v][1] else 1)  # + the recompute
            cpu = {b: (base1_cpu * b + h["seconds"]) / (base1_cpu * b) for b in BATCHES}
            own = rule_step_seconds(base_groups, *VARIANTS[v], args.repeats) if v in OWN_WORK_VARIANTS else None
            both = None if own is None else {
                b: (base1_cpu * b + own["seconds"]) / (base1_cpu * b + ada_own["seconds"]) for b in BATCHES}
            gpu = {b: (base_flops(config, b * SEQ) + flops) / base_flops(config, b * SEQ) for b in BATCHES}
            peak = {b: peak_memory(weights, per_token_acts, entries, b * SEQ, h) for b in MEMORY_BATCHES}
            entry["variants"][v] = {
                "attention_block": VARIANTS[v][0], "hypernet_checkpointing": VARIANTS[v][1],
                "hypernet_cpu_seconds": h["seconds"], "hypernet_saved_bytes": h["saved_bytes"],
                "recompute_chunk_bytes": h["recompute_chunk_bytes"],
                "hypernet_flops": flops, "predicted_ratio_cpu": cpu, "predicted_ratio_gpu_flops": gpu,
                "own_work_cpu": own, "predicted_ratio_cpu_with_own_work": both,
                "memory_vs_adalora_adapter_and_adam": (h["saved_bytes"] + ours_state_bytes) / adalora_bytes,
                "peak_bytes": peak,
                "peak_ratio_vs_adalora": {b: peak[b]["peak"] / adalora_peak[b]["peak"] for b in MEMORY_BATCHES},
            }
        result["models"][name] = entry
        print(f"{name}: {n_modules} modules, {entries:,} state entries, {entry['total_tokens']:,} tokens; AdaLoRA peak "
              + ", ".join(f"b={b} {adalora_peak[b]['peak'] / 2**30:.2f} GiB" for b in MEMORY_BATCHES), flush=True)
        for v, e in entry["variants"].items():
            print(f"  {v:>40}: hypernets {e['hypernet_cpu_seconds']:.1f} s CPU, {e['hypernet_saved_bytes'] / 2**30:.2f} GiB "
                  f"saved; ratio b=1 CPU {e['predicted_ratio_cpu'][1]:.3f} / GPU-FLOPs {e['predicted_ratio_gpu_flops'][1]:.3f}; "
                  f"b=8 CPU {e['predicted_ratio_cpu'][8]:.3f} / GPU-FLOPs {e['predicted_ratio_gpu_flops'][8]:.4f}; peak / AdaLoRA "
                  + ", ".join(f"b={b} {e['peak_ratio_vs_adalora'][b]:.3f}" for b in MEMORY_BATCHES), flush=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if args.md:
        Path(args.md).write_text(render(result))
    return 0


def render(result: dict) -> str:
    gib = 2**30
    lines = ["# Cost model at the paper's 8B shapes\n", f"`{result['command']}` ({result['date']}, {result['machine']}, "
             f"{result['threads']} thread). Measured per matrix on this CPU and summed; base step from one measured "
             "decoder layer scaled to 32/28 layers and sequence 512; GPU column from FLOP counts (an estimate). "
             f"Memory: {result['memory_assumptions']}.\n"]
    for name, m in result["models"].items():
        spans = sorted({(g["name"], g["tokens_per_matrix"], g["attention_span"]) for g in m["groups"]}, key=lambda x: x[1])
        auto = ", ".join(f"{n} ({t:,}: {'full' if s is None else f'blocks of {s}'})" for n, t, s in spans)
        lines += [f"## {name}\n", f"{m['adapted_modules']} adapted matrices, {m['state_entries']:,} state entries, "
                  f"{m['total_tokens']:,} hypernetwork tokens per step. AdaLoRA's adapters + Adam: "
                  f"{m['adalora_adapter_and_adam_bytes'] / 2**20:.0f} MiB; HyperAdaLoRA's state: "
                  f"{m['hyperadalora_state_bytes'] / 2**20:.0f} MiB. Base step (batch 1, seq 512) on this CPU: "
                  f"{m['base_step_cpu_seconds_batch1_seq512']:.0f} s. Groups under `attention_block=\"auto\"` "
                  f"(length: attention): {auto}.\n",
                  "| variant | hypernets fwd+bwd (CPU s) | saved activations (GiB) | memory / AdaLoRA's adapter+Adam | "
                  + " | ".join(f"ratio b={b} CPU / GPU" for b in (1, 8, 32)) + " |",
                  "|---|---|---|---|" + "---|" * 3]
        for v, e in m["variants"].items():
            cells = " | ".join(f"{e['predicted_ratio_cpu'][b]:.3f} / {e['predicted_ratio_gpu_flops'][b]:.4f}" for b in (1, 8, 32))
            lines.append(f"| {v} | {e['hypernet_cpu_seconds']:.1f} | {e['hypernet_saved_bytes'] / gib:.2f} | "
                         f"{e['memory_vs_adalora_adapter_and_adam']:.1f} | {cells} |")
        ada = m["adalora_own_work_cpu"]
        lines += ["", "Each method's own work per step besides the frozen base and the adapter matmuls, measured on this CPU at "
                  "the full entry count with the libraries' code (peft's orthogonality term, AdamW and RankAllocator for "
                  "AdaLoRA; the gradient rule's generation, orthogonality term, backward, AdamW over Φ and commit for "
                  "HyperAdaLoRA), and the step ratio with both counted, (base + own) / (base + AdaLoRA's own):\n",
                  "| method | own work per step (CPU s) | parts (s) | " + " | ".join(f"ratio b={b} CPU" for b in (1, 8, 32)) + " |",
                  "|---|---|---|" + "---|" * 3,
                  f"| AdaLoRA (peft) | {ada['seconds']:.2f} | " + ", ".join(f"{k} {v:.2f}" for k, v in ada.items() if k != "seconds")
                  + " | 1 | 1 | 1 |"]
        for v, e in m["variants"].items():
            own = e.get("own_work_cpu")
            if own:
                both = e["predicted_ratio_cpu_with_own_work"]
                lines.append(f"| HyperAdaLoRA, {v} | {own['seconds']:.2f} | "
                             + ", ".join(f"{k} {x:.2f}" for k, x in own.items() if k != "seconds") + " | "
                             + " | ".join(f"{both[b]:.3f}" for b in (1, 8, 32)) + " |")
        w = m["frozen_weights_bf16_bytes"] / gib
        lines += ["", f"Predicted peak memory of a step, sequence 512 (GiB; frozen weights {w:.2f} GiB in bf16):\n",
                  "| method | " + " | ".join(f"b={b}: activations | adapters + optimizer (+ rule graph) | hypernets' "
                                             f"saved | peak | / AdaLoRA" for b in MEMORY_BATCHES) + " |",
                  "|---|" + "---|---|---|---|---|" * len(MEMORY_BATCHES)]
        rows = [("AdaLoRA", m["adalora_peak_bytes"], None)] + [
            (f"HyperAdaLoRA, {v}", e["peak_bytes"], e["peak_ratio_vs_adalora"]) for v, e in m["variants"].items()]
        for label, peaks, ratio in rows:
            cells = []
            for b in MEMORY_BATCHES:
                p = peaks[b]
                state = p["adapters_and_optimizer"] + p.get("generation_graph", 0)
                r = "1" if ratio is None else f"{ratio[b]:.3f}"
                cells.append(f"{p['activations'] / gib:.2f} | {state / gib:.3f} | {p.get('hypernet_saved', 0) / gib:.2f} | "
                             f"{p['peak'] / gib:.2f} | {r}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
