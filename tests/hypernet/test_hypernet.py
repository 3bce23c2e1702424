"""Each hypernetwork kind: identity at initialisation, shapes, and which tokens see which."""

from __future__ import annotations

import pytest
import torch

from hyperadalora.hypernet import AUTO_BLOCK, AUTO_FULL_MAX, attention_span, build_hypernet


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


@pytest.mark.parametrize("block, length, span", [
    ("auto", 64, None), ("auto", 172, None), ("auto", AUTO_FULL_MAX, None),  # stories260k's matrices: eq. 8
    ("auto", 384, AUTO_BLOCK), ("auto", 1536, AUTO_BLOCK),  # MiniLM's: blocks of 128
    ("auto", 4096, AUTO_BLOCK), ("auto", 14336, AUTO_BLOCK), ("auto", 18944, AUTO_BLOCK), ("auto", 3584, AUTO_BLOCK),
    ("auto", 2 * 3 * 5 * 71, 142),  # 2,130 = 142·15: the divisor nearest AUTO_BLOCK in [AUTO_BLOCK/2, 2·AUTO_BLOCK]
    ("auto", 2053, AUTO_BLOCK),  # a prime: blocks of AUTO_BLOCK, the last one takes the remainder
    (None, 14336, None), ("full", 14336, None),
    (128, 1536, 128), (128, 128, None), (100, 1536, None),  # an integer: blocks only where it divides the length
])
def test_attention_span(block, length, span):
    assert attention_span(block, length) == span


def attention_net(block):
    torch.manual_seed(0)
    net = build_hypernet("attention", 3, 3, 8, 2, 1, 16, 0.0, True, attention_block=block)
    torch.nn.init.normal_(net.out_proj.weight)
    return net


def test_auto_is_full_attention_up_to_the_switch_and_blocks_above():
    short = torch.randn(1, AUTO_FULL_MAX, 3)
    assert torch.equal(attention_net("auto")(short), attention_net(None)(short))
    long = torch.randn(1, 2 * AUTO_FULL_MAX, 3)
    blocked = attention_net(AUTO_BLOCK)(long)
    assert torch.equal(attention_net("auto")(long), blocked)
    assert not torch.allclose(attention_net(None)(long), blocked)


def test_auto_block_without_a_divisor_keeps_the_remainder_in_the_last_block():
    net = attention_net("auto")
    T = 2053  # prime: 15 blocks of 128, the last one 133 tokens
    x = torch.randn(1, T, 3)
    y = net(x)
    for where, changed_span in ((0, slice(0, AUTO_BLOCK)), (T - 1, slice(T - 133, T))):
        x2 = x.clone()
        x2[0, where] += 1.0
        changed = (net(x2) - y).abs().amax(-1)[0] > 1e-6  # (T,)
        expected = torch.zeros(T, dtype=torch.bool)
        expected[changed_span] = True
        assert torch.equal(changed, expected)
