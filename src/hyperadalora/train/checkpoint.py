"""Atomic, verifiable checkpoints and atomic small files.

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
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
PREFIX = "step-"
_NAME = re.compile(r"^step-(\d+)$")


class CheckpointError(ValueError):
    """A checkpoint is incomplete or corrupt; the message names the file."""


def checkpoint_name(step: int) -> str:
    return f"{PREFIX}{step:06d}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write `path` through a temporary file beside it, fsync, rename: readers see the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


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
            _fsync_file(tmp / name)
            manifest["files"][name] = {"sha256": sha256(tmp / name), "bytes": (tmp / name).stat().st_size}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        _fsync_file(tmp / MANIFEST)
        _fsync_dir(tmp)
        if final.exists():  # the same step again (a resumed run re-saving): move the old one out of the way
            old = root / f".old-{final.name}-{os.getpid()}"
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
        _fsync_dir(root)
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
