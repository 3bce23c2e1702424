"""Crash-safe writes: a reader (or a resumed run) sees the old file or directory or the new one, never a torn one.

A file is written beside its destination as `.<name>.tmp-<pid>`, fsynced, renamed over it, and the directory
fsynced so that the rename itself survives a power cut. A directory is built under a temporary name by the
caller and put in place by `replace_dir`. Leftovers of a killed writer keep those names, so the next writer
can find and delete them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write `path` through a temporary file beside it (`write(tmp)`), fsync, rename over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def replace_dir(new: Path, dest: Path) -> None:
    """Put the complete directory `new` at `dest` with one rename, after fsyncing everything in it. An existing
    `dest` is first renamed aside to `.old-<name>-<pid>` (a directory cannot be renamed over a non-empty one),
    then removed."""
    for path in sorted(new.rglob("*"), reverse=True):  # files and subdirectories before their parents
        fsync_file(path) if path.is_file() else fsync_dir(path)
    fsync_dir(new)
    old = dest.with_name(f".old-{dest.name}-{os.getpid()}")
    if dest.exists():
        os.rename(dest, old)
    os.rename(new, dest)
    fsync_dir(dest.parent)
    shutil.rmtree(old, ignore_errors=True)
