"""The package's one peak-memory reader: resettable, so each run in a process reports its own peak."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hyperadalora.memory import peak_memory_mb, peak_rss_mb, reset_peak_memory

SPIKE_MB = 256


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux procfs to reset VmHWM")
def test_reset_forgets_an_earlier_peak_on_cpu():
    spike = torch.ones(SPIKE_MB * 2**20 // 4)  # touched pages: resident, then freed (munmap) below
    high = peak_rss_mb()
    del spike
    assert peak_memory_mb("cpu") > high - SPIKE_MB / 2  # without a reset the peak stays
    reset_peak_memory("cpu")
    assert peak_memory_mb("cpu") < high - SPIKE_MB / 2
