"""Generation rules: how the committed state becomes the adapters a training forward sees, and what the commit
after each optimizer step writes. One module per rule, each with its state, its math and its tests
(tests/generation/test_<rule>.py); the schedule's multiplier reaches them through schedule.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .gradient import GradientRule
from .increment import IncrementRule
from .literal import LiteralRule
from .per_matrix import PerMatrixRule
from .rule import Generated, Group, Rule, from_tokens, to_tokens

if TYPE_CHECKING:
    import torch

    from ..config import HyperAdaLoraConfig

RULES: dict[str, type[Rule]] = {rule.name: rule for rule in (GradientRule, IncrementRule, LiteralRule, PerMatrixRule)}

__all__ = ["RULES", "Generated", "Group", "Rule", "build_rule", "from_tokens", "to_tokens"]


def build_rule(config: HyperAdaLoraConfig, groups: list[Group], device: torch.device) -> Rule:
    """The rule named by `config.generation`, with its Φ and statistics on `device`."""
    return RULES[config.generation](config, groups, device)
