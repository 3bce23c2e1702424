"""The training loop shared by every method: `train(cfg)`, read top to bottom.

    setup     model, data and method, with every check that can fail on bad input; nothing written yet
    prepare   the run folder (its one writer holds `.lock` from here to the end), config.json
    optimizer the method's optimizer and schedule, accelerate.prepare; resume from the newest intact checkpoint
    fit       optimizer steps: log, eval, checkpoints
    finish    final evaluation, adapter/, summary.json

Built on `accelerate.Accelerator`, so `torchrun` / `accelerate launch` run it data-parallel unchanged: each
process takes its slice of every global batch, only the main process writes. The pieces live beside it:
`sources` (model and data), `distributed` (accelerator, FSDP2), `evaluation` (loss and metrics), `run` (the
run's state, log and checkpoints), `run_dir` (the folder and its lock), `checkpoint` (atomic checkpoints, RNG).

Per optimizer step (1-based `step`):  forward without labels → task loss from the logits (the same for every
method) + γ·regulariser → backward → clip → optimizer.step() → scheduler.step() → method.update_and_allocate(step)
→ zero_grad().
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from ..errors import UserInputError
from ..files import atomic_write_text, replace_dir
from ..memory import peak_memory_mb, reset_peak_memory
from . import checkpoint as ckpt
from .config import INSTRUCT_TASK, TrainConfig
from .distributed import make_accelerator, shard_base_model
from .evaluation import evaluate_run, task_loss
from .methods import Method, build_method
from .run import Run
from .run_dir import (
    ADAPTER_DIR,
    CHECKPOINTS,
    LOG_FILE,
    SUMMARY_FILE,
    check_disk,
    check_out_dir,
    prepare_out_dir,
    writer_lock,
)
from .sources import Data, epoch_batches, load_data, load_model, total_steps

logger = logging.getLogger(__name__)

CKPT_FILES = ("adapter.safetensors", "optimizer.pt", "scheduler.pt", "rng.safetensors", "state.json")


class NonFiniteLossError(UserInputError):
    """The loss became NaN/inf (usually a learning rate too high); the last good checkpoint is kept."""


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train `cfg.method` on `cfg.task`; write the run into `cfg.out`; return the summary (see summary.json).

    Bad input raises UserInputError before anything is written. With `cfg.stop_after` the run stops after that
    step (checkpointed) and returns {"stopped_at": step, ...}; `cfg.resume` continues it.

    setup → prepare the run folder (locked) → optimizer → resume → fit → finish, each a function below.
    """
    cfg.validate()
    out = Path(cfg.out)
    accelerator, sharded = make_accelerator(cfg, out)
    reset_peak_memory(accelerator.device)  # summary.json's peak is this run's, also after others in this process
    prior = check_out_dir(cfg, out)
    tokenizer, data, method, steps = _setup(cfg, out)
    resuming = cfg.resume and prior is not None
    # From here on files are written, by the main process only, which holds the folder's lock to the end.
    with writer_lock(out) if accelerator.is_main_process else contextlib.nullcontext():
        prepare_out_dir(cfg, out, accelerator, resuming)
        run = _optimizer_and_run(cfg, accelerator, method, data, steps, tokenizer, sharded)
        if resuming:
            _resume(run)
        elif cfg.resume and accelerator.is_main_process:
            print(f"note: nothing to resume in {out}; starting a new run", file=sys.stderr)
        if accelerator.is_main_process and cfg.progress:
            from tqdm.auto import tqdm

            run.bar = tqdm(total=steps, initial=run.pos.step, desc=f"{cfg.method} {cfg.task}", unit="step",
                           dynamic_ncols=True)
        run.model.train()
        method.train_weights()  # schedule-free AdamW: back to the point it steps (a checkpoint holds its average)
        try:
            _fit(run)
        finally:
            run.flush()
            if run.bar is not None:
                run.bar.close()
        return _finish(run)


# ====================================================================================== setup
def _setup(cfg: TrainConfig, out: Path) -> tuple[Any, Data, Method, int]:
    """Model, data and method, with every check that can fail on bad input; nothing is written."""
    from accelerate.utils import set_seed

    set_seed(cfg.seed)
    causal = cfg.task == INSTRUCT_TASK
    tokenizer, base = load_model(cfg, causal)
    data = load_data(cfg, tokenizer)
    steps = total_steps(cfg, len(data.train))
    if cfg.method in ("hyperadalora", "adalora") and cfg.tinit >= steps - cfg.tfinal:
        raise UserInputError(f"tinit: tinit ({cfg.tinit}) must be < total steps - tfinal ({steps} - {cfg.tfinal}); "
                             "lower tinit/tfinal or train longer")
    method = build_method(base, cfg, causal, steps, data)  # data: LoRA-GA's start reads the first batches
    set_seed(cfg.seed)  # training's RNG stream starts here, so every method sees the same dropout masks
    state_bytes = sum(t.numel() * t.element_size() for t in method.state_dict().values())
    check_disk(out, (cfg.keep_checkpoints + 2) * 3 * state_bytes + 16 * 2**20)
    return tokenizer, data, method, steps


