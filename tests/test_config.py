"""Every impossible setting is refused with a one-line message naming the field and the fix."""

from __future__ import annotations

import pytest

from hyperadalora import HyperAdaLoraConfig


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(init_r=3, target_r=3), r"target_r: must be smaller than init_r"),
    (dict(init_r=0, target_r=0), r"init_r: must be a positive integer"),
    (dict(total_step=100, tinit=60, tfinal=40), r"tinit \+ tfinal .* must be < total_step"),
    (dict(orth_reg_weight=-0.1), r"orth_reg_weight: must be >= 0"),
    (dict(hypernet="transformer"), r"hypernet: unknown kind 'transformer'; choose one of attention, mlp, cnn"),
    (dict(generation="recurrent"), r"generation: unknown value"),
    (dict(importance="random"), r"importance: unknown value"),
    (dict(hypernet_hidden=30, hypernet_heads=4), r"hypernet_heads: must divide hypernet_hidden"),
    (dict(hypernet_checkpointing="sometimes"), r"hypernet_checkpointing: must be true, false or 'auto'"),
    (dict(hypernet_compile=True, hypernet_checkpointing=True), r"hypernet_compile: cannot be combined"),
    (dict(init_pq="random"), r"init_pq: unknown value 'random'"),
    (dict(hypernet_init=""), r"hypernet_init: must be 'zero'"),
    (dict(target_modules=[]), r"target_modules: is an empty list"),
    (dict(deltaT=0), r"deltaT: must be a positive integer"),
    (dict(attention_block="blocks"), r"attention_block: must be 'auto', 'full', None or a positive integer"),
    (dict(attention_block=0), r"attention_block: must be 'auto', 'full', None or a positive integer"),
    (dict(attention_block=True), r"attention_block: must be 'auto', 'full', None or a positive integer"),
    (dict(attention_block=1.5), r"attention_block: must be 'auto', 'full', None or a positive integer"),
    (dict(progress_features=True), r"progress_features: needs total_step"),
    (dict(progress_features=True, total_step=10, generation="per_matrix"), r"progress_features: is read by .*'gradient'"),
    (dict(hypergradient_horizon=0), r"hypergradient_horizon: must be a positive integer"),
    (dict(hypergradient_horizon=2, generation="literal"), r"hypergradient_horizon: is a gradient rule's"),
])
def test_bad_values_are_refused(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        HyperAdaLoraConfig(**kwargs)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("HyperAdaLoraConfig.")


def test_unknown_key_gets_a_suggestion():
    with pytest.raises(ValueError, match="unknown field 'orth_reg_wieght'; did you mean 'orth_reg_weight'"):
        HyperAdaLoraConfig.from_dict({"orth_reg_wieght": 0.1})


def test_round_trip_and_literal_preset(tmp_path):
    cfg = HyperAdaLoraConfig(init_r=4, target_r=2, total_step=50, tinit=5, tfinal=5)
    cfg.save(tmp_path)
    assert HyperAdaLoraConfig.load(tmp_path) == cfg
    lit = HyperAdaLoraConfig.paper_literal()
    assert (lit.generation, lit.normalize_tokens, lit.position_encoding, lit.init_r) == ("literal", False, False, 3)


@pytest.mark.parametrize("given, kept", [("auto", "auto"), ("full", None), (None, None), (128, 128)])
def test_attention_block_values_parse_and_round_trip(tmp_path, given, kept):
    cfg = HyperAdaLoraConfig.from_dict({"attention_block": given})
    assert cfg.attention_block == kept  # "full" is saved as null, the spelling every version wrote
    cfg.save(tmp_path)
    assert HyperAdaLoraConfig.load(tmp_path).attention_block == kept


def test_the_default_attention_block_is_auto():
    assert HyperAdaLoraConfig().attention_block == "auto"


def test_every_field_has_help():
    import dataclasses

    assert all(f.metadata.get("help") for f in dataclasses.fields(HyperAdaLoraConfig))
