"""Where a benchmark figure came from: the code (git commit, and whether the sources had local changes) and the
machine. `bench` writes `{"commit", "src_dirty"}`, `compare` writes `git_commit` as "<sha>[+dirty]"; both read
`git_state`, so both apply one rule:

- the commit is HEAD of the source checkout holding this package (`repo_root`); an installed package, beside no
  checkout, has none (None), rather than the commit of whatever repository happens to contain site-packages;
- dirty means `git status --porcelain -- src` lists anything: a changed, staged or new file of the package,
  which is the code that produced the figure (results, docs and configs written beside it do not count).
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def git_state() -> tuple[str | None, bool | None]:
    """(HEAD commit, whether src/ has local changes) of the checkout holding this package; (None, None) without
    one (an installed package, or no git)."""
    from ..train.sources import repo_root

    root = repo_root()
    if root is None:
        return None, None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return (commit, bool(dirty)) if commit else (None, None)


def git_commit() -> str | None:
    """`git_state` as one string: the commit, with '+dirty' if src/ has local changes; None without a checkout."""
    commit, dirty = git_state()
    return None if commit is None else commit + ("+dirty" if dirty else "")


def machine_description() -> dict[str, Any]:
    """CPU model, core count, OS, python/torch versions and the GPU if any."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "gpu": gpu,
            "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__}
