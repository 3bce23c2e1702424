"""The training loop on a tiny BERT: every method trains, logs per the contract, resumes bitwise, guards NaN."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from hyperadalora.errors import UserInputError
from hyperadalora.train import evaluate, train
from hyperadalora.train import loop as loop_module
from hyperadalora.train.loop import NonFiniteLossError
from hyperadalora.train.sources import repo_root

METHODS = ("hyperadalora", "adalora", "lora", "head")
TRAIN_KEYS = {"kind", "step", "task_loss", "orth_loss", "loss", "lr", "total_rank", "wall_s"}


def read_log(out: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(out, "log.jsonl").read_text().splitlines()]


def without_wall(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]


def adapter(out: str | Path) -> dict[str, torch.Tensor]:
    return load_file(str(Path(out, "adapter", "adapter.safetensors")))


@pytest.mark.parametrize("method", METHODS)
def test_each_method_trains_and_logs_per_contract(make_cfg, method):
    cfg = make_cfg(method=method, eval_every=2)
    summary = train(cfg)

    log = read_log(cfg.out)
    steps = [r for r in log if r["kind"] == "train"]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    for r in steps:
        assert set(r) == TRAIN_KEYS
        assert all(math.isfinite(r[k]) for k in ("task_loss", "orth_loss", "loss", "lr", "wall_s"))
        expected = r["task_loss"] + cfg.orth_reg_weight * r["orth_loss"]
        assert r["loss"] == pytest.approx(expected, rel=1e-5)
        if method in ("lora", "head"):
            assert r["orth_loss"] == 0.0
        else:
            assert r["orth_loss"] > 0
        assert (r["total_rank"] is None) == (method == "head")
    # 13 adapted Linears in the tiny BERT (6 per layer × 2 + pooler); init_r 3 → target_r 2 after pruning
    if method in ("hyperadalora", "adalora"):
        assert steps[0]["total_rank"] <= 3 * 13 and steps[-1]["total_rank"] == 2 * 13
    if method == "lora":
        assert {r["total_rank"] for r in steps} == {3 * 13}
    assert steps[0]["lr"] > steps[-1]["lr"]  # linear decay
    evals = [r for r in log if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [2, 4] and set(evals[-1]["metrics"]) == {"accuracy"}

    assert summary["final_metrics"] == evals[-1]["metrics"]
    assert {"method", "task", "model", "steps", "seed", "train_seconds", "final_metrics", "trainable_params",
            "peak_memory_mb", "lr"} <= set(summary)
    assert json.loads(Path(cfg.out, "summary.json").read_text()) == summary
    assert (Path(cfg.out, "checkpoints", "step-000004", "manifest.json")).is_file()
    assert evaluate(cfg.out) == summary["final_metrics"]


def test_all_methods_see_the_same_batches_and_dropout(make_cfg, tmp_path):
    """Every method starts as the base model (Λ = 0, E = 0, B = 0) and the RNG is re-seeded after the model is
    built, so the first step's task loss is bitwise identical across methods: same data, head, dropout."""
    first = {}
    for method in METHODS:
        cfg = make_cfg(method=method, max_steps=3, out=str(tmp_path / method))
        train(cfg)
        first[method] = read_log(cfg.out)[0]["task_loss"]
    assert len(set(first.values())) == 1, first


