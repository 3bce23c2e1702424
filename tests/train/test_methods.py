"""The harness builds HyperAdaLoraConfig from TrainConfig by field name: nothing can be added to one and
silently missed by the other."""

from __future__ import annotations

import dataclasses

from hyperadalora import HyperAdaLoraConfig
from hyperadalora.train.config import HYPER_ONLY_FIELDS, TrainConfig
from hyperadalora.train.methods import DERIVED_CORE_FIELDS, hyperadalora_config


def test_every_core_field_is_a_train_field_or_derived():
    core = {f.name for f in dataclasses.fields(HyperAdaLoraConfig)}
    train = {f.name for f in dataclasses.fields(TrainConfig)}
    assert DERIVED_CORE_FIELDS <= core
    missing = core - DERIVED_CORE_FIELDS - train
    assert not missing, f"HyperAdaLoraConfig fields the harness cannot set: {sorted(missing)}"


def test_hyperadalora_only_train_fields_exist_in_the_core_with_its_defaults():
    core = {f.name: f for f in dataclasses.fields(HyperAdaLoraConfig)}
    for name in HYPER_ONLY_FIELDS - {"meta_lr"}:
        assert name in core, name
        train_default = next(f.default for f in dataclasses.fields(TrainConfig) if f.name == name)
        assert train_default == core[name].default, name


def test_the_mapping_copies_shared_fields_and_derives_the_rest():
    cfg = TrainConfig(task="rte", out="x", lr=3e-3, weight_decay=0.01, hypernet="mlp", max_gain=5.0, init_r=4,
                      target_r=2, tinit=1, seed=7)
    core = hyperadalora_config(cfg, ["query"], ["classifier"], 50)
    assert (core.hypernet, core.max_gain, core.init_r, core.target_r, core.tinit, core.seed) == ("mlp", 5.0, 4, 2, 1, 7)
    assert (core.state_lr, core.state_weight_decay, core.total_step) == (3e-3, 0.01, 50)
    assert core.target_modules == ["query"] and core.modules_to_save == ["classifier"]
