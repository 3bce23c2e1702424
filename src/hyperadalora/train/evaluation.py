"""What a run is measured by: the task loss (training's objective, and the held-out loss of instruction tuning)
and the dev metrics, during training (`evaluate_run`) and of a finished run folder (`evaluate`).

Evaluation runs the unwrapped model under `torch.no_grad()`: classification gives GLUE's metrics from the
argmax of the logits; instruction tuning gives the token-weighted held-out loss and, at the end, BLEU-4 and
ROUGE-1 of greedy generations.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from ..data.instruct import IGNORE_INDEX  # the label of prompt and padding positions
from ..errors import UserInputError
from .config import INSTRUCT_TASK, TrainConfig
from .methods import ADAPTER_FILE, build_method
from .run_dir import ADAPTER_DIR, CONFIG_FILE
from .sources import Data, load_data, load_model, total_steps

if TYPE_CHECKING:
    from .run import Run


def task_loss(logits: torch.Tensor, labels: torch.Tensor, causal: bool) -> torch.Tensor:
    """Cross-entropy from the logits, identical for every method (no regulariser in it)."""
    if causal:  # next-token prediction: position t predicts token t+1; prompt and padding are -100
        return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=IGNORE_INDEX)
    return F.cross_entropy(logits.float(), labels)  # logits (B, C), labels (B,)



@torch.no_grad()
def eval_classification(model: Any, data: Data, task: str, batch_size: int, device: Any) -> dict[str, float]:
    from ..data.glue import glue_metrics

    preds, labels = [], []
    for i in range(0, len(data.dev), batch_size):
        batch = {k: v.to(device) for k, v in data.collate(data.dev[i:i + batch_size]).items()}
        labels.append(batch.pop("labels"))
        preds.append(model(**batch)["logits"].argmax(-1))  # (B,)
    return glue_metrics(task, torch.cat(preds).tolist(), torch.cat(labels).tolist())  # one host sync


@torch.no_grad()
def eval_causal(model: Any, data: Data, tokenizer: Any, cfg: TrainConfig, device: Any, generate: bool) -> dict:
    total, count = torch.zeros((), device=device), 0
    for i in range(0, len(data.dev), cfg.eval_batch_size):
        batch = {k: v.to(device) for k, v in data.collate(data.dev[i:i + cfg.eval_batch_size]).items()}
        labels = batch.pop("labels")
        logits = model(**batch)["logits"]
        n = int((labels[:, 1:] != IGNORE_INDEX).sum())
        total += task_loss(logits, labels, causal=True) * n  # token-weighted over the whole held-out set
        count += n
    metrics = {"heldout_loss": float(total) / max(count, 1)}
    if generate:
        from ..data.instruct import format_prompt
        from ..metrics import bleu4, rouge1

        preds, refs = [], []
        for ex in data.generation:
            enc = tokenizer(format_prompt(ex), return_tensors="pt", truncation=True, max_length=cfg.max_length).to(device)
            ids = model.generate(**enc, max_new_tokens=cfg.max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
            preds.append(tokenizer.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip())
            refs.append(ex["output"])
        metrics.update(bleu4=bleu4(preds, refs), rouge1=rouge1(preds, refs))
    return metrics


def evaluate_run(run: Run, final: bool) -> dict[str, Any]:
    """Dev metrics on the main process with the unwrapped model (no collective ops); shared with all. Under FSDP
    every process evaluates the same examples (the sharded blocks gather their weights collectively)."""
    from accelerate.utils import broadcast_object_list

    metrics = [None]
    if run.main or run.sharded:
        model = run.method.model
        model.eval()
        try:
            if run.data.causal:
                metrics[0] = eval_causal(model, run.data, run.tokenizer, run.cfg, run.acc.device, generate=final)
            else:
                metrics[0] = eval_classification(model, run.data, run.cfg.task, run.cfg.eval_batch_size, run.acc.device)
        finally:
            model.train()
    if run.acc.num_processes > 1 and not run.sharded:
        broadcast_object_list(metrics)
    return metrics[0]



def evaluate(run_dir: str | os.PathLike, data: str | None = None) -> dict[str, float]:
    """Dev metrics of a finished run: rebuild its model, load `adapter/`, evaluate (optionally on other data)."""
    run_dir = Path(run_dir)
    stored = run_dir / CONFIG_FILE
    if not stored.is_file():
        raise UserInputError(f"{run_dir}: no {CONFIG_FILE}; is this a run directory written by `hyperadalora train`?")
    values = json.loads(stored.read_text())
    if data is not None:
        values["data"] = data
    cfg = TrainConfig.from_dict(values, source=str(stored))
    adapter = run_dir / ADAPTER_DIR / ADAPTER_FILE
    if not adapter.is_file():
        raise UserInputError(f"{adapter}: missing; the run has not finished (continue it with --resume)")
    causal = cfg.task == INSTRUCT_TASK
    torch.manual_seed(cfg.seed)
    tokenizer, base = load_model(cfg, causal)
    data_ = load_data(cfg, tokenizer)
    method = build_method(base, cfg, causal, total_steps(cfg, len(data_.train)), data_)  # data_: LoRA-GA's start
    try:
        method.load_state_dict(load_file(str(adapter)), source=str(adapter))
    except ValueError as e:
        raise UserInputError(str(e)) from None
    model = method.model.eval()
    device = next(model.parameters()).device
    if causal:
        return eval_causal(model, data_, tokenizer, cfg, device, generate=True)
    return eval_classification(model, data_, cfg.task, cfg.eval_batch_size, device)
