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
