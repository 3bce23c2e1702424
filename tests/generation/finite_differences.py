"""The check both gradient rules' tests make: autograd's hypergradient against central finite differences."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def assert_matches_finite_differences(loss: Callable[[], torch.Tensor],
                                      probes: list[tuple[torch.Tensor, tuple[int, ...]]], eps: float = 1e-6) -> None:
    """For each (parameter, index): ∂loss/∂p[idx] by autograd equals (L(p+ε) − L(p−ε)) / 2ε within 1e-4."""
    grads = torch.autograd.grad(loss(), [p for p, _ in probes])
    for (p, idx), g in zip(probes, grads, strict=True):
        with torch.no_grad():
            p[idx] += eps
        up = float(loss().detach())  # a generating forward: it needs grad mode
        with torch.no_grad():
            p[idx] -= 2 * eps
        down = float(loss().detach())
        with torch.no_grad():
            p[idx] += eps
        fd = (up - down) / (2 * eps)
        assert abs(fd) > 1e-9, idx  # the probe does move the loss
        assert math.isclose(float(g[idx]), fd, rel_tol=1e-4, abs_tol=1e-10), (idx, float(g[idx]), fd)
