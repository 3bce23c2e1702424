"""The schedule's multiplier reaches the rule from the optimizer: update_and_allocate(step) with no lr_scale."""

from __future__ import annotations

import copy

import torch
from transformers import get_linear_schedule_with_warmup

from tests.generation.test_gradient import wrap
from tests.tiny_models import tiny_batch

LR, STEPS = 1e-2, 6


def train(model, by_hand: bool) -> list[float]:
    """AdamW + a linear warm-up/decay schedule, stepped before update_and_allocate as in peft's examples."""
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=LR)
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=2, num_training_steps=STEPS + 1)
    batch = tiny_batch("bert")
    seen = []
    for t in range(1, STEPS + 1):
        model.train()(**batch).loss.backward()
        opt.step()
        scale = opt.param_groups[0]["lr"] / LR  # the multiplier of the step just taken
        sched.step()
        if by_hand:
            model.update_and_allocate(t, lr_scale=scale)
        else:
            model.update_and_allocate(t)
        opt.zero_grad()
        seen.append(model.rule.eta_scale)
    return seen


def test_a_decaying_schedule_decays_eta_with_no_lr_scale_argument():
    read = wrap(dropout=False)
    by_hand = copy.deepcopy(read)
    scales = train(read, by_hand=False)
    assert scales == train(by_hand, by_hand=True)
    assert scales[:3] == [0.0, 0.5, 1.0]  # the warm-up, then η decays
    assert all(a > b for a, b in zip(scales[2:], scales[3:], strict=False)) and scales[-1] < 0.5
    for (k, a), b in zip(read.adapter_state_dict().items(), by_hand.adapter_state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_no_scheduler_means_a_constant_multiplier_and_an_explicit_one_wins():
    model = wrap(dropout=False)
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=LR)
    batch = tiny_batch("bert")
    for t, explicit in ((1, None), (2, 0.25)):
        model.train()(**batch).loss.backward()
        opt.step()
        model.update_and_allocate(t, lr_scale=explicit)
        opt.zero_grad()
        assert model.rule.eta_scale == (1.0 if explicit is None else explicit)
    other = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)  # an optimizer of something else
    torch.optim.lr_scheduler.LambdaLR(other, lambda s: 0.1)  # its multiplier is 0.1
    other.step()
    model.train()(**batch).loss.backward()
    model.update_and_allocate(3)
    assert model.rule.eta_scale == 1.0  # read from the optimizer that holds the rule's Φ, not the last one
