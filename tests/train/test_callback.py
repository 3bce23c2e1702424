"""HyperAdaLoraCallback under a real transformers.Trainer: commits the adapters every step, prunes on schedule,
logs the rank budget."""

from __future__ import annotations

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

from hyperadalora import HyperAdaLoraConfig, get_hyperadalora_model
from hyperadalora.train.callback import HyperAdaLoraCallback


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, n: int = 32, length: int = 8) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(5, 100, (n, length), generator=g)
        self.labels = (self.ids[:, 0] > 50).long()  # learnable from the first token

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones_like(self.ids[i]), "labels": self.labels[i]}


def test_callback_commits_prunes_and_logs_rank(tmp_path):
    torch.manual_seed(0)
    base = BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=4, intermediate_size=64, num_labels=2))
    steps = 6
    model = get_hyperadalora_model(base, HyperAdaLoraConfig(init_r=3, target_r=2, total_step=steps, tinit=1, tfinal=2,
                                                            modules_to_save=["classifier"]))
    n = len(model.adapters)
    lam0 = model.lam.clone()
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=steps, per_device_train_batch_size=8,
                             learning_rate=1e-3, logging_steps=1, report_to=[], save_strategy="no", use_cpu=True,
                             disable_tqdm=True, label_names=["labels"], remove_unused_columns=False,
                             gradient_accumulation_steps=2)
    trainer = Trainer(model=model, args=args, train_dataset=_Pairs(), callbacks=[HyperAdaLoraCallback()])
    trainer.train()

    assert int(model.step) == steps  # update_and_allocate(global_step) ran with the 1-based step, once per step
    assert not torch.equal(model.lam, lam0)  # the generated adapters were committed
    assert model.total_rank == 2 * n  # pruned to the target budget
    ranks = [h["total_rank"] for h in trainer.state.log_history if "loss" in h]
    assert len(ranks) == steps
    assert ranks[0] == 3 * n and ranks[-1] == 2 * n and ranks == sorted(ranks, reverse=True)
