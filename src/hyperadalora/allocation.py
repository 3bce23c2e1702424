"""Rank allocation: AdaLoRA's budget schedule and the pruning of generated singular values.

Pure functions over tensors; the state they read and write (masks, EMAs) lives in the model's buffers so
that it is saved, checkpointed and identical on every process.
"""

from __future__ import annotations

import torch


def budget_schedule(step: int, init_budget: int, target_budget: int, tinit: int, tfinal: int,
                    total_step: int, deltaT: int) -> tuple[int, bool]:
    """AdaLoRA's cubic schedule: (total rank budget at `step`, whether to re-mask at `step`).

    b(t) = b_init                                               for t ≤ tinit
    b(t) = b_T + (b_init − b_T)(1 − (t − tinit)/(T − tfinal − tinit))³   for tinit < t ≤ T − tfinal
    b(t) = b_T                                                  after,
    re-masking every deltaT steps in the middle phase and at every step after it (where the final
    mask, fixed at t = T − tfinal, is re-applied).
    """
    if step <= tinit:
        return init_budget, False
    if step > total_step - tfinal:
        return target_budget, True
    progress = 1 - (step - tinit) / (total_step - tfinal - tinit)
    budget = int((init_budget - target_budget) * progress**3 + target_budget)
    return budget, step % deltaT == 0


def mask_to_budget(scores: torch.Tensor, budget: int) -> torch.Tensor:
    """Keep the `budget` highest scores over all modules: a 0/1 mask shaped like `scores` (n_mod, r).

    topk rather than a threshold, so ties cannot keep more than the budget; no host sync.
    """
    flat = scores.flatten()
    keep = torch.zeros_like(flat)
    keep[torch.topk(flat, min(budget, flat.numel()), sorted=False).indices] = 1.0
    return keep.view_as(scores)


def update_sensitivity(ipt: torch.Tensor, exp_avg_ipt: torch.Tensor, exp_avg_unc: torch.Tensor,
                       beta1: float, beta2: float) -> torch.Tensor:
    """AdaLoRA's smoothed importance, in place: Ī ← β1·Ī + (1−β1)·I;  Ū ← β2·Ū + (1−β2)·|I − Ī|.

    `ipt` is the sensitivity |θ ⊙ ∂L/∂θ| of each triplet (λ_k, P[:, k], Q[k, :]), per (module, rank):
    |λ_k g_λk| + mean_i |P_ik g_Pik| + mean_j |Q_kj g_Qkj|. Returns the score Ī·Ū.
    """
    exp_avg_ipt.mul_(beta1).add_(ipt, alpha=1 - beta1)
    exp_avg_unc.mul_(beta2).add_((ipt - exp_avg_ipt).abs(), alpha=1 - beta2)
    return exp_avg_ipt * exp_avg_unc
