"""`HyperAdaLoraCallback`: HyperAdaLoRA under `transformers.Trainer`.

Trainer's order per optimizer step is: optimizer.step() → on_optimizer_step → lr_scheduler.step() →
zero_grad() → global_step += 1 → on_step_end. `update_and_allocate` needs the hypernetworks' new weights (after
optimizer.step) and the forward's generated triplets (kept until the next forward), not the parameters'
gradients, so on_step_end with the already incremented, 1-based `state.global_step` is the right place, exactly
as in `hyperadalora train`. The schedule's multiplier of the step just taken (lr_t / lr_0, which the gradient
rule applies to its state rate) is read in on_optimizer_step, before the scheduler moves on. (peft's AdaLoRA
reads `p.grad` and so belongs in on_optimizer_step instead.)

Checkpoints: Trainer saves a model that is not a PreTrainedModel as its full `state_dict()` (model.safetensors:
base weights, adapter state, the rule's statistics) and resumes through `load_state_dict`, which brings back
every buffer (the rule's host copies follow through its load hook). on_save adds the adapter alone, as
`save_pretrained` writes it, to each checkpoint-<step> folder: `HyperAdaLoraModel.from_pretrained(base,
"out/checkpoint-<step>")` loads it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..model import HyperAdaLoraModel

logger = logging.getLogger(__name__)


class HyperAdaLoraCallback(TrainerCallback):
    """Call `update_and_allocate(global_step)` after every optimizer step and log the total rank.

    Usage::

        model = get_hyperadalora_model(base, HyperAdaLoraConfig(..., total_step=max_steps))
        trainer = Trainer(model=model, args=TrainingArguments(..., label_names=["labels"]),
                          train_dataset=ds, callbacks=[HyperAdaLoraCallback()])

    `label_names` because Trainer finds the label columns in the model class's forward (ours takes **kwargs);
    `remove_unused_columns` may stay on: the instance's forward carries the base model's signature. Trainer's
    loss is `out.loss` = task loss + γ·orth. `total_rank` is added to the logs (and to
    `state.log_history`); integrations that ran their on_log before this callback do not see it.
    """

    def __init__(self, model: HyperAdaLoraModel | None = None) -> None:
        self.model = model
        self.lr_scale = 1.0

    def _find(self, model: Any) -> HyperAdaLoraModel:
        if self.model is not None:
            return self.model
        while not isinstance(model, HyperAdaLoraModel) and hasattr(model, "module"):
            model = model.module  # DDP / accelerate wrappers
        if not isinstance(model, HyperAdaLoraModel):
            raise TypeError(f"HyperAdaLoraCallback: the Trainer's model is {type(model).__name__}, not a "
                            "HyperAdaLoraModel; pass the model: HyperAdaLoraCallback(model)")
        self.model = model
        return model

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       model: Any = None, **kwargs: Any) -> None:
        m = self._find(model)
        total = m.adapter_config.total_step
        if total is None:
            logger.warning("HyperAdaLoraConfig.total_step is None: adapters are committed every step but no rank "
                           "is pruned; set total_step=%d for this run", state.max_steps)
        elif total != state.max_steps:
            logger.warning("HyperAdaLoraConfig.total_step=%d but the Trainer runs %d steps; the rank schedule "
                           "follows total_step", total, state.max_steps)

    def on_optimizer_step(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                          optimizer: Any = None, **kwargs: Any) -> None:
        if optimizer is not None:
            group = optimizer.param_groups[0]
            initial = group.get("initial_lr")  # set by the LambdaLR schedules Trainer builds
            self.lr_scale = group["lr"] / initial if initial else 1.0

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    model: Any = None, **kwargs: Any) -> None:
        self._find(model).update_and_allocate(state.global_step, self.lr_scale)

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                model: Any = None, **kwargs: Any) -> None:
        if args.should_save:  # the processes that write checkpoints (the main one, or one per node)
            self._find(model).save_pretrained(Path(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"))

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, Any] | None = None, model: Any = None, **kwargs: Any) -> None:
        if logs is None or not any(k in logs for k in ("loss", "learning_rate")):
            return  # only training logs carry the rank budget
        rank = self._find(model).total_rank  # host sync, at log time only
        logs["total_rank"] = rank
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1]["total_rank"] = rank
