"""Fixtures of the training tests: tiny model and data on disk, and a TrainConfig factory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hyperadalora.train import TrainConfig

from .train_fixtures import write_rte, write_tiny_bert

# One thread: these models are tiny, and on a shared 2-core machine OpenMP threads waiting on each other cost
# far more than they gain.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {"model": write_tiny_bert(root / "bert"), "data": write_rte(root / "RTE")}


@pytest.fixture
def make_cfg(tiny: dict[str, Path], tmp_path: Path):
    """TrainConfig of a tiny run (6 batches of 8 per epoch); keyword arguments override."""

    def make(**overrides) -> TrainConfig:
        values = dict(task="rte", data=str(tiny["data"]), model=str(tiny["model"]), method="hyperadalora",
                      out=str(tmp_path / "run"), max_steps=4, batch_size=8, eval_batch_size=8, log_every=2,
                      tinit=1, tfinal=1, progress=False)
        values.update(overrides)
        return TrainConfig(**values)

    return make