def _optimizer_and_run(cfg: TrainConfig, accelerator: Any, method: Method, data: Data, steps: int,
                       tokenizer: Any, sharded: bool) -> Run:
    """The method's optimizer and schedule, the prepared model, and the Run that holds them."""
    optimizer = method.build_optimizer()
    scheduler = method.build_scheduler(optimizer, steps)
    if sharded:
        shard_base_model(method.model, os.environ.get("FSDP_RESHARD_AFTER_FORWARD", "true").lower() != "false")
    # The scheduler is not prepared: accelerate would step it once per process.
    model, optimizer = accelerator.prepare(method.model, optimizer)
    return Run(cfg, accelerator, method, data, steps, model=model, optimizer=optimizer, scheduler=scheduler,
               tokenizer=tokenizer, sharded=sharded)


# ====================================================================================== fit
def _micro_batches(run: Run):
    """Endless stream of this process's slice of each global batch, advancing `run.pos` as it goes."""
    cfg, data, acc = run.cfg, run.data, run.acc
    per = cfg.batch_size // acc.num_processes
    while True:
        batches = epoch_batches(len(data.train), cfg.batch_size, cfg.seed, run.pos.epoch)
        while run.pos.batch_in_epoch < len(batches):
            idx = batches[run.pos.batch_in_epoch]
            run.pos.batch_in_epoch += 1
            local = idx[acc.process_index * per:(acc.process_index + 1) * per]
            yield {k: v.to(acc.device) for k, v in data.collate([data.train[i] for i in local]).items()}
        run.pos.epoch += 1
        run.pos.batch_in_epoch = 0


def _fit(run: Run) -> None:
    """Optimizer steps until `run.total` (or `cfg.stop_after`), each followed by `_after_step`."""
    cfg, acc, method, model, optimizer, scheduler = run.cfg, run.acc, run.method, run.model, run.optimizer, run.scheduler
    accum = cfg.gradient_accumulation_steps
    params = [p for g in optimizer.param_groups for p in g["params"]]
    stream = _micro_batches(run)
    zero = torch.zeros((), device=acc.device)
    while run.pos.step < run.total:
        sums = torch.zeros(3, device=acc.device)  # task, orth, loss: means over the micro-batches
        for micro in range(accum):
            batch = next(stream)
            labels = batch.pop("labels")
            sync = contextlib.nullcontext() if micro == accum - 1 else acc.no_sync(model)
            with sync:
                out = model(**batch)  # no labels: peft's AdaLoRA adds nothing, ours returns orth_loss anyway
                task = task_loss(out["logits"], labels, run.data.causal)
                reg = method.regulariser(out)
                loss = task + cfg.orth_reg_weight * reg if reg is not None else task
                acc.backward(loss / accum)
            sums += torch.stack([task.detach(), reg.detach() if reg is not None else zero, loss.detach()]).float() / accum
        # The one per-step host sync: whether to take the step at all (NaN/inf guard), agreed by all processes.
        finite = torch.isfinite(sums).all().float()
        if acc.num_processes > 1:
            finite = acc.reduce(finite, reduction="sum") / acc.num_processes
        if float(finite) < 1:
            _nonfinite(run, sums, optimizer)
            continue
        group = optimizer.param_groups[0]
        lr_scale = group["lr"] / group["initial_lr"]  # the schedule's multiplier at this step (LambdaLR sets initial_lr)
        lr = cfg.lr * lr_scale  # the method's rate (η for hyperadalora's gradient rule), as logged
        if cfg.max_grad_norm > 0:
            acc.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        if not acc.optimizer_step_was_skipped:  # fp16 overflow: the scaler skipped the step
            scheduler.step()
        run.pos.step += 1
        method.update_and_allocate(run.pos.step, lr_scale, sums[0])  # sums[0]: the step's task loss
        optimizer.zero_grad(set_to_none=True)
        run.buffer.append((run.pos.step, sums, lr, method.total_rank(), run.wall()))
        if run.bar is not None:
            run.bar.update(1)
        _after_step(run)
        if cfg.stop_after is not None and run.pos.step >= cfg.stop_after:
            return


