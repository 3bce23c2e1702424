"""A run folder: its files, the checks before anything is written into it, and its one writer.

    out/config.json  log.jsonl  summary.json  checkpoints/step-000123/  adapter/  tensorboard/  .lock

`check_out_dir` refuses a folder holding another run (or, without --resume / --overwrite, this one);
`prepare_out_dir` then creates or replaces it and drops what a killed writer left. `writer_lock` makes the
training process the folder's only writer for the whole run: an `fcntl.flock` on `.lock`, which the kernel
releases when the process dies however it dies, so a kill -9 leaves no stale lock to clear by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import UserInputError
from ..files import atomic_write_text
from . import checkpoint as ckpt
from .config import TrainConfig

CONFIG_FILE, LOG_FILE, SUMMARY_FILE = "config.json", "log.jsonl", "summary.json"
CHECKPOINTS, ADAPTER_DIR = "checkpoints", "adapter"
LOCK_FILE = ".lock"
RUN_ARTEFACTS = (CONFIG_FILE, LOG_FILE, SUMMARY_FILE, CHECKPOINTS, ADAPTER_DIR, "tensorboard")


@contextlib.contextmanager
def writer_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on `out/.lock` (creating `out`) until the block ends or the process dies.

    A second writer is refused at once, naming the holder's pid, which the holder writes into the file. The
    file itself stays: deleting it on exit would let a third process lock a fresh file while a second still
    holds the unlinked one."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise UserInputError(f"out: {out} is being written by another process (pid {holder}); wait for it to "
                                 "finish or stop it, or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def check_out_dir(cfg: TrainConfig, out: Path) -> TrainConfig | None:
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
    if any(p.name != LOCK_FILE for p in out.iterdir()) and not cfg.overwrite:
        raise UserInputError(f"out: {out} is not empty and holds no hyperadalora run; choose a new or empty directory")
    return None


def check_disk(out: Path, need_bytes: int) -> None:
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


def prepare_out_dir(cfg: TrainConfig, out: Path, accelerator: Any, resuming: bool) -> None:
    """Replace (--overwrite) or create the run directory, write the run's config, drop a killed writer's leftovers."""
    if accelerator.is_main_process:
        if cfg.overwrite:
            for name in RUN_ARTEFACTS:
                p = out / name
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        if not resuming:
            (out / LOG_FILE).unlink(missing_ok=True)
            atomic_write_text(out / CONFIG_FILE, json.dumps(cfg.to_dict(), indent=2) + "\n")
        ckpt.remove_stale(out / CHECKPOINTS)
        for stale in [*out.glob(".*.tmp-*"), *out.glob(f".old-{ADAPTER_DIR}-*")]:  # left by a killed writer
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
    accelerator.wait_for_everyone()
    if cfg.tensorboard:
        accelerator.init_trackers("tensorboard", config={k: v for k, v in cfg.to_dict().items()
                                                          if isinstance(v, int | float | str | bool)})
