"""The model API a peft user expects: adapters checked by module name, a self-describing saved config,
disable_adapter / merge / unmerge, and no stale per-forward state."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from hyperadalora import HyperAdaLoraConfig, HyperAdaLoraModel, __version__, get_hyperadalora_model
from tests.tiny_models import NO_DROPOUT, tiny_batch, tiny_model


def wrap(arch: str = "bert", base=None, **kw) -> HyperAdaLoraModel:
    model, saved = tiny_model(arch)
    cfg = dict(init_r=3, target_r=2, modules_to_save=saved, state_lr=1e-2)
    cfg.update(kw)
    return get_hyperadalora_model(base if base is not None else model, HyperAdaLoraConfig(**cfg))


def train(model: HyperAdaLoraModel, steps: int = 3) -> None:
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2)
    batch = tiny_batch("bert")
    model.train()
    for t in range(1, steps + 1):
        model(**batch).loss.backward()
        opt.step()
        model.update_and_allocate(t)
        opt.zero_grad()


def reordered_bert():
    """The tiny BERT with `key` registered before `query` in every layer: same shapes, another discovery order."""
    base, _ = tiny_model("bert")
    for layer in base.bert.encoder.layer:
        attn = layer.attention.self
        query = attn.query
        del attn._modules["query"]
        attn.query = query  # re-registered last
    return base


# --- 1. adapters are matched by module name --------------------------------------------------------
def test_an_adapter_loaded_into_a_reordered_model_is_refused_naming_the_module(tmp_path):
    model = wrap()
    train(model)
    model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"adapted module #0 is 'bert.encoder.layer.0.attention.self.query' in the "
                                         r"adapter but 'bert.encoder.layer.0.attention.self.key' in this model"):
        HyperAdaLoraModel.from_pretrained(reordered_bert(), tmp_path)


def test_an_adapter_for_other_modules_of_the_same_shapes_is_refused(tmp_path):
    model = wrap(target_modules=["query"])
    model.save_pretrained(tmp_path)
    other = wrap(target_modules=["key"])
    with pytest.raises(ValueError, match="different config.*target_modules"):
        other.load_pretrained_adapter(tmp_path)
    # the same targets written by the user as a regex, so the configs agree: the names still catch it
    config = json.loads((tmp_path / "hyperadalora_config.json").read_text())
    config["target_modules"] = r".*\.key"
    (tmp_path / "hyperadalora_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="adapted module #0 is .*query' in the adapter but .*key' in this model"):
        HyperAdaLoraModel.from_pretrained(tiny_model("bert")[0], tmp_path)


# --- 2. the saved config names its version; a newer one loads with a warning ---------------------------
def test_saved_config_carries_the_version_and_newer_keys_load_with_a_warning(tmp_path):
    model = wrap()
    train(model)
    model.save_pretrained(tmp_path)
    path = tmp_path / "hyperadalora_config.json"
    saved = json.loads(path.read_text())
    assert saved["hyperadalora_version"] == __version__
    saved.update({"hyperadalora_version": "9.0.0", "future_option": 3, "another": True})
    path.write_text(json.dumps(saved))
    with pytest.warns(UserWarning, match=r"written by hyperadalora 9.0.0; ignoring fields .*another, future_option"):
        loaded = HyperAdaLoraModel.from_pretrained(tiny_model("bert")[0], tmp_path)
    batch = tiny_batch("bert")
    with torch.no_grad():
        assert torch.equal(model.eval()(**batch).logits, loaded.eval()(**batch).logits)


def test_user_written_config_keeps_strict_typo_suggestions():
    with pytest.raises(ValueError, match=r"unknown field 'hypernet_hiden'; did you mean 'hypernet_hidden'"):
        HyperAdaLoraConfig.from_dict({"hypernet_hiden": 16})


def test_a_removed_option_at_a_non_default_value_is_refused_by_name(tmp_path):
    wrap().save_pretrained(tmp_path)
    path = tmp_path / "hyperadalora_config.json"
    saved = json.loads(path.read_text())
    saved.pop("hyperadalora_version")
    saved["commit_every"] = 4
    path.write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=r"saved with commit_every=4, an option removed in hyperadalora 0.2.0"):
        HyperAdaLoraConfig.load(tmp_path)


# --- 3. disable_adapter, merge / unmerge ---------------------------------------------------------------
def test_disable_adapter_gives_the_base_model():
    reference, _ = tiny_model("bert")
    model = wrap()
    train(model)
    batch = tiny_batch("bert")
    model.eval()
    with torch.no_grad():
        adapted = model(**batch).logits
        with model.disable_adapter():
            disabled = model(**batch).logits
        again = model(**batch).logits
        base = reference(**batch).logits
    assert torch.allclose(disabled, base, atol=1e-6)
    assert not torch.allclose(adapted, base, atol=1e-4)  # the adapters do something
    assert torch.equal(again, adapted)  # and are back after the block


@pytest.mark.parametrize("merge, unmerge", [("merge", "unmerge"), ("merge_adapter", "unmerge_adapter")])
def test_merge_then_unmerge_restores_the_base_weights(merge, unmerge):
    """merge()/unmerge() and peft's names for them, merge_adapter()/unmerge_adapter(), do the same."""
    model = wrap()
    train(model)
    before = {n: p.clone() for n, p in model.base_model.named_parameters()}
    batch = tiny_batch("bert")
    model.eval()
    with torch.no_grad():
        adapted = model(**batch).logits
        getattr(model, merge)(safe_merge=True)
        assert all(a.merged for a in model.adapters)
        query = "bert.encoder.layer.0.attention.self.query.base_layer.weight"
        assert not torch.allclose(model.get_base_model().get_parameter(query), before[query])  # ΔW folded in
        assert torch.allclose(model(**batch).logits, adapted, atol=1e-5)  # merged weights, adapters skipped
        getattr(model, unmerge)()
        assert not any(a.merged for a in model.adapters)
        assert torch.allclose(model(**batch).logits, adapted, atol=1e-5)
    for n, p in model.base_model.named_parameters():
        assert torch.allclose(p, before[n], atol=1e-7), n


