"""Where P and Q start (start.py): the gradient start's factors, its first step, and its refusals."""

from __future__ import annotations

import pytest
import torch

from hyperadalora import HyperAdaLoraConfig, HyperAdaLoraModel, get_hyperadalora_model
from hyperadalora.start import gradient_factors, orthonormal
from tests.tiny_models import NO_DROPOUT, tiny_batch, tiny_model


def config(saved, **kw) -> HyperAdaLoraConfig:
    return HyperAdaLoraConfig(**{**dict(init_r=3, target_r=2, modules_to_save=saved, state_lr=1e-2), **kw})


def mean_gradients(arch: str, batch: dict) -> dict[str, torch.Tensor]:
    """∂L/∂W of every Linear of a fresh copy of the tiny model (nn.Linear layout), by plain autograd."""
    model, _ = tiny_model(arch, **NO_DROPOUT.get(arch, {}))
    model.train()
    model(**batch).loss.backward()
    grads = {n: m.weight.grad for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m.weight.grad is not None}
    return {n: g.T if arch == "gpt2" else g for n, g in grads.items()}


@pytest.mark.parametrize("arch", ["bert", "llama"])
def test_the_gradient_start_puts_p_and_q_on_the_gradients_top_singular_vectors(arch):
    base, saved = tiny_model(arch, **NO_DROPOUT.get(arch, {}))
    reference, _ = tiny_model(arch, **NO_DROPOUT.get(arch, {}))
    batch = tiny_batch(arch)
    grads = mean_gradients(arch, batch)
    model = get_hyperadalora_model(base, config(saved, init_pq="gradient"),
                                   train_step=lambda: base(**batch).loss.backward())
    assert all(p.grad is None for p in base.parameters())  # nothing left behind by the estimate
    assert {n for n, p in model.named_parameters() if p.requires_grad} == \
        {n for n, p in get_hyperadalora_model(reference, config(saved)).named_parameters() if p.requires_grad}
    for name, adapter in zip(model.adapted_names, model.adapters, strict=True):
        P, _, Q = model.triplet(adapter, committed=True)  # (d_out, r), (r,), (r, d_in)
        U, s, Vh = torch.linalg.svd(grads[name], full_matrices=False)
        # singular vectors are defined up to sign: compare |cosines| of matched columns
        torch.testing.assert_close((P * U[:, :3]).sum(0).abs(), torch.ones(3), atol=1e-4, rtol=0)
        torch.testing.assert_close((Q * Vh[:3]).sum(1).abs(), torch.ones(3), atol=1e-4, rtol=0)
    with torch.no_grad():  # Λ = 0: the base model's output
        assert torch.equal(model.eval()(**batch).logits, reference.eval()(**batch).logits)


def test_the_first_gradient_on_lambda_is_the_gradients_singular_values():
    """With P = U_r, Q = V_rᵀ and Λ = 0: ∂L_task/∂λ_k = scaling · u_kᵀ G v_k = ± scaling · s_k, the largest a
    rank-one direction can have, for every module."""
    arch = "bert"
    base, saved = tiny_model(arch, **NO_DROPOUT[arch])
    batch = tiny_batch(arch)
    grads = mean_gradients(arch, batch)
    model = get_hyperadalora_model(base, config(saved, init_pq="gradient", orth_reg_weight=0.0),
                                   train_step=lambda: base(**batch).loss.backward())
    out = model.train()(**batch)  # step 1: the generated values are S itself (Adam's moments are still 0)
    out["task_loss"].backward()
    g_lam = model.rule.acc[model.rule.slices["lam"]].view_as(model.lam)  # (n_mod, r): the caught ∂L/∂Λ
    for i, name in enumerate(model.adapted_names):
        s = torch.linalg.svdvals(grads[name])[:3]
        torch.testing.assert_close(g_lam[i].abs(), model.scaling * s, rtol=1e-4, atol=1e-7)


def test_the_gradient_start_is_refused_without_a_train_step_and_not_needed_to_load(tmp_path):
    base, saved = tiny_model("bert")
    with pytest.raises(ValueError, match="^init_pq: 'gradient' needs train_step"):
        get_hyperadalora_model(base, config(saved, init_pq="gradient"))
    base, saved = tiny_model("bert")
    batch = tiny_batch("bert")
    model = get_hyperadalora_model(base, config(saved, init_pq="gradient"), train_step=lambda: base(**batch).loss.backward())
    model.save_pretrained(tmp_path)
    loaded = HyperAdaLoraModel.from_pretrained(tiny_model("bert")[0], tmp_path)  # the state comes from the folder
    for g in model.groups:
        assert torch.equal(loaded.state(g.name), model.state(g.name))


def test_orthonormal_factors():
    P = orthonormal((4, 40, 3), rows=False)  # (n, d_out, r)
    Q = orthonormal((4, 3, 50), rows=True)  # (n, r, d_in)
    eye = torch.eye(3).expand(4, 3, 3)
    torch.testing.assert_close(P.transpose(1, 2) @ P, eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(Q @ Q.transpose(1, 2), eye, atol=1e-5, rtol=0)


def test_gradient_factors_name_a_layer_the_step_never_reached():
    model, _ = tiny_model("bert")
    with pytest.raises(ValueError, match="ran no backward through 'bert.encoder.layer.0.attention.self.query'"):
        gradient_factors(model, ["bert.encoder.layer.0.attention.self.query"], lambda: None, 3)
