"""The per-matrix ablation: the gradient rule with one learned (gain, turn) pair per matrix and kind."""

from __future__ import annotations

import math

import torch
from safetensors.torch import load_file

from hyperadalora import cli
from tests.generation.finite_differences import assert_matches_finite_differences
from tests.generation.test_gradient import step, wrap
from tests.tiny_models import tiny_batch
from tests.train.train_fixtures import write_rte, write_tiny_bert


def test_at_zero_it_is_the_gradient_rule_at_zero_which_is_adam():
    """Φ at its zero start, not trained: both rules take Adam's step, bitwise (the Adam equivalence itself is
    tests/generation/test_gradient.py::test_frozen_zero_hypernetworks_reproduce_torch_adam)."""
    models = [wrap(dropout=False), wrap(dropout=False, generation="per_matrix")]
    batch = tiny_batch("bert")
    for t in range(1, 5):
        for model in models:
            step(model, batch, None, t, lr_scale=1.0 - t / 10)
    gradient, per_matrix = (m.adapter_state_dict() for m in models)
    state = [k for k in gradient if k.startswith("state.")]
    assert "state.exp_avg" in state and "state.grad_count" in state
    for k in state:
        assert torch.equal(gradient[k], per_matrix[k]), k
    assert sorted(k for k in per_matrix if not k.startswith(("state.", "modules_to_save."))) == [
        "pairs.P", "pairs.Q", "pairs.lam"]


def test_one_pair_per_adapted_matrix_and_kind():
    model = wrap(generation="per_matrix")
    n = len(model.adapters)
    assert [tuple(p.shape) for p in model.rule.pairs.values()] == [(n, 2)] * 3
    assert sorted(name for name, _ in model.rule.named_parameters()) == ["pairs.P", "pairs.Q", "pairs.lam"]  # no hypernetwork
    step(model, tiny_batch("bert"), None, 1)
    with torch.no_grad():
        model.rule.pairs["P"][4] = torch.tensor([1.0, 0.0])  # module 4's P only
    gains = model.rule.gains(model.committed_state())
    for g in model.groups:
        gain = gains[g.name][0].expand_as(model.state(g.name))
        for pos, module in enumerate(g.modules):
            G = model.adapter_config.max_gain
            expected = math.exp(math.log(G) * math.tanh(1 / math.log(G))) if (g.kind, module) == ("P", 4) else 1.0
            assert torch.allclose(gain[pos], torch.tensor(expected)), (g.name, module)


def test_hypergradient_matches_finite_differences():
    """∂L_{t+1}/∂(c, a) through S_{t+1} = S_t + U(S_t, g_t, m_t, v_t; c, a), in double precision."""
    torch.manual_seed(0)
    model = wrap(generation="per_matrix", max_gain=4.0).double()
    batch = tiny_batch("bert")
    for t in range(1, 4):
        step(model, batch, None, t)  # moments and last gradient become non-zero
    with torch.no_grad():  # away from the start
        for p in model.rule.pairs.values():
            p.normal_(0, 0.5)

    def loss() -> torch.Tensor:
        torch.manual_seed(7)  # the same dropout masks in every evaluation
        return model.train()(**batch).loss

    pairs = model.rule.pairs
    probes = [(pairs["P"], (0, 0)), (pairs["Q"], (3, 1)), (pairs["lam"], (5, 0)), (pairs["lam"], (12, 1))]
    assert_matches_finite_differences(loss, probes)


def test_it_trains_through_the_cli(tmp_path):
    model, data, out = write_tiny_bert(tmp_path / "bert"), write_rte(tmp_path / "RTE"), tmp_path / "run"
    argv = ["train", "--task", "rte", "--data", str(data), "--model", str(model), "--out", str(out),
            "--method", "hyperadalora", "--generation", "per_matrix", "--max-steps", "3", "--batch-size", "8",
            "--tinit", "1", "--tfinal", "1", "--no-progress"]
    assert cli.main(argv) == 0
    saved = load_file(str(out / "adapter" / "adapter.safetensors"))
    pairs = [v for k, v in saved.items() if k.endswith(("pairs.P", "pairs.Q", "pairs.lam"))]
    assert len(pairs) == 3 and any(p.abs().sum() > 0 for p in pairs)  # the hypergradient moved them