def test_merge_adapter_takes_peft_adapter_names():
    model = wrap()
    model.merge_adapter(["default"])  # peft's name of the one adapter
    with pytest.raises(ValueError, match=r"merge_adapter: adapter_names=\['other'\]; a HyperAdaLoraModel has one adapter"):
        model.merge_adapter(["other"])


def test_training_a_merged_model_is_refused():
    model = wrap()
    model.merge()
    with pytest.raises(RuntimeError, match="unmerge"):
        model.train()(**tiny_batch("bert"))


def test_safe_merge_refuses_a_non_finite_adapter_and_writes_nothing():
    model = wrap()
    train(model)
    with torch.no_grad():
        model.lam[3, 0] = float("nan")
    before = {n: p.clone() for n, p in model.base_model.named_parameters()}
    with pytest.raises(ValueError, match=r"merge: the merged weight of .* is not finite"):
        model.merge(safe_merge=True)
    assert not any(a.merged for a in model.adapters)
    for n, p in model.base_model.named_parameters():
        assert torch.equal(p, before[n]), n


# --- 4. no state that depends on call history ------------------------------------------------------------
def test_calling_the_base_model_directly_is_correct_in_eval_and_refused_in_training():
    model = wrap()
    train(model)
    batch = tiny_batch("bert")
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.base_model(**batch).logits, model(**batch).logits)
    model.train()
    model(**batch)  # a training forward's triplets stay in place for the backward ...
    with torch.no_grad():  # ... but a later direct inference call reads the committed state, not them
        torch.manual_seed(0)
        direct = model.base_model(**batch).logits
        torch.manual_seed(0)
        committed = model(**batch).logits  # no grad: the wrapper reads the committed state too
    assert torch.equal(direct, committed)
    with pytest.raises(RuntimeError, match="training forward ran through the base model directly"):
        model.base_model(**batch)


def test_activation_checkpointing_recomputes_with_the_generated_adapters():
    plain = wrap(base=tiny_model("bert", **NO_DROPOUT["bert"])[0])
    checkpointed = wrap(base=tiny_model("bert", **NO_DROPOUT["bert"])[0])
    checkpointed.base_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    batch = tiny_batch("bert")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in (plain, checkpointed):
            train(model, 2)
            torch.manual_seed(0)
            model.train()(**batch).loss.backward()
    for (n, a), b in zip(plain.named_parameters(), checkpointed.parameters(), strict=True):
        if a.requires_grad:
            assert torch.allclose(a.grad, b.grad, atol=1e-6), n  # recomputation read the same generated adapters


# --- 5. the names a peft user reaches for ------------------------------------------------------------------
def test_get_base_model_is_the_wrapped_model_with_its_adapters():
    base, _ = tiny_model("bert")
    model = wrap(base=base)
    assert model.get_base_model() is base
    assert model.get_base_model().bert.encoder.layer[0].attention.self.query is model.adapters[0]  # as peft's


@pytest.mark.parametrize("arch", ["bert", "llama"])
def test_forward_shows_the_base_models_signature(arch):
    """transformers.Trainer keeps only the columns inspect.signature(model.forward) names."""
    import copy
    import inspect

    model = wrap(arch)
    base = inspect.signature(model.base_model.forward)
    assert inspect.signature(model.forward) == base
    assert {"input_ids", "attention_mask", "labels"} <= set(base.parameters)
    twin = copy.deepcopy(model)
    assert twin.forward.__self__ is twin and inspect.signature(twin.forward) == base  # rebound, not the original's
    batch = tiny_batch(arch)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, model.forward(**batch).logits)
