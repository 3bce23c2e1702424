"""Where P and Q start (`init_pq`); Λ starts at 0 in every case, so the adapted model starts as the base model.

The paper says only "a normal distribution" (§3.2). Three starts, the same for HyperAdaLoRA and for peft's
AdaLoRA in the comparison (train/methods.py), so that a difference between the two is the hypernetworks':

- "normal": P, Q ~ N(0, init_std²), AdaLoRA's start and the paper's.
- "orthogonal": P with orthonormal columns, Q with orthonormal rows (PᵀP = QQᵀ = I: eq. 7's regulariser starts
  at its minimum), random directions.
- "gradient": LoRA-GA's idea in SVD form. With G = E[∂L/∂W] over a few batches and G = U·diag(s)·Vᵀ its SVD,

      P = U[:, :r],   Q = V[:, :r]ᵀ,

  so that with Λ = 0 the first gradient on Λ is ∂L/∂λ_k = scaling · u_kᵀ G v_k = scaling · s_k: the first steps
  move ΔW = P·diag(Λ)·Q along the r directions of steepest descent of rank one, instead of r random directions
  that a Λ step barely aligns with the loss (P and Q get no gradient of their own while Λ = 0). The gradient is
  peft's LoRA-GA estimate (`peft.preprocess_loraga`): the mean gradient of each target weight over the batches
  that `train_step` runs.

docs/method.md ("Where P and Q start") has the measurements.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn


def orthonormal(shape: tuple[int, ...] | torch.Size, rows: bool, device: torch.device | None = None) -> torch.Tensor:
    """A random (…, a, b) factor with orthonormal columns (rows=False: P, d_out × r, PᵀP = I) or orthonormal rows
    (rows=True: Q, r × d_in, QQᵀ = I): the Q factor of the QR decomposition of a Gaussian matrix, per leading index."""
    *lead, a, b = shape
    tall = (*lead, b, a) if rows else (*lead, a, b)  # QR wants a tall matrix: (…, long side, r)
    q = torch.linalg.qr(torch.randn(*tall, device=device)).Q  # (…, long, r), orthonormal columns
    return (q.transpose(-1, -2) if rows else q).contiguous()  # LAPACK hands Q back column-major


def gradient_factors(model: nn.Module, names: Sequence[str], train_step: Callable[[], None],
                     r: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{name: (P (d_out, r), Q (r, d_in))} for the `nn.Linear` / `Conv1D` layers `names` of the bare `model` (before
    any adapter is injected): the top-r left and right singular vectors of the mean gradient of each layer's weight
    over the forward + backward passes `train_step` runs (as `peft.preprocess_loraga` takes it). The model's
    parameters keep their `requires_grad` and are left with no `.grad`."""
    try:
        from peft import LoraConfig, LoraGAConfig, preprocess_loraga
    except ImportError:  # LoRA-GA came to peft after the oldest version this package accepts
        raise ValueError("init_pq: 'gradient' needs a peft with LoRA-GA (peft.preprocess_loraga); upgrade peft or "
                         "use init_pq='orthogonal'") from None
    from transformers.pytorch_utils import Conv1D

    config = LoraConfig(r=r, target_modules=list(names), init_lora_weights="lora_ga", lora_ga_config=LoraGAConfig())
    with warnings.catch_warnings():  # peft counts backward calls with full backward hooks on frozen-input layers
        warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
        preprocess_loraga(model, config, train_step)
    out = {}
    for name in names:
        layer = model.get_submodule(name)
        grad = getattr(layer, "_peft_loraga_grad", None)
        if grad is None:
            raise ValueError(f"init_pq='gradient': train_step ran no backward through {name!r}; pass a train_step "
                             "that runs the model's forward and backward on a few training batches")
        del layer._peft_loraga_grad
        g = grad.float().T if isinstance(layer, Conv1D) else grad.float()  # (d_out, d_in), nn.Linear's layout
        U, _, Vh = torch.linalg.svd(g, full_matrices=False)  # (d_out, k), (k,), (k, d_in), singular values descending
        out[name] = (U[:, :r].contiguous(), Vh[:r].contiguous())
    return out
