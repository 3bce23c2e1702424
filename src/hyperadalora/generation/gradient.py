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

The rule's state, in the manner of optax's `ScaleByAdamState(count, mu, nu)`: `count` = t, `exp_avg` = m_t,
`exp_avg_sq` = v_t (one flat (N,) layout over every group, so each update is one elementwise call),
`last_grad` = g_t and `lr_scale` (the schedule's multiplier of the next step, float64 so that η comes back
exactly on resume). They are buffers of the rule, saved with the adapter as 0.2 named them ("state.grad_count",
"state.exp_avg", …); t and lr_scale also live as host numbers, refreshed on every load, so that a step reads no
device value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from .rule import Generated, Group, Rule, State, from_tokens, run_hypernet, to_tokens, token_scale

if TYPE_CHECKING:
    from ..config import HyperAdaLoraConfig

FEATURES = 4  # value, normalised gradient, Adam's normalised step, relative log second moment
OUTPUTS = 2  # c (log-gain of the Adam step), a (coefficient of the normalised gradient)


class GradientRule(Rule):
    name = "gradient"
    SAVED_NAMES = {"count": "grad_count"}

    def __init__(self, config: HyperAdaLoraConfig, groups: list[Group], device: torch.device) -> None:
        super().__init__(config, groups)
        self.build_phi(device)
        self.slices: dict[str, slice] = {}
        start = 0
        for g in groups:  # one flat (N,) layout for the moments: elementwise updates in one call each
            n = math.prod(g.shape(config.init_r))
            self.slices[g.name] = slice(start, start + n)
            start += n
        for name in ("last_grad", "exp_avg", "exp_avg_sq"):  # g_t, m_t, v_t (float32 whatever the model's dtype)
            self.register_buffer(name, torch.zeros(start, device=device))
        self.register_buffer("count", torch.zeros((), dtype=torch.long, device=device))
        self.register_buffer("lr_scale", torch.ones((), dtype=torch.float64, device=device))
        self.t = 0  # host copy of `count`: gradients folded into the moments
        self.eta_scale = 1.0  # host copy of `lr_scale`
        self.acc: torch.Tensor | None = None  # (N,) gradient of the running step; not a buffer (DDP broadcasts those)

    def build_phi(self, device: torch.device) -> None:
        """Φ: the hypernetworks H_P, H_Λ, H_Q."""
        self.hypernets = self.build_hypernets(device)

    def token_dims(self, r: int) -> dict[str, tuple[int, int]]:
        return {"P": (r * FEATURES, r * OUTPUTS), "lam": (FEATURES, OUTPUTS), "Q": (r * FEATURES, r * OUTPUTS)}

    def _view(self, flat: torch.Tensor, name: str, shape: torch.Size) -> torch.Tensor:
        return flat[self.slices[name]].view(shape)

    def _accumulator(self) -> torch.Tensor:
        if self.acc is None or self.acc.device != self.exp_avg.device:
            self.acc = torch.zeros_like(self.exp_avg)
        return self.acc

    def outputs(self, g: Group, S: torch.Tensor, dm: torch.Tensor, dg: torch.Tensor, log_d: torch.Tensor) -> torch.Tensor:
        """(c, a) per entry of one group, (*S.shape, 2): the hypernetwork reads each entry's four features."""
        ld = log_d - (log_d.mean() if g.kind == "lam" else log_d.mean(dim=(1, 2), keepdim=True))  # per matrix
        feats = torch.stack([S / token_scale(self.config, g.kind), dg, dm, ld], dim=-1)  # (*S.shape, F)
        net = self.hypernets[g.kind]
        tokens = to_tokens(g.kind, feats).to(net.in_proj.weight.dtype)  # a no-op unless the model was cast
        return from_tokens(g.kind, run_hypernet(self, g.kind, tokens), S.shape)  # (*S.shape, 2)

    def _steps(self, S: State) -> Iterator[tuple[Group, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per group: (group, S, m̂/d, g/d, γ, α), the learned gain and turn with a graph into Φ."""
        cfg = self.config
        t, G = self.t, cfg.max_gain
        bc1 = 1 - cfg.state_beta1 ** t if t else 1.0  # at t = 0 the moments are 0 and so is the step
        bc2 = 1 - cfg.state_beta2 ** t if t else 1.0
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(bc2)).add_(cfg.state_eps)  # (N,) d_t, as torch's Adam
        step = self.exp_avg / denom / bc1  # (N,) m̂_t / d_t
        grad = self.last_grad / denom  # (N,) g_t / d_t
        log_d = denom.log()  # (N,)
        log_G = math.log(G)
        for g in self.groups:
            s = S[g.name]
            dm, dg, ld = (self._view(x, g.name, s.shape) for x in (step, grad, log_d))
            out = self.outputs(g, s, dm, dg, ld)  # (*S.shape, 2), or broadcastable to it
            gain = torch.exp(log_G * torch.tanh(out[..., 0] / log_G))  # γ(c) ∈ [1/G, G]; exactly 1 at c = 0
            turn = G * torch.tanh(out[..., 1] / G)  # α(a) ∈ [−G, G]; exactly 0 at a = 0
            yield g, s, dm, dg, gain, turn

    def generate(self, S: State) -> Generated:
        cfg = self.config
        eta = cfg.state_lr * self.eta_scale
        acc = self._accumulator()
        values = {}
        for g, s, dm, dg, gain, turn in self._steps(S):
            U = -eta * (gain * dm + turn * dg)
            if cfg.state_weight_decay:
                U = U - eta * cfg.state_weight_decay * s
            value = s + U
            if value.requires_grad:
                value.register_hook(_accumulate_into(self._view(acc, g.name, s.shape)))
            values[g.name] = value
        return Generated(values)

    @torch.no_grad()
    def gains(self, S: State) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The gain γ and turn α the rule would apply at the next step, per group (for inspection)."""
        return {g.name: (gain, turn) for g, _, _, _, gain, turn in self._steps(S)}

    @torch.no_grad()
    def commit(self, S: State, gen: Generated | None, lr_scale: float) -> None:
        if gen is None:  # no training forward since the last commit
            return
        cfg = self.config
        acc = self._accumulator()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(acc)  # every process folds in the same (mean) gradient
            acc.div_(torch.distributed.get_world_size())
        for name, value in gen.values.items():
            S[name].copy_(value)  # the generated value is the commit
        self.exp_avg.lerp_(acc, 1 - cfg.state_beta1)  # as torch's Adam
        self.exp_avg_sq.mul_(cfg.state_beta2).addcmul_(acc, acc, value=1 - cfg.state_beta2)
        self.last_grad.copy_(acc)
        acc.zero_()
        self.t += 1
        self.count.add_(1)
        self.eta_scale = float(lr_scale)
        self.lr_scale.fill_(self.eta_scale)

    def discard(self) -> None:
        if self.acc is not None:
            self.acc.zero_()

    def after_load(self) -> None:
        self.t = int(self.count)  # host syncs, at load time only
        self.eta_scale = float(self.lr_scale)
        self.discard()


def _accumulate_into(target: torch.Tensor):
    def hook(grad: torch.Tensor) -> None:  # returns None: the gradient itself flows on unchanged
        target.add_(grad)
    return hook
