"""AdaLoRA's budget schedule and masking, as pure functions."""

from __future__ import annotations

import torch

from hyperadalora.allocation import budget_schedule, mask_to_budget, update_sensitivity


def test_schedule_phases():
    kw = dict(init_budget=30, target_budget=20, tinit=10, tfinal=20, total_step=100, deltaT=5)
    assert budget_schedule(10, **kw) == (30, False)
    budget, remask = budget_schedule(15, **kw)
    assert 20 < budget < 30 and remask
    assert budget_schedule(16, **kw)[1] is False
    assert budget_schedule(80, **kw) == (20, True)
    assert budget_schedule(81, **kw) == (20, True)
    budgets = [budget_schedule(t, **kw)[0] for t in range(0, 101)]
    assert all(a >= b for a, b in zip(budgets, budgets[1:], strict=False))


def test_cubic_shape_matches_adalora():
    # AdaLoRA: b = b_T + (b_0 - b_T)(1 - (t - tinit)/(T - tfinal - tinit))^3
    budget, _ = budget_schedule(50, 300, 100, 0, 0, 100, 1)
    assert budget == int(200 * 0.5**3 + 100)


def test_mask_keeps_exactly_the_budget_even_with_ties():
    scores = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.5, 2.0]])
    mask = mask_to_budget(scores, 4)
    assert mask.sum() == 4 and mask[1, 2] == 1 and mask[1, 1] == 0


def test_sensitivity_ema():
    ipt = torch.tensor([[1.0, 0.0]])
    ema, unc = torch.zeros(1, 2), torch.zeros(1, 2)
    score = update_sensitivity(ipt, ema, unc, 0.5, 0.5)
    assert torch.allclose(ema, torch.tensor([[0.5, 0.0]]))
    assert torch.allclose(unc, torch.tensor([[0.25, 0.0]]))
    assert torch.allclose(score, torch.tensor([[0.125, 0.0]]))
