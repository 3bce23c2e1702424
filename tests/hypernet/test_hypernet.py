"""Each hypernetwork kind: identity at initialisation, shapes, and which tokens see which."""

from __future__ import annotations

import pytest
import torch

from hyperadalora.hypernet import build_hypernet


def make(kind: str, pos: bool = False):
    torch.manual_seed(0)
    net = build_hypernet(kind, in_dim=3, out_dim=3, hidden=16, heads=4, layers=2, ffn=32, dropout=0.0,
                         position_encoding=pos)
    torch.nn.init.normal_(net.out_proj.weight)  # leave the identity start to see the mixing
    return net


@pytest.mark.parametrize("kind", ["attention", "mlp", "cnn"])
def test_output_is_zero_at_initialisation(kind):
    net = build_hypernet(kind, 12, 6, 16, 4, 1, 32, 0.0, True)  # e.g. r = 3 rows with 4 features -> 2 outputs each
    assert torch.equal(net(torch.randn(2, 10, 12)), torch.zeros(2, 10, 6))


@pytest.mark.parametrize("kind, mixes_far, mixes_near", [("attention", True, True), ("cnn", False, True), ("mlp", False, False)])
def test_token_interaction(kind, mixes_far, mixes_near):
    net = make(kind)
    x = torch.randn(1, 12, 3)
    y = net(x)
    x2 = x.clone()
    x2[0, 0] += 1.0  # perturb the first token only
    changed = (net(x2) - y).abs().amax(-1)[0] > 1e-6  # (T,)
    assert bool(changed[0])
    assert bool(changed[1]) == mixes_near
    assert bool(changed[-1]) == mixes_far


def test_position_codes_separate_identical_tokens():
    x = torch.zeros(1, 5, 3)
    assert (make("mlp", pos=False)(x).std(1) < 1e-6).all()
    assert (make("mlp", pos=True)(x).std(1) > 1e-3).all()


def test_block_attention_stays_within_blocks():
    torch.manual_seed(0)
    net = build_hypernet("attention", 3, 3, 16, 4, 1, 32, 0.0, False, attention_block=4)
    torch.nn.init.normal_(net.out_proj.weight)
    x = torch.randn(1, 12, 3)
    x2 = x.clone()
    x2[0, 0] += 1.0
    changed = (net(x2) - net(x)).abs().amax(-1)[0] > 1e-6  # (T,)
    assert changed[:4].all() and not changed[4:].any()
