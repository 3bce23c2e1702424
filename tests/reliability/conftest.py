"""Fixtures of the reliability suite (helpers in reliability_harness.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .reliability_harness import run_cli, train_args, write_rte, write_tiny_bert


@pytest.fixture(autouse=True)
def one_torch_thread():
    """In-process runs use one thread, as the subprocesses do (OMP_NUM_THREADS=1): two threads on a shared
    2-core machine spin against each other and slow tiny models down many times."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Session-wide tiny model (hidden 32) and data; the 'other' model differs in hidden size (48);
    'model_no_dropout' has no dropout (so runs with different process counts can be compared)."""
    root = tmp_path_factory.mktemp("assets")
    return {
        "model": write_tiny_bert(root / "bert"),
        "other_model": write_tiny_bert(root / "bert48", hidden=48),
        "model_no_dropout": write_tiny_bert(root / "bert-no-dropout", dropout=0.0),
        "data": write_rte(root / "RTE"),
    }


@pytest.fixture(scope="session")
def reference(assets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted 12-step run (checkpoints every 3 steps): what every interrupted run must reproduce."""
    out = tmp_path_factory.mktemp("reference") / "run"
    result = run_cli(train_args(assets, out, "--save-every", "3"))
    assert result.returncode == 0, result.stderr
    return out
