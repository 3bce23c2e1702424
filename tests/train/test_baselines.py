"""The baselines users pick instead of AdaLoRA, each on the library that owns it, in the same loop: LoRA+ (peft),
PiSSA and LoRA-GA starts (peft), Prodigy (prodigyopt) and schedule-free AdamW (schedulefree) for LoRA and
AdaLoRA. Each trains through `train(TrainConfig)`, its loss falls, and it sees the same batches and head."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hyperadalora.train import evaluate, train
from hyperadalora.train.methods import build_method
from hyperadalora.train.sources import load_data, load_model

BASELINES = {
    "loraplus": dict(method="loraplus"),
    "lora_pissa": dict(method="lora", lora_init="pissa"),
    "lora_pissa_niter": dict(method="lora", lora_init="pissa_niter_4"),
    "lora_ga": dict(method="lora", lora_init="lora_ga", lora_ga_batches=3),
    "lora_schedulefree": dict(method="lora", optimizer="schedulefree", lr_scheduler="constant"),
    # AdaLoRA's singular values start at zero: it needs more steps to move on this batch
    "adalora_schedulefree": dict(method="adalora", optimizer="schedulefree", lr_scheduler="constant", max_steps=40),
}
# One batch of 8 repeated (max_train_samples=8): the easiest task there is, so that "its loss falls" tests the
# wiring, not whether a random 2-layer BERT can learn the tiny RTE rule in a few steps (none of the methods can).
COMMON = dict(max_steps=18, log_every=1, lr=3e-2, head_lr=3e-2, warmup_steps=2, tinit=2, tfinal=2,
              max_train_samples=8)


def task_losses(out: str | Path) -> list[float]:
    lines = Path(out, "log.jsonl").read_text().splitlines()
    return [r["task_loss"] for r in map(json.loads, lines) if r["kind"] == "train"]


@pytest.fixture(scope="module")
def lora_first_loss(tiny, tmp_path_factory) -> float:
    """Plain LoRA's first task loss on the same run settings: the reference for 'same batches and head'."""
    from hyperadalora.train import TrainConfig

    out = tmp_path_factory.mktemp("lora") / "run"
    train(TrainConfig(task="rte", data=str(tiny["data"]), model=str(tiny["model"]), method="lora", out=str(out),
                      batch_size=8, eval_batch_size=8, progress=False, **{**COMMON, "max_steps": 1}))
    return task_losses(out)[0]


@pytest.mark.parametrize("name", BASELINES)
def test_each_baseline_trains_its_loss_falls_on_the_same_batches(make_cfg, name, lora_first_loss):
    cfg = make_cfg(**{**COMMON, **BASELINES[name]})
    summary = train(cfg)
    losses = task_losses(cfg.out)
    assert len(losses) == cfg.max_steps
    # Every start equals the base model (PiSSA / LoRA-GA move B₀A₀ out of W, up to rounding) and the RNG is
    # re-seeded after the build: the first step sees the same batch, head and dropout as plain LoRA.
    assert losses[0] == pytest.approx(lora_first_loss, rel=1e-4)
    assert statistics.fmean(losses[-6:]) < statistics.fmean(losses[:6]) - 0.02, losses
    # what is evaluated is what is saved: rebuilding the run from its adapter gives the same metrics
    assert evaluate(cfg.out) == summary["final_metrics"]


@pytest.mark.parametrize("name", ["lora_prodigy", "adalora_prodigy"])
def test_prodigy_trains_through_the_loop_and_estimates_its_step_size(make_cfg, tiny, name):
    """Prodigy's own step-size estimate d starts at d0 = 1e-6 and must grow. On this tiny model it needs more steps
    than a test can afford to reach a useful d (its loss stays flat for 80 steps at d_coef 1), so what is checked
    here is that it trains through the loop with finite losses and that d adapts by orders of magnitude on real
    gradients; its loss falling is measured on SST-2 and NLG (benchmarks/results/compare_baselines_*)."""
    from prodigyopt import Prodigy

    method_name = name.split("_")[0]
    cfg = make_cfg(**{**COMMON, "method": method_name, "optimizer": "prodigy", "lr": 1.0, "head_lr": None,
                      "lr_scheduler": "constant", "warmup_steps": 0, "max_steps": 30})
    summary = train(cfg)
    losses = task_losses(cfg.out)
    assert summary["steps"] == 30 and len(losses) == 30 and all(map(math.isfinite, losses))

    tokenizer, base = load_model(cfg, causal=False)
    data = load_data(cfg, tokenizer)
    method = build_method(base, cfg, False, cfg.max_steps, data)
    optimizer = method.build_optimizer()
    assert isinstance(optimizer, Prodigy) and {g["d_coef"] for g in optimizer.param_groups} == {cfg.prodigy_d_coef}
    batch = data.collate(data.train[:8])
    for _ in range(30):
        method.model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    d = optimizer.param_groups[0]["d"]
    assert d > 100 * optimizer.param_groups[0]["d0"], d


