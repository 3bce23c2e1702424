"""HyperAdaLoRA under transformers.Trainer as users run it: default arguments (remove_unused_columns on), a
`datasets.Dataset` with columns the model does not take, checkpoints, and resume_from_checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from hyperadalora import HyperAdaLoraConfig, HyperAdaLoraModel, get_hyperadalora_model
from hyperadalora.train.callback import HyperAdaLoraCallback
from tests.tiny_models import tiny_model

STEPS, CUT = 6, 3  # 4 steps per epoch: the cut is mid-epoch and the resumed run crosses an epoch boundary


def _dataset():
    from datasets import Dataset

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (16, 8), generator=g)
    return Dataset.from_dict({"input_ids": ids.tolist(), "attention_mask": torch.ones_like(ids).tolist(),
                              "labels": (ids[:, 0] > 50).long().tolist(),  # learnable from the first token
                              "sentence": [f"example {i}" for i in range(16)], "idx": list(range(16))})


class _StopAt(TrainerCallback):
    """Ends training after `step` (as a killed job would, right after a checkpoint)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            control.should_training_stop = True


def _model() -> HyperAdaLoraModel:
    base, saved = tiny_model("bert")  # dropout 0.1: the resumed run must also restore the RNG
    return get_hyperadalora_model(base, HyperAdaLoraConfig(init_r=3, target_r=2, total_step=STEPS, tinit=1,
                                                           tfinal=1, hypernet_hidden=16, hypernet_ffn=32,
                                                           modules_to_save=saved))


def _trainer(out: Path, model: HyperAdaLoraModel, *callbacks: TrainerCallback) -> Trainer:
    args = TrainingArguments(output_dir=str(out), max_steps=STEPS, per_device_train_batch_size=4, learning_rate=5e-3,
                             lr_scheduler_type="linear", logging_steps=1, save_steps=CUT, report_to=[], use_cpu=True,
                             disable_tqdm=True, label_names=["labels"])  # remove_unused_columns at its default
    return Trainer(model=model, args=args, train_dataset=_dataset(), callbacks=[HyperAdaLoraCallback(), *callbacks])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An uninterrupted run, one stopped after the checkpoint at CUT, and that one resumed to STEPS."""
    root = tmp_path_factory.mktemp("trainer")
    full = _model()
    full_trainer = _trainer(root / "full", full)
    full_trainer.train()
    cut = _model()
    _trainer(root / "cut", cut, _StopAt(CUT)).train()
    cut_at_stop = cut.adapter_state_dict()
    resumed = _model()
    _trainer(root / "cut", resumed).train(resume_from_checkpoint=str(root / "cut" / f"checkpoint-{CUT}"))
    return dict(root=root, full=full, full_trainer=full_trainer, cut_at_stop=cut_at_stop, resumed=resumed)


def test_resume_from_checkpoint_gives_the_uninterrupted_adapter(runs):
    """Bitwise: both runs take the same float operations on the same machine (Trainer restores the RNG, the data
    order, the optimizer and scheduler; load_state_dict restores S and the rule's statistics with their host
    copies), so any difference is a lost piece of state, not rounding."""
    full, resumed = runs["full"], runs["resumed"]
    assert int(resumed.step) == STEPS and resumed.rule.t == full.rule.t
    a, b = full.adapter_state_dict(), resumed.adapter_state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k}: max |diff| {(a[k].float() - b[k].float()).abs().max().item()}"


def test_each_checkpoint_holds_a_loadable_adapter(runs):
    for step in (CUT, STEPS):
        assert (runs["root"] / "full" / f"checkpoint-{step}" / "hyperadalora_model.safetensors").is_file()
    loaded = HyperAdaLoraModel.from_pretrained(tiny_model("bert")[0], runs["root"] / "cut" / f"checkpoint-{CUT}")
    saved = loaded.adapter_state_dict()
    assert saved.keys() == runs["cut_at_stop"].keys()
    assert all(torch.equal(saved[k], runs["cut_at_stop"][k]) for k in saved)  # the adapter as it was at step CUT
    final = HyperAdaLoraModel.from_pretrained(tiny_model("bert")[0], runs["root"] / "full" / f"checkpoint-{STEPS}")
    batch = {"input_ids": torch.tensor(_dataset()["input_ids"][:4])}
    with torch.no_grad():
        assert torch.equal(final.eval()(**batch).logits, runs["full"].eval()(**batch).logits)


def test_remove_unused_columns_at_its_default_keeps_the_models_inputs(runs):
    trainer = runs["full_trainer"]
    assert trainer.args.remove_unused_columns
    batch = next(iter(trainer.get_train_dataloader()))
    assert set(batch) == {"input_ids", "attention_mask", "labels"}  # sentence and idx dropped, the inputs kept
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == STEPS and all(torch.isfinite(torch.tensor(losses)))
