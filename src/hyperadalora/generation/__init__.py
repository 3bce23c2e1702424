"""Generation rules: how the shared hypernetworks turn the committed state into the adapters a training
forward sees, and what the commit after each optimizer step writes. One module per rule, each with its math."""

from __future__ import annotations

from .gradient import GradientRule
from .increment import IncrementRule
from .literal import LiteralRule
from .rule import Generated, Group, Rule, from_tokens, to_tokens

RULES: dict[str, type] = {"gradient": GradientRule, "increment": IncrementRule, "literal": LiteralRule}

__all__ = ["RULES", "Generated", "Group", "Rule", "build_rule", "from_tokens", "to_tokens"]


def build_rule(generation: str) -> Rule:
    """The rule named by `HyperAdaLoraConfig.generation`."""
    return RULES[generation]()
