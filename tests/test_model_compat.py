"""Adapters written by earlier versions keep loading: tests/fixtures/adapter_v0_1_0 was saved by 0.1.0."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import BertForSequenceClassification

from hyperadalora import HyperAdaLoraModel

FIXTURE = Path(__file__).parent / "fixtures" / "adapter_v0_1_0"


def test_an_adapter_saved_by_0_1_0_loads_and_gives_its_logits(tmp_path):
    base = BertForSequenceClassification.from_pretrained(FIXTURE / "base")
    model = HyperAdaLoraModel.from_pretrained(base, FIXTURE / "adapter").eval()
    assert model.adapter_config.generation == "increment"  # what 0.1.0 trained with, stored explicitly
    expected = load_file(FIXTURE / "expected.safetensors")
    with torch.no_grad():
        assert torch.equal(model(input_ids=expected["input_ids"]).logits, expected["logits"])
    # saved again by this version, it loads again
    model.save_pretrained(tmp_path)
    again = HyperAdaLoraModel.from_pretrained(BertForSequenceClassification.from_pretrained(FIXTURE / "base"), tmp_path)
    with torch.no_grad():
        assert torch.equal(again.eval()(input_ids=expected["input_ids"]).logits, expected["logits"])