def test_adalora_regulariser_is_peft_own(make_cfg, tiny):
    """Called with labels, peft adds orth_reg_weight × its regulariser to the loss; ours must equal that term."""
    from transformers import AutoModelForSequenceClassification

    from hyperadalora.train.methods import build_method

    cfg = make_cfg(method="adalora", orth_reg_weight=0.3)
    torch.manual_seed(0)
    method = build_method(AutoModelForSequenceClassification.from_pretrained(tiny["model"]), cfg, False, 4)
    with torch.no_grad():  # move lora_A/B away from their init so the term is not trivial
        for p in method.model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.1)
    method.model.eval()
    ids = torch.tensor([[2, 7, 8, 9, 3]])
    with_labels = method.model(input_ids=ids, labels=torch.tensor([1]))
    plain = method.model(input_ids=ids)
    task = torch.nn.functional.cross_entropy(plain.logits, torch.tensor([1]))
    assert torch.allclose(with_labels.loss - task, 0.3 * method.regulariser(plain), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", METHODS)
def test_resume_is_bitwise_identical(make_cfg, tmp_path, method):
    """Run 8 steps; stop after 3 (mid-epoch; 6 steps of 2 micro-batches per epoch), resume to 8 (crossing the
    epoch boundary): the same tensors, the same log."""
    common = dict(method=method, max_steps=8, gradient_accumulation_steps=2, batch_size=4, save_every=2,
                  eval_every=3, log_every=1, lora_dropout=0.1)
    ref = make_cfg(out=str(tmp_path / "ref"), **common)
    train(ref)
    cut = make_cfg(out=str(tmp_path / "cut"), stop_after=3, **common)
    assert train(cut)["stopped_at"] == 3
    train(make_cfg(out=str(tmp_path / "cut"), resume=True, **common))

    a, b = adapter(ref.out), adapter(cut.out)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert without_wall(read_log(ref.out)) == without_wall(read_log(cut.out))


def test_resume_falls_back_past_a_corrupt_checkpoint_and_truncates_the_log(make_cfg, tmp_path, capsys):
    common = dict(max_steps=6, save_every=2, log_every=1)
    ref = make_cfg(out=str(tmp_path / "ref"), **common)
    train(ref)
    cut = make_cfg(out=str(tmp_path / "cut"), stop_after=5, **common)
    train(cut)  # checkpoints at 2, 4 (kept: 2 newest) and 5; the log holds steps 1..5
    newest = Path(cut.out, "checkpoints", "step-000005", "adapter.safetensors")
    data = bytearray(newest.read_bytes())
    data[-1] ^= 0xFF
    newest.write_bytes(bytes(data))

    train(make_cfg(out=str(tmp_path / "cut"), resume=True, **common))
    err = capsys.readouterr().err
    assert "skipped checkpoint step-000005" in err and "adapter.safetensors" in err and "step-000004" in err
    a, b = adapter(ref.out), adapter(cut.out)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert without_wall(read_log(ref.out)) == without_wall(read_log(cut.out))


def _nan_on_call(monkeypatch, calls: set[int]) -> None:
    real = loop_module.task_loss
    count = {"n": 0}

    def task_loss(*args, **kwargs):
        count["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if count["n"] in calls else loss

    monkeypatch.setattr(loop_module, "task_loss", task_loss)


def test_nonfinite_loss_stops_naming_step_and_terms(make_cfg, monkeypatch):
    cfg = make_cfg(max_steps=6, save_every=2)
    _nan_on_call(monkeypatch, {3})
    with pytest.raises(NonFiniteLossError, match=r"step 3: loss is not finite \(task_loss=nan, orth_loss=[0-9.e-]+\)"):
        train(cfg)
    assert [r["step"] for r in read_log(cfg.out)] == [1, 2]
    assert [p.name for p in Path(cfg.out, "checkpoints").iterdir()] == ["step-000002"]


def test_skip_nonfinite_skips_and_logs(make_cfg, monkeypatch):
    cfg = make_cfg(max_steps=4, skip_nonfinite=1)
    _nan_on_call(monkeypatch, {2})
    summary = train(cfg)
    log = read_log(cfg.out)
    assert [r["kind"] for r in log] == ["train", "skip", "train", "train", "train", "eval"]
    assert [r["step"] for r in log if r["kind"] == "train"] == [1, 2, 3, 4]
    assert summary["skipped_steps"] == 1


def test_out_dir_holding_a_run_is_refused_unless_resume_or_overwrite(make_cfg):
    cfg = make_cfg(max_steps=3)
    train(cfg)
    before = {p: p.stat().st_mtime_ns for p in Path(cfg.out).rglob("*")}
    with pytest.raises(UserInputError, match="already holds a run"):
        train(make_cfg(max_steps=3))
    with pytest.raises(UserInputError, match="holds a different run .*lr=0.01"):  # hyperadalora's default η
        train(make_cfg(max_steps=3, lr=0.03, resume=True))
    assert {p: p.stat().st_mtime_ns for p in Path(cfg.out).rglob("*")} == before
    train(make_cfg(max_steps=3, lr=0.03, overwrite=True))
    assert json.loads(Path(cfg.out, "config.json").read_text())["lr"] == 0.03


def test_not_enough_disk_fails_before_writing(make_cfg, monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=10**9, used=10**9, free=1000))
    cfg = make_cfg(out=str(tmp_path / "new" / "run"))
    with pytest.raises(UserInputError, match="MiB free"):
        train(cfg)
    assert not (tmp_path / "new").exists()


def test_epochs_set_the_step_count(make_cfg):
    summary = train(make_cfg(max_steps=None, epochs=2, gradient_accumulation_steps=3))
    assert summary["steps"] == 2 * 6 // 3


@pytest.mark.slow
def test_instruction_tuning_on_stories260k(tmp_path):
    """The causal-LM path on the real stories260k: held-out loss, then greedy generation scored."""
    from hyperadalora.train import TrainConfig

    models = repo_root().parent / "shared" / "models"
    data = repo_root().parent / "shared" / "data" / "instruct" / "alpaca" / "alpaca_data_1k.json"
    cfg = TrainConfig(task="instruct", data=str(data), model="stories260k", models_dir=str(models), method="lora",
                      out=str(tmp_path / "run"), max_steps=2, batch_size=4, max_train_samples=32, n_heldout=6,
                      max_new_tokens=4, max_length=256, progress=False)
    summary = train(cfg)
    metrics = summary["final_metrics"]
    assert set(metrics) == {"heldout_loss", "bleu4", "rouge1"}
    assert math.isfinite(metrics["heldout_loss"]) and 0 <= metrics["rouge1"] <= 100


@pytest.mark.parametrize("method", ["hyperadalora", "adalora"])
def test_bf16_autocast_and_gradient_checkpointing(make_cfg, method):
    cfg = make_cfg(method=method, mixed_precision="bf16", gradient_checkpointing=True)
    train(cfg)
    steps = [r for r in read_log(cfg.out) if r["kind"] == "train"]
    assert len(steps) == 4 and all(math.isfinite(r["loss"]) for r in steps)


def test_tensorboard_through_accelerate(make_cfg):
    cfg = make_cfg(method="head", tensorboard=True)
    train(cfg)
    assert list(Path(cfg.out, "tensorboard").rglob("events.out.tfevents.*"))


SPIKE_MB = 256


@pytest.mark.skipif(torch.cuda.is_available() or not Path("/proc/self/clear_refs").exists(),
                    reason="the CPU peak (VmHWM) is reset through Linux procfs")
def test_each_run_in_one_process_reports_its_own_peak_memory(make_cfg, monkeypatch, tmp_path):
    """`compare` trains every run in one process: a run after a larger one reports its own, smaller peak."""
    load_model = loop_module.load_model

    def load_model_after_a_spike(cfg, causal):
        spike = torch.ones(SPIKE_MB * 2**20 // 4)  # this run holds 256 MiB more for a moment (pages touched)
        del spike
        return load_model(cfg, causal)

    monkeypatch.setattr(loop_module, "load_model", load_model_after_a_spike)
    big = train(make_cfg(out=str(tmp_path / "big")))
    monkeypatch.setattr(loop_module, "load_model", load_model)
    small = train(make_cfg(out=str(tmp_path / "small")))
    assert small["peak_memory_mb"] < big["peak_memory_mb"] - SPIKE_MB / 2
