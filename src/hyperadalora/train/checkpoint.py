"""Atomic, verifiable checkpoints, and the RNG state they carry.

A checkpoint is a directory `checkpoints/step-000123/` written as `checkpoints/.tmp-step-000123-<pid>/`, every
file fsynced, then a `manifest.json` holding the sha256 and size of every file, then one rename. A directory
without a manifest, or whose files do not match it, is not a checkpoint: `verify` says which file is wrong and
`--resume` falls back to the next older one. Tensors are safetensors, the rest JSON; optimizer / scheduler
state is `torch.save`d and read back only with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..files import fsync_file, replace_dir

MANIFEST = "manifest.json"
PREFIX = "step-"
_NAME = re.compile(r"^step-(\d+)$")


class CheckpointError(ValueError):
    """A checkpoint is incomplete or corrupt; the message names the file."""


def checkpoint_name(step: int) -> str:
    return f"{PREFIX}{step:06d}"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save(root: Path, step: int, files: dict[str, Callable[[Path], None]], keep: int) -> Path:
    """Write a checkpoint for `step` under `root` (each `files[name](path)` writes one file); keep the newest
    `keep` checkpoints. Returns the checkpoint directory."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        manifest: dict[str, Any] = {"step": step, "files": {}}
        for name, write in files.items():
            write(tmp / name)
            fsync_file(tmp / name)  # on disk before it is hashed (and the point a test kills a writer at)
            manifest["files"][name] = {"sha256": sha256(tmp / name), "bytes": (tmp / name).stat().st_size}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        replace_dir(tmp, final)  # fsyncs the manifest too; the same step again (a resumed run) replaces the old one
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune(root, keep)
    return final


def listed(root: Path) -> list[tuple[int, Path]]:
    """(step, directory) of every `step-*` directory under `root`, newest first (intact or not)."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return sorted(found, reverse=True)


def prune(root: Path, keep: int) -> None:
    for _, path in listed(root)[keep:]:
        shutil.rmtree(path, ignore_errors=True)


def remove_stale(root: Path) -> None:
    """Delete temporary directories left by a writer that was killed mid-checkpoint."""
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith((".tmp-", ".old-")):
                shutil.rmtree(p, ignore_errors=True)


def verify(path: Path, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check a checkpoint against its manifest; return the manifest or raise CheckpointError naming the file."""
    manifest_path = path / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except FileNotFoundError:
        raise CheckpointError(f"{manifest_path}: missing (the checkpoint was not completely written)") from None
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        raise CheckpointError(f"{manifest_path}: unreadable or corrupt manifest") from None
    for name in required:
        if name not in files:
            raise CheckpointError(f"{path / name}: not listed in the manifest (incomplete checkpoint)")
    for name, entry in files.items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"{file}: missing")
        size = file.stat().st_size
        if size != entry["bytes"]:
            raise CheckpointError(f"{file}: {size} bytes, the manifest says {entry['bytes']} (truncated?)")
        if sha256(file) != entry["sha256"]:
            raise CheckpointError(f"{file}: corrupt (sha256 does not match the manifest)")
    return manifest


def newest_intact(root: Path, required: tuple[str, ...] = ()) -> tuple[Path | None, list[str]]:
    """The newest checkpoint that verifies, and one line per newer one skipped (which file, why)."""
    skipped = []
    for _, path in listed(root):
        try:
            verify(path, required)
        except CheckpointError as e:
            skipped.append(f"skipped checkpoint {path.name}: {e}")
            continue
        return path, skipped
    return None, skipped


# --------------------------------------------------------------------------------------------- RNG state
def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """This process's RNG states: tensors (torch, numpy key) and JSON-able scalars (python, numpy position)."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors.update({f"cuda_{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["numpy_keys"] = torch.from_numpy(keys.astype(np.int64))
    version, internal, gauss = random.getstate()
    return tensors, {"python": [version, list(internal), gauss], "numpy": [kind, int(pos), int(has_gauss), float(cached)]}


def set_rng_state(tensors: dict[str, torch.Tensor], scalars: dict[str, Any]) -> None:
    """Restore what `rng_state` captured (CUDA states only where this machine has the devices)."""
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[f"cuda_{i}"] for i in range(torch.cuda.device_count()) if f"cuda_{i}" in tensors]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, pos, has_gauss, cached = scalars["numpy"]
    np.random.set_state((kind, tensors["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = scalars["python"]
    random.setstate((version, tuple(internal), gauss))
