"""HyperAdaLoRA under TRL's SFTTrainer as NLG users run it: the real tiny LLaMA (stories260k), the Alpaca sample as
prompt-completion pairs, HyperAdaLoraCallback, and the one change TRL needs (README, "transformers.Trainer and
TRL"): Trainer's compute_loss, which takes the model's own loss, in place of TRL's fused LM head."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hyperadalora import HyperAdaLoraConfig, HyperAdaLoraModel, get_hyperadalora_model
from hyperadalora.data.instruct import format_prompt, load_instructions
from hyperadalora.train.callback import HyperAdaLoraCallback

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
STORIES = SHARED / "models" / "stories260k"
ALPACA_1K = SHARED / "data" / "instruct" / "alpaca" / "alpaca_data_1k.json"
STEPS = 20


@pytest.mark.skipif(not (STORIES.is_dir() and ALPACA_1K.is_file()), reason="needs ../shared (stories260k, Alpaca)")
def test_sft_trainer_trains_and_the_adapter_reloads(tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer
    from trl import SFTConfig, SFTTrainer

    class HyperAdaLoraSFTTrainer(SFTTrainer):
        compute_loss = Trainer.compute_loss  # the model's loss (task + γ·orth), not TRL's fused LM head

    examples = load_instructions(ALPACA_1K)[:64]
    data = Dataset.from_list([{"prompt": format_prompt(e), "completion": " " + e["output"]} for e in examples])
    torch.manual_seed(0)
    model = get_hyperadalora_model(AutoModelForCausalLM.from_pretrained(STORIES),
                                   HyperAdaLoraConfig(init_r=4, target_r=2, total_step=STEPS, tinit=2, tfinal=2,
                                                      state_lr=3e-2))
    args = SFTConfig(output_dir=str(tmp_path / "sft"), max_steps=STEPS, per_device_train_batch_size=4,
                     learning_rate=3e-3, max_length=256, logging_steps=1, save_strategy="no", report_to=[],
                     use_cpu=True, bf16=False, disable_tqdm=True, label_names=["labels"])  # TRL defaults to bf16
    trainer = HyperAdaLoraSFTTrainer(model=model, args=args, train_dataset=data,
                                     processing_class=AutoTokenizer.from_pretrained(STORIES),
                                     callbacks=[HyperAdaLoraCallback()])
    seen = trainer.data_collator([trainer.train_dataset[i] for i in range(16)])  # tokenized, completion-only labels

    def loss_on_seen() -> float:
        with torch.no_grad():
            return model.eval()(**seen).loss.item()  # eval: the committed adapters, no dropout

    before = loss_on_seen()
    trainer.train()

    after = loss_on_seen()
    assert after < 0.9 * before, (before, after)  # it learns: 3.84 -> 3.22 on the seen examples
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logs) == STEPS and all(torch.isfinite(torch.tensor([h["loss"] for h in logs])))
    assert int(model.step) == STEPS and logs[-1]["total_rank"] == 2 * len(model.adapters)  # committed and pruned

    model.save_pretrained(tmp_path / "adapter")
    loaded = HyperAdaLoraModel.from_pretrained(AutoModelForCausalLM.from_pretrained(STORIES), tmp_path / "adapter")
    ids = AutoTokenizer.from_pretrained(STORIES)(format_prompt(examples[0]), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(loaded.eval()(input_ids=ids).logits, model.eval()(input_ids=ids).logits)
