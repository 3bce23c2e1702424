"""Peak memory of this process, one reader for the whole package, resettable so each run reports its own.

On CUDA: the peak allocated by torch on the device (`torch.cuda.max_memory_allocated`), reset by
`torch.cuda.reset_peak_memory_stats`. On CPU: the peak resident set, VmHWM of /proc/self/status, reset by
writing "5" to /proc/self/clear_refs (Linux ≥ 4.0: VmHWM restarts from the current resident set). Not
getrusage's ru_maxrss, which no call resets and which a child inherits from its parent across fork and exec
(the kernel folds the old address space's high-water mark into the new one): it is read only where there is no
procfs (macOS), and there the peak is the process's running maximum; `reset_peak_memory` says so with a warning.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import torch

logger = logging.getLogger(__name__)


def _device(device: torch.device | str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def reset_peak_memory(device: torch.device | str | None = None) -> None:
    """Start a new peak for `device` (default: CUDA where there is one, else the CPU)."""
    device = _device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        logger.warning("cannot reset the peak resident set on this system (no /proc/self/clear_refs); peak memory "
                       "is the process's running maximum")


def peak_memory_mb(device: torch.device | str | None = None) -> float:
    """The peak since the last `reset_peak_memory` (or the process's start), in MiB: allocated on a CUDA
    `device`, else resident."""
    device = _device(device)
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's peak resident set in MiB: VmHWM where there is procfs, else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    except OSError:
        pass
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # macOS: bytes, Linux: KiB