def test_loraplus_rates_lora_b_at_the_ratio_and_keeps_the_head_rate(make_cfg, tiny):
    cfg = make_cfg(method="loraplus", lr=2e-3, head_lr=5e-4, loraplus_lr_ratio=8.0, weight_decay=0.01)
    _, base = load_model(cfg, causal=False)
    method = build_method(base, cfg, False, 4)
    optimizer = method.build_optimizer()
    names = {id(p): n for n, p in method.model.named_parameters()}
    rate = {names[id(p)]: g["lr"] for g in optimizer.param_groups for p in g["params"]}
    assert rate and all(g["params"] for g in optimizer.param_groups)
    assert {r for n, r in rate.items() if "lora_A" in n} == {2e-3}
    assert {r for n, r in rate.items() if "lora_B" in n} == {8 * 2e-3}
    assert {r for n, r in rate.items() if "classifier" in n} == {5e-4}  # the 1-d head bias too
    assert set(rate) == {n for n, p in method.model.named_parameters() if p.requires_grad}
    assert {g["weight_decay"] for g in optimizer.param_groups} == {0.01}


def test_prodigy_takes_the_schedule_and_schedule_free_none(make_cfg):
    prodigy = make_cfg(method="lora", optimizer="prodigy", lr=1.0, max_steps=6, log_every=1, warmup_steps=0)
    train(prodigy)
    lrs = [json.loads(r)["lr"] for r in Path(prodigy.out, "log.jsonl").read_text().splitlines()
           if json.loads(r)["kind"] == "train"]
    assert lrs[0] == 1.0 and lrs == sorted(lrs, reverse=True) and lrs[-1] < lrs[0]  # linear decay of the multiplier
    free = make_cfg(method="lora", optimizer="schedulefree", lr_scheduler="constant", warmup_steps=3, max_steps=6,
                    log_every=1, out=str(Path(prodigy.out).parent / "free"))
    train(free)
    lrs = {json.loads(r)["lr"] for r in Path(free.out, "log.jsonl").read_text().splitlines()
           if json.loads(r)["kind"] == "train"}
    assert lrs == {free.lr}  # no loop warm-up on top of the optimizer's own


@pytest.mark.parametrize("method", ["lora", "adalora"])
def test_schedule_free_resume_is_bitwise_identical(make_cfg, tmp_path, method):
    """Checkpoints hold schedule-free AdamW's average x (eval mode); resuming switches back to its y: the same
    tensors and log as an uninterrupted run that took the same switches at the same checkpoints."""
    common = dict(method=method, optimizer="schedulefree", lr_scheduler="constant", max_steps=8, save_every=2,
                  eval_every=3, log_every=1, warmup_steps=2)
    ref = make_cfg(out=str(tmp_path / "ref"), **common)
    train(ref)
    cut = make_cfg(out=str(tmp_path / "cut"), stop_after=3, **common)
    train(cut)
    train(make_cfg(out=str(tmp_path / "cut"), resume=True, **common))
    a = load_file(str(Path(ref.out, "adapter", "adapter.safetensors")))
    b = load_file(str(Path(cut.out, "adapter", "adapter.safetensors")))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in json.loads(r).items() if k != "wall_s"}
             for r in Path(ref.out, "log.jsonl").read_text().splitlines()]
    assert strip == [{k: v for k, v in json.loads(r).items() if k != "wall_s"}
                     for r in Path(cut.out, "log.jsonl").read_text().splitlines()]


def test_schedule_free_saves_its_average_not_the_point_it_steps(make_cfg):
    cfg = make_cfg(method="lora", optimizer="schedulefree", lr_scheduler="constant", max_steps=2, lr=1e-2)
    _, base = load_model(cfg, causal=False)
    method = build_method(base, cfg, False, 2)
    optimizer = method.build_optimizer()
    for step in range(3):  # steps with made-up gradients move y and x apart (after the first, x = z = y)
        for p in method.model.parameters():
            p.grad = torch.full_like(p, 1.0 + step) if p.requires_grad else None
        optimizer.step()
    y = {k: v.clone() for k, v in method.state_dict().items()}
    with method.eval_weights():
        x = {k: v.clone() for k, v in method.state_dict().items()}
    after = method.state_dict()
    assert any(not torch.equal(x[k], y[k]) for k in x)
    assert all(torch.allclose(after[k], y[k], atol=1e-7) for k in y)  # back to y after the context


