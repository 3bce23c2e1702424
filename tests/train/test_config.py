"""TrainConfig: validation with one-line messages, config files, and every shipped configs/*.yaml."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hyperadalora.errors import UserInputError
from hyperadalora.train import TrainConfig

REPO = Path(__file__).resolve().parents[2]
BASE = dict(task="rte", out="runs/x")


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_parse(path):
    cfg = TrainConfig.from_file(path)
    assert cfg.out and cfg.task


@pytest.mark.parametrize(("method", "variant_name"), [("hyperadalora", "default"), ("adalora", "adalora"),
                                                      ("lora", "lora"), ("head", "head")])
def test_sst2_configs_are_seed_0_of_the_committed_comparison(method, variant_name):
    """The main job's config computes exactly what the compare preset's seed-0 run of that method computed, so
    scripts/main.sh may print the committed comparison beside it (HyperAdaLoRA at its default rate, the others
    at their swept one)."""
    from hyperadalora.bench.compare import _canonical
    from hyperadalora.bench.experiments import build_plan

    config = TrainConfig.from_file(REPO / "configs" / f"sst2_minilm_{method}.yaml")
    plan = build_plan("defaults", task="sst2")
    variant = next(v for v in plan.variants if v.name == variant_name)
    fields = plan.train_fields(variant, 0, config.out)
    fields["lr"] = config.lr
    assert _canonical(config.to_dict()) == _canonical(fields)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"max_steps": -5}, r"^max_steps: must be a positive integer"),
    ({"batch_size": 0}, r"^batch_size: must be a positive integer, got 0"),
    ({"init_r": 0}, r"^init_r: must be a positive integer"),
    ({"orth_reg_weight": -0.1}, r"^orth_reg_weight: must be >= 0"),
    ({"lr": 0}, r"^lr: must be > 0"),
    ({"target_r": 3, "init_r": 3}, r"^target_r: must be smaller than init_r"),
    ({"method": "hyperadalorra"}, r"^method: unknown value 'hyperadalorra' \(did you mean 'hyperadalora'\?\)"),
    ({"task": "rtee"}, r"^task: unknown task 'rtee' \(did you mean 'rte'\?\)"),
    ({"task": None}, r"^task: is required"),
    ({"out": None}, r"^out: is required"),
    ({"lr": "fast"}, r"^lr: expected float or null, got 'fast' \(str\)"),
    ({"max_steps": 2.5}, r"^max_steps: expected int or null"),
    ({"target_modules": "query"}, r"^target_modules: expected list or null"),
    ({"max_steps": 10, "tinit": 6, "tfinal": 4}, r"^tinit: tinit \(6\) must be < max_steps - tfinal"),
    ({"resume": True, "overwrite": True}, r"^resume: --resume and --overwrite contradict"),
    ({"task": "instruct", "method": "head"}, r"^method: 'head' trains only a classifier head"),
    ({"mixed_precision": "fp8"}, r"^mixed_precision: unknown value 'fp8'"),
    ({"lora_dropout": 1.0}, r"^lora_dropout: must be in \[0, 1\)"),
])
def test_absurd_values_are_refused_naming_the_field(overrides, message):
    with pytest.raises(UserInputError, match=message) as e:
        TrainConfig(**{**BASE, **overrides})
    assert "\n" not in str(e.value)


def test_glue_directory_names_are_accepted():
    assert TrainConfig(task="sst-2", out="x").task == "sst-2"


def test_from_dict_refuses_unknown_keys_with_a_suggestion():
    with pytest.raises(UserInputError, match=r"^cfg.yaml: unknown field 'max_step' \(did you mean 'max_steps'\?\)$"):
        TrainConfig.from_dict({**BASE, "max_step": 3}, source="cfg.yaml")


@pytest.mark.parametrize(("name", "text", "message"), [
    ("bad.yaml", "task: rte\nout: [unclosed\n", r"bad.yaml: line 3: not valid YAML"),
    ("bad.json", '{"task": "rte",\n "out": }', r"bad.json: line 2: not valid JSON"),
    ("list.yaml", "- task\n- rte\n", r"list.yaml: expected a mapping of field names to values, got list"),
    ("typo.yaml", "task: rte\nout: x\nbatchsize: 8\n", r"typo.yaml: unknown field 'batchsize' \(did you mean 'batch_size'\?\)"),
    ("type.yaml", "task: rte\nout: x\nmax_steps: many\n", r"max_steps: expected int or null, got 'many'"),
])
def test_malformed_config_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserInputError, match=message):
        TrainConfig.from_file(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(UserInputError, match="config file not found"):
        TrainConfig.from_file(tmp_path / "nope.yaml")


def test_every_field_has_help():
    for f in dataclasses.fields(TrainConfig):
        assert f.metadata.get("help"), f.name


def test_alpaca_config_is_seed_0_of_the_committed_nlg_comparison():
    from hyperadalora.bench.compare import _canonical
    from hyperadalora.bench.experiments import build_plan

    config = TrainConfig.from_file(REPO / "configs" / "alpaca_stories260k_hyperadalora.yaml")
    plan = build_plan("nlg-defaults")
    fields = plan.train_fields(next(v for v in plan.variants if v.name == "default"), 0, config.out)
    fields["lr"] = config.lr
    assert _canonical(config.to_dict()) == _canonical(fields)


@pytest.mark.parametrize("value", ["auto", "full", None, 128])
def test_attention_block_accepts_auto_full_none_and_integers(value):
    assert TrainConfig(**BASE, attention_block=value).attention_block == value


@pytest.mark.parametrize("value, message", [
    ("atuo", r"^attention_block: unknown value 'atuo' \(did you mean 'auto'\?\)"),
    (0, r"^attention_block: must be a positive integer"),
    (2.5, r"^attention_block: expected int or str or null"),
])
def test_attention_block_refuses_other_values(value, message):
    with pytest.raises(UserInputError, match=message):
        TrainConfig(**BASE, attention_block=value)
