"""Gradient-conditioned generation (the default): the hypernetworks read each entry's value *and what
backprop says about it*, and generate the next state.

For every entry s of the state S = (P, Λ, Q), after t gradients g_1..g_t (g_t taken at the state the step-t
forward used), with Adam's moments

    m_t = β1·m_{t−1} + (1 − β1)·g_t,    v_t = β2·v_{t−1} + (1 − β2)·g_t²,
    d_t = √(v_t / (1 − β2^t)) + ε,      m̂_t/d_t = m_t / (1 − β1^t) / d_t     (Adam's normalised step),

the hypernetwork X ∈ {P, Λ, Q} reads per token (a row of P, a column of Q, one singular value) the features
of each of its entries

    [ s/σ,  g_t/d_t,  m̂_t/d_t,  log d_t − mean_matrix(log d_t) ]     (all of order 1; σ = init_std or σ_Λ)

and outputs two numbers per entry (c, a). The training forward of step t+1 reads

    S_{t+1} = S_t + U_t,   U_t = −η_t·( γ(c)·m̂_t/d_t + α(a)·g_t/d_t ) − η_t·λ_wd·S_t,
    γ(c) = exp(log G · tanh(c / log G)) ∈ [1/G, G],    α(a) = G·tanh(a / G) ∈ [−G, G],

with η_t = state_lr × lr_scale (the schedule). γ rescales each entry's Adam step, α turns it towards the
newest gradient; both are bounded by G = max_gain. The output projection starts at zero, so γ = 1, α = 0:
the first steps *are* AdamW on (P, Λ, Q) at rate η, exactly (tested against torch.optim.Adam).

Training Φ: the adapters at step t+1 see S_t + U(·; Φ), so the backward of step t+1 gives both g_{t+1} =
∂L_{t+1}/∂S_{t+1} (caught by hooks on the generated tensors) and ∂L_{t+1}/∂Φ = g_{t+1}·∂U_t/∂Φ, the
one-step hypergradient (Baydin et al. 2018; Lorraine & Duvenaud 2018), which the optimizer applies to Φ.
The generated value is the commit: update_and_allocate writes S_{t+1} and folds g_{t+1} into the moments,
with no second hypernetwork forward. Under DDP the caught gradient is all-reduced (mean) first, so every
process commits the same state.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from .rule import Generated, from_tokens, run_hypernet, to_tokens, token_scale

if TYPE_CHECKING:
    from ..model import HyperAdaLoraModel

FEATURES = 4  # value, normalised gradient, Adam's normalised step, relative log second moment
OUTPUTS = 2  # c (log-gain of the Adam step), a (coefficient of the normalised gradient)


class GradientRule:
    name = "gradient"

    def __init__(self) -> None:
        self.count = 0  # gradients folded into the moments (host copy of the `grad_count` buffer)
        self.lr_scale = 1.0  # schedule multiplier of the next step (host copy of the `lr_scale` buffer)
        self.acc: torch.Tensor | None = None  # (N,) gradient of the running step; not a buffer (DDP broadcasts those)
        self.slices: dict[str, slice] = {}

    def token_dims(self, r: int) -> dict[str, tuple[int, int]]:
        return {"P": (r * FEATURES, r * OUTPUTS), "lam": (FEATURES, OUTPUTS), "Q": (r * FEATURES, r * OUTPUTS)}

    def register_state(self, model: HyperAdaLoraModel) -> None:
        start = 0
        for g in model.groups:  # one flat (N,) layout for the moments: elementwise updates in one call each
            n = model.state(g.name).numel()
            self.slices[g.name] = slice(start, start + n)
            start += n
        like = model.lam
        for name in ("last_grad", "exp_avg", "exp_avg_sq"):  # g_t, m_t, v_t: optimizer statistics are state
            model.register_buffer(name, torch.zeros(start, device=like.device))
        model.register_buffer("grad_count", torch.zeros((), dtype=torch.long, device=like.device))
        # float64: the host copy must come back exactly on resume (an fp32 round trip would change η in the last bits)
        model.register_buffer("lr_scale", torch.ones((), dtype=torch.float64, device=like.device))

    def _view(self, flat: torch.Tensor, name: str, shape: torch.Size) -> torch.Tensor:
        return flat[self.slices[name]].view(shape)

    def _accumulator(self, model: HyperAdaLoraModel) -> torch.Tensor:
        if self.acc is None or self.acc.device != model.exp_avg.device:
            self.acc = torch.zeros_like(model.exp_avg)
        return self.acc

    def _steps(self, model: HyperAdaLoraModel):
        """Per group: (group, S, m̂/d, g/d, γ, α), the hypernetworks' gain and turn with a graph into Φ."""
        cfg = model.adapter_config
        t, G = self.count, cfg.max_gain
        bc1 = 1 - cfg.state_beta1 ** t if t else 1.0  # at t = 0 the moments are 0 and so is the step
        bc2 = 1 - cfg.state_beta2 ** t if t else 1.0
        denom = (model.exp_avg_sq.sqrt() / math.sqrt(bc2)).add_(cfg.state_eps)  # (N,) d_t, as torch's Adam
        step = model.exp_avg / denom / bc1  # (N,) m̂_t / d_t
        grad = model.last_grad / denom  # (N,) g_t / d_t
        log_d = denom.log()  # (N,)
        log_G = math.log(G)
        for g in model.groups:
            S = model.state(g.name)
            dm, dg, ld = (self._view(x, g.name, S.shape) for x in (step, grad, log_d))
            ld = ld - (ld.mean() if g.kind == "lam" else ld.mean(dim=(1, 2), keepdim=True))  # per matrix
            feats = torch.stack([S / token_scale(model, g.kind), dg, dm, ld], dim=-1)  # (*S.shape, F)
            out = from_tokens(g.kind, run_hypernet(model, g.kind, to_tokens(g.kind, feats)), S.shape)  # (*S.shape, 2)
            gain = torch.exp(log_G * torch.tanh(out[..., 0] / log_G))  # γ(c) ∈ [1/G, G]; exactly 1 at c = 0
            turn = G * torch.tanh(out[..., 1] / G)  # α(a) ∈ [−G, G]; exactly 0 at a = 0
            yield g, S, dm, dg, gain, turn

    def generate(self, model: HyperAdaLoraModel) -> Generated:
        cfg = model.adapter_config
        eta = cfg.state_lr * self.lr_scale
        acc = self._accumulator(model)
        values = {}
        with model.hypernet_rng():
            for g, S, dm, dg, gain, turn in self._steps(model):
                U = -eta * (gain * dm + turn * dg)
                if cfg.state_weight_decay:
                    U = U - eta * cfg.state_weight_decay * S
                value = S + U
                if value.requires_grad:
                    value.register_hook(_accumulate_into(self._view(acc, g.name, S.shape)))
                values[g.name] = value
        return Generated(values)

    @torch.no_grad()
    def gains(self, model: HyperAdaLoraModel) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The gain γ and turn α the hypernetworks would apply at the next step, per group (for inspection)."""
        return {g.name: (gain, turn) for g, _, _, _, gain, turn in self._steps(model)}

    @torch.no_grad()
    def commit(self, model: HyperAdaLoraModel, gen: Generated | None, lr_scale: float) -> None:
        if gen is None:  # no training forward since the last commit
            return
        cfg = model.adapter_config
        acc = self._accumulator(model)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(acc)  # every process folds in the same (mean) gradient
            acc.div_(torch.distributed.get_world_size())
        for name, value in gen.values.items():
            model.state(name).copy_(value)  # the generated value is the commit
        model.exp_avg.lerp_(acc, 1 - cfg.state_beta1)  # as torch's Adam
        model.exp_avg_sq.mul_(cfg.state_beta2).addcmul_(acc, acc, value=1 - cfg.state_beta2)
        model.last_grad.copy_(acc)
        acc.zero_()
        self.count += 1
        model.grad_count.add_(1)
        self.lr_scale = float(lr_scale)
        model.lr_scale.fill_(self.lr_scale)

    def discard(self, model: HyperAdaLoraModel) -> None:
        if self.acc is not None:
            self.acc.zero_()

    def after_load(self, model: HyperAdaLoraModel) -> None:
        self.count = int(model.grad_count)  # host syncs, at load time only
        self.lr_scale = float(model.lr_scale)
        self.discard(model)


def _accumulate_into(target: torch.Tensor):
    def hook(grad: torch.Tensor) -> None:  # returns None: the gradient itself flows on unchanged
        target.add_(grad)
    return hook