@pytest.mark.parametrize("init", ["pissa", "lora_ga"])
def test_a_start_moved_out_of_w_is_saved_as_an_adapter_for_the_unmodified_base(make_cfg, tiny, tmp_path, init):
    """PiSSA and LoRA-GA train on W_res = W − s·B₀A₀. The saved peft adapter must give the trained logits on a
    *fresh* base model (peft's conversion to a rank-2r LoRA), head included."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    cfg = make_cfg(method="lora", lora_init=init, lora_ga_batches=2, lr=3e-2, head_lr=3e-2)
    tokenizer, base = load_model(cfg, causal=False)
    data = load_data(cfg, tokenizer)
    torch.manual_seed(0)
    method = build_method(base, cfg, False, 4, data)
    optimizer = method.build_optimizer()
    model = method.model
    for i in range(4):
        batch = data.collate(data.train[8 * i:8 * i + 8])
        labels = batch.pop("labels")
        torch.nn.functional.cross_entropy(model(**batch).logits, labels).backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    probe = data.collate(data.dev[:8])
    probe.pop("labels")
    with torch.no_grad():
        trained = model(**probe).logits
    method.save_adapter(tmp_path / "adapter")

    fresh = AutoModelForSequenceClassification.from_pretrained(tiny["model"]).eval()
    w = "bert.encoder.layer.0.attention.self.query.weight"
    residual = dict(model.base_model.model.named_parameters())[w.replace("query.weight", "query.base_layer.weight")]
    assert not torch.allclose(residual, dict(fresh.named_parameters())[w])  # the start did change W
    with torch.no_grad():
        untrained = fresh(**probe).logits
    loaded = PeftModel.from_pretrained(fresh, str(tmp_path / "adapter")).eval()
    with torch.no_grad():
        reloaded = loaded(**probe).logits
    assert not torch.allclose(reloaded, untrained, atol=1e-3)
    torch.testing.assert_close(reloaded, trained, rtol=1e-4, atol=1e-5)
    saved = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert saved["r"] == 2 * cfg.init_r and saved["init_lora_weights"] is True


def test_adalora_takes_the_orthogonal_start_and_refuses_it_for_lora(make_cfg, tiny):
    from hyperadalora.errors import UserInputError

    cfg = make_cfg(method="adalora", init_pq="orthogonal")
    tokenizer, base = load_model(cfg, causal=False)
    method = build_method(base, cfg, False, cfg.max_steps, load_data(cfg, tokenizer))
    factors = [(n, p) for n, p in method.model.named_parameters() if "lora_A" in n or "lora_B" in n]
    assert factors
    for n, p in factors:  # lora_A = Q (r × d_in), lora_B = P (d_out × r)
        gram = p @ p.T if "lora_A" in n else p.T @ p
        assert torch.allclose(gram, torch.eye(gram.shape[0]), atol=1e-5), n
    with pytest.raises(UserInputError, match="init_pq: orthogonal starts the SVD methods"):
        make_cfg(method="lora", init_pq="orthogonal")


def test_the_gradient_start_is_the_same_for_adalora_and_hyperadalora(make_cfg, tiny):
    """init_pq=gradient gives peft's AdaLoRA exactly HyperAdaLoRA's starting P and Q (lora_B = P, lora_A = Q, from the
    same batches' mean gradient), so that a comparison of the two measures the hypernetworks, not the start."""
    starts = {}
    for method in ("adalora", "hyperadalora"):
        cfg = make_cfg(method=method, init_pq="gradient", lora_ga_batches=2)
        tokenizer, base = load_model(cfg, causal=False)
        starts[method] = build_method(base, cfg, False, cfg.max_steps, load_data(cfg, tokenizer))
    ada, hyper = starts["adalora"], starts["hyperadalora"].model
    adapter = ada.tuner.trainable_adapter_name
    for name, layer in zip(hyper.adapted_names, hyper.adapters, strict=True):
        P, _, Q = hyper.triplet(layer, committed=True)
        peft_layer = ada.tuner.model.get_submodule(name)
        torch.testing.assert_close(peft_layer.lora_B[adapter].detach(), P, rtol=0, atol=1e-6)
        torch.testing.assert_close(peft_layer.lora_A[adapter].detach(), Q, rtol=0, atol=1e-6)
        assert not torch.any(peft_layer.lora_E[adapter])  # Λ = 0: both start as the base model


def test_the_rate_and_the_start_default_per_method(make_cfg):
    """Unset, `lr` and `init_pq` take the method's own defaults: HyperAdaLoRA's η 1e-2 and orthonormal start (the
    core config's), the peft methods' 1e-3 and AdaLoRA's normal start; given, they are kept."""
    hyper, ada, lora = (make_cfg(method=m) for m in ("hyperadalora", "adalora", "lora"))
    assert (hyper.lr, hyper.init_pq) == (1e-2, "orthogonal")
    assert (ada.lr, ada.init_pq) == (1e-3, "normal") and (lora.lr, lora.init_pq) == (1e-3, "normal")
    assert make_cfg(method="hyperadalora", lr=3e-2, init_pq="normal").to_dict()["lr"] == 3e-2
