"""Adapters written by earlier versions keep loading: tests/fixtures/adapter_v0_1_0 was saved by 0.1.0."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import BertForSequenceClassification

from hyperadalora import HyperAdaLoraModel

FIXTURE = Path(__file__).parent / "fixtures" / "adapter_v0_1_0"
# The fixture's logits were computed on another CPU. Other SIMD widths (AVX2, AVX-512, AMX) sum the matmuls in
# another order, so the same float32 model gives logits that differ in the last bits (7.5e-9 seen on an AVX-512
# machine, for logits of order 0.06). 1e-6 is a hundred times that and far below what a wrong load would do: the
# base model without the adapter is 5e-2 away.
ACROSS_MACHINES = dict(atol=1e-6, rtol=1e-5)


def test_an_adapter_saved_by_0_1_0_loads_and_gives_its_logits(tmp_path):
    base = BertForSequenceClassification.from_pretrained(FIXTURE / "base")
    model = HyperAdaLoraModel.from_pretrained(base, FIXTURE / "adapter").eval()
    assert model.adapter_config.generation == "increment"  # what 0.1.0 trained with, stored explicitly
    expected = load_file(FIXTURE / "expected.safetensors")
    with torch.no_grad():
        logits = model(input_ids=expected["input_ids"]).logits
    torch.testing.assert_close(logits, expected["logits"], **ACROSS_MACHINES)
    # saved again by this version, it loads again: the same machine, so the same bits
    model.save_pretrained(tmp_path)
    again = HyperAdaLoraModel.from_pretrained(BertForSequenceClassification.from_pretrained(FIXTURE / "base"), tmp_path)
    with torch.no_grad():
        assert torch.equal(again.eval()(input_ids=expected["input_ids"]).logits, logits)