def _nonfinite(run: Run, sums: torch.Tensor, optimizer: Any) -> None:
    """Skip the step (no optimizer step, logged) or stop with an error naming the step and the loss terms."""
    optimizer.zero_grad(set_to_none=True)
    run.method.discard_step()
    task, orth, _ = sums.tolist()
    step = run.pos.step + 1
    run.pos.skipped += 1
    if run.pos.skipped > run.cfg.skip_nonfinite:
        run.flush()
        hint = ("lower --lr or pass --skip-nonfinite N to skip such steps" if run.cfg.skip_nonfinite == 0
                else f"more than --skip-nonfinite {run.cfg.skip_nonfinite} such steps")
        raise NonFiniteLossError(f"step {step}: loss is not finite (task_loss={task}, orth_loss={orth}); stopped, "
                                 f"the last good checkpoint is kept; {hint}")
    run.flush()
    run.write_log([{"kind": "skip", "step": step, "task_loss": task, "orth_loss": orth, "skipped": run.pos.skipped,
                    "wall_s": round(run.wall(), 3)}])
    logger.warning("step %d: non-finite loss (task_loss=%s, orth_loss=%s) skipped (%d of at most %d)",
                   step, task, orth, run.pos.skipped, run.cfg.skip_nonfinite)


def _after_step(run: Run) -> None:
    cfg, step = run.cfg, run.pos.step
    last = step == run.total
    stop = cfg.stop_after is not None and step >= cfg.stop_after
    evaluate = bool(cfg.eval_every and step % cfg.eval_every == 0) or last
    save = bool(cfg.save_every and step % cfg.save_every == 0) or last or stop
    # Evaluated and saved are the method's eval weights (schedule-free AdamW's average, not the point it steps).
    with run.method.eval_weights() if evaluate or save else contextlib.nullcontext():
        if evaluate:
            run.flush()
            run.last_eval = {"step": step, "metrics": evaluate_run(run, final=last)}
            run.write_log([{"kind": "eval", **run.last_eval, "wall_s": round(run.wall(), 3)}])
            if run.cfg.tensorboard and run.main:
                run.acc.log({f"eval/{k}": v for k, v in run.last_eval["metrics"].items()}, step=step)
        elif step % cfg.log_every == 0:
            run.flush()
        if save:
            run.save_checkpoint()


# ====================================================================================== resume, finish
def _resume(run: Run) -> None:
    """Continue from the newest intact checkpoint (chosen on the main process, read by every process)."""
    from accelerate.utils import broadcast_object_list

    acc, out = run.acc, run.out
    chosen = [None]
    if acc.is_main_process:
        path, skipped = ckpt.newest_intact(out / CHECKPOINTS, CKPT_FILES)
        for line in skipped:
            print(f"warning: {line}", file=sys.stderr)
        if path is None:
            print(f"warning: no intact checkpoint in {out / CHECKPOINTS}; starting {out} from step 0", file=sys.stderr)
        chosen[0] = str(path) if path is not None else None
    if acc.num_processes > 1:
        broadcast_object_list(chosen)
    if chosen[0] is not None:
        run.load_checkpoint(Path(chosen[0]))
        if acc.is_main_process:
            print(f"resuming {out} from {Path(chosen[0]).name} (step {run.pos.step} of {run.total})", file=sys.stderr)
    if acc.is_main_process:
        if chosen[0] is None:
            (out / LOG_FILE).unlink(missing_ok=True)
        run.truncate_log()
    acc.wait_for_everyone()


def _finish(run: Run) -> dict[str, Any]:
    """The final evaluation, adapter and summary.json (or, after --stop-after, where the run stopped)."""
    cfg, acc, method, out, steps = run.cfg, run.acc, run.method, run.out, run.total
    if run.pos.step < steps:  # stop_after
        if cfg.tensorboard:
            acc.end_training()
        return {"stopped_at": run.pos.step, "steps": steps, "out": str(out)}
    if run.last_eval is None or run.last_eval["step"] != steps:  # resumed from the final checkpoint
        with method.eval_weights():
            run.last_eval = {"step": steps, "metrics": evaluate_run(run, final=True)}
    summary = {
        "method": cfg.method, "task": cfg.task, "model": cfg.model, "steps": steps, "seed": cfg.seed,
        "train_seconds": round(run.wall(), 3),
        "final_metrics": run.last_eval["metrics"], "trainable_params": method.num_trainable(),
        "peak_memory_mb": round(peak_memory_mb(acc.device), 1), "lr": cfg.lr, "head_lr": cfg.head_lr,
        "total_rank": _host(method.total_rank()), "skipped_steps": run.pos.skipped,
        "num_processes": acc.num_processes, "sharded_base_model": run.sharded,
    }
    if acc.is_main_process:
        tmp = out / f".{ADAPTER_DIR}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        with method.eval_weights():  # schedule-free AdamW: its average is the trained adapter
            method.save_adapter(tmp)
        replace_dir(tmp, out / ADAPTER_DIR)
        atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    acc.wait_for_everyone()
    if cfg.tensorboard:
        acc.end_training()
    return summary


def _host(value: Any) -> Any:
    return int(value) if isinstance(value, torch.Tensor) else value
