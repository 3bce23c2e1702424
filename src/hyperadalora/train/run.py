"""One training run's state: where it stands (`Position`), its step log, and its checkpoints (`Run`).

`train/loop.py` sets a Run up and drives it. The log is `log.jsonl`, one JSON record per line, appended and
fsynced by the main process: a "train" record per optimizer step (buffered, written once per `log_every`
with one host sync), an "eval" record per evaluation, a "skip" record per skipped non-finite step. A checkpoint
holds the adapter state, the optimizer, the schedule, every process's RNG state and the position
(`checkpoint.save`: atomic, with a manifest).
"""

from __future__ import annotations

import json
import logging
import os
import pickle  # only for pickle.UnpicklingError: files are read with torch.load(weights_only=True)
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..errors import UserInputError
from ..files import atomic_write_text
from . import checkpoint as ckpt
from .config import TrainConfig
from .methods import Method
from .run_dir import CHECKPOINTS, LOG_FILE
from .sources import Data

logger = logging.getLogger(__name__)


@dataclass
class Position:
    """Where training stands: optimizer steps done, data position, skipped steps, training time so far."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    skipped: int = 0
    wall_s: float = 0.0


class Run:
    """One training run's pieces, set up by `train` and driven by `_fit`: the prepared model (DDP-wrapped where
    there are several processes; `method.model` is the unwrapped one), its optimizer and schedule, and where
    training stands."""

    def __init__(self, cfg: TrainConfig, accelerator: Any, method: Method, data: Data, steps: int, *, model: Any,
                 optimizer: Any, scheduler: Any, tokenizer: Any, sharded: bool) -> None:
        self.cfg, self.acc, self.method, self.data, self.total = cfg, accelerator, method, data, steps
        self.model, self.optimizer, self.scheduler, self.tokenizer = model, optimizer, scheduler, tokenizer
        self.sharded = sharded  # FSDP: the base model's blocks are sharded, so every process runs every forward
        self.out = Path(cfg.out)
        self.pos = Position()
        self.buffer: list[tuple[int, torch.Tensor, float, Any, float]] = []  # step, [task, orth, loss], lr, rank, wall
        self.last_eval: dict[str, Any] | None = None
        self.session_start = time.monotonic()
        self.wall_at_start = 0.0
        self.bar = None

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
    def save_checkpoint(self) -> None:
        """Every process contributes its RNG state; the main process writes; all wait for the rename."""
        from accelerate.utils import gather_object

        self.flush()
        rng = gather_object([ckpt.rng_state()])  # one (tensors, scalars) per process
        if self.main:
            rng_tensors = {f"rank{r}.{k}": v for r, (t, _) in enumerate(rng) for k, v in t.items()}
            state = {"step": self.pos.step, "epoch": self.pos.epoch, "batch_in_epoch": self.pos.batch_in_epoch,
                     "skipped": self.pos.skipped, "wall_s": self.wall(), "num_processes": self.acc.num_processes,
                     "method": self.method.extra_state(), "rng": [s for _, s in rng],
                     "last_eval": self.last_eval}
            optimizer, scheduler = self.optimizer, self.scheduler
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

    def load_checkpoint(self, path: Path) -> None:
        """Restore everything from a verified checkpoint (torch.load only with weights_only=True)."""
        try:
            state = json.loads((path / "state.json").read_text())
            self.method.load_state_dict(load_file(str(path / "adapter.safetensors")), source=str(path / "adapter.safetensors"))
            self.method.load_extra_state(state["method"])
            self.optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
            self.scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
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
        ckpt.set_rng_state({k[len(prefix):]: v for k, v in rng.items() if k.startswith(prefix)}, state["rng"][rank])
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
        atomic_write_text(path, "".join(kept))
