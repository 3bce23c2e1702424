"""What every rule shares: how `attention_block` resolves for each shape group of a model."""

from __future__ import annotations

import pytest
import torch

from hyperadalora import HyperAdaLoraConfig, HyperAdaLoraModel
from hyperadalora.hypernet import AUTO_BLOCK, AUTO_FULL_MAX

LONG = 2 * AUTO_FULL_MAX  # the FFN width of the tiny model below: its gate/up rows and down columns


def tiny_llama_with_a_long_ffn() -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                        num_key_value_heads=2, intermediate_size=LONG, max_position_embeddings=32))


@pytest.mark.parametrize("block, long_span", [("auto", AUTO_BLOCK), ("full", None), (None, None), (256, 256)])
def test_short_matrices_get_full_attention_and_long_ones_blocks(block, long_span):
    model = HyperAdaLoraModel(tiny_llama_with_a_long_ffn(), HyperAdaLoraConfig(init_r=3, target_r=2, attention_block=block))
    spans = model.rule.attention_spans()
    long = {f"P_{LONG}", f"Q_{LONG}"}  # gate/up (d_out) and down (d_in): the only groups above the switch
    assert long < set(spans) and f"P_{LONG}" in {g.name for g in model.groups}
    assert spans == {name: long_span if name in long else None for name in spans}
    if block == "auto":  # the blocked groups train like the others
        ids = torch.randint(64, (2, 8))
        model.train()(input_ids=ids, labels=ids).loss.backward()
        assert all(p.grad is not None for p in model.rule.hypernets.parameters())


def test_the_default_is_auto_and_the_mlp_kind_has_no_spans():
    assert HyperAdaLoraConfig().attention_block == "auto"
    model = HyperAdaLoraModel(tiny_llama_with_a_long_ffn(), HyperAdaLoraConfig(init_r=3, target_r=2, hypernet="mlp"))
    assert model.rule.attention_spans() == {}


def test_auto_checkpointing_is_on_where_the_hypernetworks_would_keep_a_quarter_of_the_frozen_weights():
    from hyperadalora.generation.rule import CHECKPOINT_SHARE
    from tests.tiny_models import tiny_batch, tiny_model

    base, saved = tiny_model("bert")
    model = HyperAdaLoraModel(base, HyperAdaLoraConfig(init_r=3, target_r=2, modules_to_save=saved,
                                                       hypernet_checkpointing=False))
    # the prediction is what autograd keeps: the hypernetworks' saved tensors of one training forward
    kept: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        kept[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    outputs = []  # kept alive, so that no saved storage is freed and reused while counting
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        for kind, net in model.rule.hypernets.items():
            for g in (g for g in model.groups if g.kind == kind):
                n, T = (1, len(g.modules) * 3) if kind == "lam" else (len(g.modules), g.dim)
                outputs.append(net(torch.randn(n, T, net.in_proj.in_features)))
    params = {p.untyped_storage().data_ptr() for p in model.rule.hypernets.parameters()}
    measured = sum(b for ptr, b in kept.items() if ptr not in params)
    assert 0.9 < model.rule.saved_bytes() / measured < 1.1, (model.rule.saved_bytes(), measured)
    # "auto" compares it with the frozen weights' bytes
    auto = HyperAdaLoraModel(tiny_model("bert")[0], HyperAdaLoraConfig(init_r=3, target_r=2, modules_to_save=saved))
    predicted = auto.rule.saved_bytes()
    assert auto.rule.checkpointing  # a tiny model: the hypernetworks' activations outweigh its weights
    assert not auto.rule.decide_checkpointing(int(predicted / CHECKPOINT_SHARE) + 1)
    assert auto.rule.decide_checkpointing(int(predicted / CHECKPOINT_SHARE) - 1)
    assert not model.rule.decide_checkpointing(0) and not model.rule.checkpointing  # False stays False
    auto.train()(**tiny_batch("bert")).loss.backward()  # and it trains
    assert all(p.grad is not None for p in auto.rule.hypernets.parameters())
