"""Warm starts of the gradient rule's Φ: a round trip, and every refusal before Φ is touched."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from hyperadalora import HyperAdaLoraConfig, HyperAdaLoraModel, get_hyperadalora_model
from hyperadalora.warm_start import (
    MAX_BYTES,
    load_warm_start,
    phi_state,
    save_warm_start,
    warm_start_from_adapter,
)
from tests.tiny_models import tiny_batch, tiny_model


def wrap(arch: str = "bert", **kw) -> HyperAdaLoraModel:
    base, saved = tiny_model(arch)
    cfg = dict(init_r=3, target_r=2, modules_to_save=saved, state_lr=1e-2, generation="gradient") | kw
    return get_hyperadalora_model(base, HyperAdaLoraConfig(**cfg))


def trained_phi(model: HyperAdaLoraModel) -> None:
    """Move Φ away from its zero start (the output projections included)."""
    with torch.no_grad():
        for p in model.rule.hypernets.parameters():
            p.add_(torch.randn_like(p) * 0.1)


@pytest.fixture
def warm(tmp_path):
    source = wrap()
    trained_phi(source)
    path = tmp_path / "warm.safetensors"
    save_warm_start(source.rule, path, trained_on=["tiny bert, seed 0"])
    return source, path


def test_a_warm_start_gives_the_saved_phi_to_another_architecture(warm):
    source, path = warm
    target = wrap("llama", hypernet_init=str(path))  # other shapes and module count: Φ is shared, so it fits
    for (k, a), b in zip(source.rule.hypernets.state_dict().items(), target.rule.hypernets.state_dict().values(),
                         strict=True):
        assert torch.equal(a, b), k
    # Not Adam's zero start any more: the gains the rule would apply differ from 1.
    target.train()(**tiny_batch("llama")).loss.backward()
    target.update_and_allocate(1)
    gains = target.rule.gains(target.committed_state())
    assert any((g - 1).abs().max() > 1e-3 for g, _ in gains.values())


def test_the_zero_start_is_untouched_by_the_option_default():
    model = wrap()
    assert all(torch.equal(net.out_proj.weight, torch.zeros_like(net.out_proj.weight))
               for net in model.rule.hypernets.values())


def test_a_warm_start_from_a_saved_adapter_folder_needs_no_base_model(tmp_path):
    source = wrap()
    trained_phi(source)
    source.save_pretrained(tmp_path / "adapter")
    warm_start_from_adapter(tmp_path / "adapter", tmp_path / "w.safetensors", trained_on=["x"])
    with safe_open(str(tmp_path / "w.safetensors"), framework="pt") as f:
        assert json.loads(f.metadata()["trained_on"]) == ["x"]
    target = wrap(hypernet_init=str(tmp_path / "w.safetensors"))
    assert all(torch.equal(a, b) for a, b in zip(phi_state(source.rule).values(), phi_state(target.rule).values(),
                                                  strict=True))


def test_from_pretrained_does_not_need_the_warm_start_file(warm, tmp_path):
    _, path = warm
    model = wrap(hypernet_init=str(path))
    model.save_pretrained(tmp_path / "run")
    path.unlink()  # the saved folder carries Φ: the warm start file is not read again
    loaded = HyperAdaLoraModel.from_pretrained(tiny_model("bert")[0], tmp_path / "run")
    assert torch.equal(loaded.rule.hypernets["P"].out_proj.weight, model.rule.hypernets["P"].out_proj.weight)


def test_a_warm_start_for_another_rank_is_refused_naming_the_field(warm):
    _, path = warm
    with pytest.raises(ValueError, match=r"init_r=3, this config has init_r=4; set init_r=3"):
        wrap(init_r=4, target_r=2, hypernet_init=str(path))


def test_a_warm_start_without_progress_features_is_refused_naming_the_field(warm):
    """The shipped file predates the field: a file that does not name it was written without the features."""
    _, path = warm
    with pytest.raises(ValueError, match=r"progress_features=false, this config has progress_features=true"):
        wrap(progress_features=True, total_step=10, hypernet_init=str(path))
    with pytest.raises(ValueError, match=r"progress_features=false, this config has progress_features=true"):
        wrap(progress_features=True, total_step=10, hypernet_init="glue-alpaca-r3")


def test_an_edited_tensor_fails_the_checksum_and_phi_stays_at_zero(warm, tmp_path):
    _, path = warm
    with safe_open(str(path), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    key = next(iter(tensors))
    tensors[key] = tensors[key] + 1
    bad = tmp_path / "edited.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    model = wrap()
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_warm_start(model.rule, str(bad))
    assert torch.equal(model.rule.hypernets["P"].out_proj.weight,
                       torch.zeros_like(model.rule.hypernets["P"].out_proj.weight))


def test_unreadable_oversized_and_foreign_files_are_refused(tmp_path, warm):
    _, path = warm
    model = wrap()
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_warm_start(model.rule, str(junk))
    big = tmp_path / "big.safetensors"
    with open(big, "wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ValueError, match="more than a warm start can be"):
        load_warm_start(model.rule, str(big))
    with pytest.raises(ValueError, match="neither a shipped warm start"):
        load_warm_start(model.rule, str(tmp_path / "missing.safetensors"))
    with safe_open(str(path), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    old = tmp_path / "old.safetensors"
    save_file(tensors, str(old), metadata={**meta, "format_version": "0"})
    with pytest.raises(ValueError, match="format version '0'"):
        load_warm_start(model.rule, str(old))


def test_a_warm_start_is_for_the_gradient_rule_only():
    with pytest.raises(ValueError, match="hypernet_init: a warm start is a gradient-rule"):
        HyperAdaLoraConfig(init_r=3, target_r=2, generation="per_matrix", hypernet_init="x.safetensors")


def test_the_shipped_warm_start_loads_by_name_and_its_checksum_is_checked(monkeypatch):
    import hyperadalora.warm_start as ws

    assert set(ws.SHIPPED) == {"glue-alpaca-r3"}
    # the settings it was trained with: 0.3's defaults (r = 3, h = 32, …, max_gain 10)
    model = wrap("llama", hypernet_init="glue-alpaca-r3", max_gain=10.0)
    with safe_open(str(ws.SHIPPED_DIR / ws.SHIPPED["glue-alpaca-r3"][0]), framework="pt") as f:
        meta = f.metadata()
        saved = {k: f.get_tensor(k) for k in f.keys()}
    assert len(json.loads(meta["trained_on"])) == 3  # SST-2, NLG, MRPC
    for k, v in saved.items():
        assert torch.equal(model.rule.hypernets.state_dict()[k.removeprefix("hypernets.")], v), k
    # the package's record of the checksum is checked, not only the file's own
    monkeypatch.setitem(ws.SHIPPED, "glue-alpaca-r3", (ws.SHIPPED["glue-alpaca-r3"][0], "0" * 64))
    with pytest.raises(ValueError, match="checksum mismatch"):
        wrap("llama", hypernet_init="glue-alpaca-r3", max_gain=10.0)
    with pytest.raises(ValueError, match="hypernet_hidden"):  # it fits the default hypernetworks only
        wrap("llama", hypernet_init="glue-alpaca-r3", hypernet_hidden=16, hypernet_heads=2, max_gain=10.0)
    with pytest.raises(ValueError, match=r"max_gain=10.0, this config has max_gain=1000.0; set max_gain=10.0"):
        wrap("llama", hypernet_init="glue-alpaca-r3")  # written before max_gain was a fit field: read as 10
