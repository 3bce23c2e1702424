"""Shared fixtures: the table of tiny architectures, offline Hub."""

from __future__ import annotations

import os

import pytest
import torch

from tests.tiny_models import TINY_MODELS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)  # the CI machine has 2 cores; one thread avoids OpenMP oversubscription


@pytest.fixture(params=sorted(TINY_MODELS))
def arch(request) -> str:
    return request.param
