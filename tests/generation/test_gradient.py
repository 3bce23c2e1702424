"""The gradient-conditioned rule: Adam exactly at its zero start, the one-step hypergradient, bounds, schedule,
accumulation, resume."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from hyperadalora import HyperAdaLoraConfig, HyperAdaLoraModel, get_hyperadalora_model
from tests.generation.finite_differences import assert_matches_finite_differences
from tests.tiny_models import NO_DROPOUT, tiny_batch, tiny_model

ETA = 1e-2


def wrap(arch: str = "bert", dropout: bool = True, **kw) -> HyperAdaLoraModel:
    base, saved = tiny_model(arch, **({} if dropout else NO_DROPOUT[arch]))
    cfg = dict(init_r=3, target_r=2, modules_to_save=saved, state_lr=ETA, generation="gradient")
    cfg.update(kw)
    return get_hyperadalora_model(base, HyperAdaLoraConfig(**cfg))


def step(model: HyperAdaLoraModel, batch: dict, opt: torch.optim.Optimizer | None, t: int, lr_scale: float = 1.0):
    out = model.train()(**batch)
    out.loss.backward()
    if opt is not None:
        opt.step()
    model.update_and_allocate(t, lr_scale)
    model.zero_grad(set_to_none=True)
    return out


class RefSvd(nn.Module):
    """AdaLoRA's parametrisation written out: P, Λ, Q are leaf parameters, ΔW = P·diag(Λ·s)·Q."""

    def __init__(self, base: nn.Module, P: torch.Tensor, lam: torch.Tensor, Q: torch.Tensor, scaling: float):
        super().__init__()
        self.base = base
        self.P, self.lam, self.Q = nn.Parameter(P.clone()), nn.Parameter(lam.clone()), nn.Parameter(Q.clone())
        self.scaling = scaling

    def forward(self, x):
        return self.base(x) + ((x @ self.Q.T) * (self.lam * self.scaling)) @ self.P.T


def reference_from(model: HyperAdaLoraModel, arch: str):
    """A copy of the base model whose adapted layers carry directly trained SVD adapters with the same state."""
    base, _ = tiny_model(arch)  # same seed: the same base weights and head
    refs = []
    for name, adapter in zip(model.adapted_names, model.adapters, strict=True):
        P, lam, Q = model.triplet(adapter, committed=True)
        parent, _, child = name.rpartition(".")
        layer = base.get_submodule(name)
        ref = RefSvd(layer, P, model.lam[adapter.index], Q, model.scaling)
        setattr(base.get_submodule(parent), child, ref)
        refs.append(ref)
    return base, refs


def ref_orth(refs: list[RefSvd]) -> torch.Tensor:
    eye = torch.eye(refs[0].P.shape[1])
    return sum(((r.P.T @ r.P - eye) ** 2).sum() + ((r.Q @ r.Q.T - eye) ** 2).sum() for r in refs) / len(refs)


@pytest.mark.parametrize("arch", ["bert", "llama"])
def test_frozen_zero_hypernetworks_reproduce_torch_adam(arch):
    """With Φ at its zero start and not trained, every forward sees exactly Adam's iterate on (P, Λ, Q). From AdaLoRA's
    normal start: at an exactly orthonormal one (the default) eq. 7's gradient is float noise (~1e-8) while Λ = 0,
    which Adam's normalisation turns into steps of order η, so two float-different computations of it part ways."""
    model = wrap(arch, init_pq="normal")
    reference, refs = reference_from(model, arch)
    params = [p for r in refs for p in (r.P, r.lam, r.Q)]
    adam = torch.optim.Adam(params, lr=ETA)
    gamma = model.adapter_config.orth_reg_weight
    for t in range(1, 7):
        batch = tiny_batch(arch, seed=t)
        torch.manual_seed(t)  # the same dropout masks in both
        out = model.train()(**batch)
        seen = model.triplets.current.values  # what this forward's adapters read
        for a, r in zip(model.adapters, refs, strict=True):
            (pk, pi), (qk, qi) = a.p_slot, a.q_slot
            assert (seen[pk][pi] - r.P).abs().max() < 1e-6 and (seen[qk][qi] - r.Q).abs().max() < 1e-6, t
            assert (seen["lam"][a.index] - r.lam).abs().max() < 1e-6, t
        torch.manual_seed(t)
        ref_out = reference.train()(**batch)
        ref_loss = ref_out.loss + gamma * ref_orth(refs)
        assert abs(float(out.loss.detach()) - float(ref_loss.detach())) < 1e-5, t
        out.loss.backward()
        ref_loss.backward()
        adam.step()
        adam.zero_grad()
        model.update_and_allocate(t)
        model.zero_grad(set_to_none=True)


def test_the_commit_is_the_generated_value_and_costs_no_second_forward():
    model = wrap()
    batch = tiny_batch("bert")
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2)
    calls = []
    for net in model.hypernets.values():
        net.register_forward_hook(lambda *a: calls.append(1))
    for t in range(1, 4):
        model.train()(**batch).loss.backward()
        generated = {k: v.detach().clone() for k, v in model.triplets.current.values.items()}
        opt.step()
        model.update_and_allocate(t)
        opt.zero_grad()
        for k, v in generated.items():
            assert torch.equal(model.state(k), v), (t, k)
    assert len(calls) == 3 * len(model.groups)  # one generating forward per step, nothing in the commit


def test_hypergradient_matches_finite_differences():
    """∂L_{t+1}/∂Φ through S_{t+1} = S_t + U(S_t, g_t, m_t, v_t; Φ), in double precision."""
    torch.manual_seed(0)
    model = wrap(hypernet_hidden=8, hypernet_heads=2, hypernet_ffn=16, max_gain=4.0).double()
    batch = tiny_batch("bert")
    opt = torch.optim.SGD(model.trainable_parameters(), lr=0.0)
    for t in range(1, 4):
        step(model, batch, opt, t)  # moments and last gradient become non-zero
    with torch.no_grad():  # a non-zero learned part: gains and turns away from their start
        for net in model.hypernets.values():
            net.out_proj.weight.normal_(0, 0.3)
            net.out_proj.bias.normal_(0, 0.3)

    def loss() -> torch.Tensor:
        torch.manual_seed(7)  # the same dropout masks in every evaluation
        return model.train()(**batch).loss

    probes = [(model.hypernets["P"].out_proj.weight, (0, 1)), (model.hypernets["Q"].in_proj.weight, (2, 3)),
              (model.hypernets["lam"].out_proj.bias, (1,)), (model.hypernets["P"].blocks[0].qkv.weight, (5, 4))]
    assert_matches_finite_differences(loss, probes)


def test_gains_and_turns_are_bounded():
    model = wrap(max_gain=3.0)
    batch = tiny_batch("bert")
    for t in range(1, 3):
        step(model, batch, None, t)
    with torch.no_grad():
        for net in model.hypernets.values():
            net.out_proj.bias.fill_(1e4)  # saturate: γ → G, α → G
    rule, cfg = model.rule, model.adapter_config
    t = rule.t
    denom = (model.rule.exp_avg_sq.sqrt() / math.sqrt(1 - cfg.state_beta2 ** t)) + cfg.state_eps
    bound = ETA * 3.0 * ((model.rule.exp_avg.abs() / (1 - cfg.state_beta1 ** t) + model.rule.last_grad.abs()) / denom)
    model.train()
    gen = model._generate()
    for g in model.groups:
        U = gen.values[g.name] - model.state(g.name)
        assert (U.abs().flatten() <= rule._view(bound, g.name, U.shape).flatten() * (1 + 1e-5) + 1e-12).all(), g.name


def test_lr_scale_schedules_the_next_step():
    model = wrap()
    batch = tiny_batch("bert")
    step(model, batch, None, 1)
    step(model, batch, None, 2, lr_scale=0.0)  # the schedule says 0 for the step just taken
    before = {g.name: model.state(g.name).clone() for g in model.groups}
    model.train()(**batch)
    for g in model.groups:  # so the next forward moves nothing
        assert torch.equal(model.triplets.current.values[g.name], before[g.name]), g.name


def test_gradient_accumulation_folds_in_the_mean_gradient_of_the_micro_batches():
    full = wrap(dropout=False)
    split = copy.deepcopy(full)
    batch = tiny_batch("bert", batch=4)
    halves = [{k: v[:2] for k, v in batch.items()}, {k: v[2:] for k, v in batch.items()}]
    step(full, batch, None, 1)
    for half in halves:
        (split.train()(**half).loss / 2).backward()
    split.update_and_allocate(1)
    # the orthogonality term enters each micro-batch's loss once: its gradient is the same in both
    assert torch.allclose(full.rule.last_grad, split.rule.last_grad, atol=1e-6, rtol=1e-4)


def test_a_discarded_step_leaves_no_gradient_behind():
    model = wrap(dropout=False)
    batch = tiny_batch("bert")
    step(model, batch, None, 1)
    clean = copy.deepcopy(model)
    model.train()(**batch).loss.backward()
    model.discard_step()
    model.zero_grad()
    step(model, batch, None, 2)
    step(clean, batch, None, 2)
    assert torch.equal(model.rule.last_grad, clean.rule.last_grad) and torch.equal(model.rule.exp_avg, clean.rule.exp_avg)


LEVERS = {"default": {}, "horizon": dict(hypergradient_horizon=3), "progress": dict(progress_features=True, total_step=20)}


@pytest.mark.parametrize("lever", LEVERS)
def test_resume_from_a_saved_adapter_is_bitwise(tmp_path, lever):
    """Also with the options' own statistics (the horizon's past features, the loss trend's EMAs) in the adapter."""
    batch = tiny_batch("bert")

    def run(model, opt, steps):
        for t in steps:
            torch.manual_seed(100 + t)
            step(model, batch, opt, t, lr_scale=1.0 - t / 20)

    straight = wrap(hypernet_dropout=0.1, lora_dropout=0.1, **LEVERS[lever])
    opt = torch.optim.AdamW(straight.trainable_parameters(), lr=1e-2)
    run(straight, opt, range(1, 9))
    first = wrap(hypernet_dropout=0.1, lora_dropout=0.1, **LEVERS[lever])
    opt1 = torch.optim.AdamW(first.trainable_parameters(), lr=1e-2)
    run(first, opt1, range(1, 5))
    first.save_pretrained(tmp_path)
    resumed = HyperAdaLoraModel.from_pretrained(tiny_model("bert")[0], tmp_path)
    opt2 = torch.optim.AdamW(resumed.trainable_parameters(), lr=1e-2)
    opt2.load_state_dict(opt1.state_dict())
    run(resumed, opt2, range(5, 9))
    for (k, a), b in zip(straight.adapter_state_dict().items(), resumed.adapter_state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_hypernet_checkpointing_gives_the_same_steps(monkeypatch):
    import hyperadalora.generation.rule as rule

    monkeypatch.setattr(rule, "CHECKPOINT_TOKENS", 40)  # several chunks per group on the tiny model
    batch = tiny_batch("bert")
    models = [wrap(dropout=False, hypernet_checkpointing=False), wrap(dropout=False, hypernet_checkpointing=True)]
    for model in models:
        opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2)
        for t in range(1, 5):
            step(model, batch, opt, t)
    for (k, a), b in zip(models[0].adapter_state_dict().items(), models[1].adapter_state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5), k


def test_gains_start_at_one_and_turns_at_zero():
    model = wrap()
    step(model, tiny_batch("bert"), None, 1)
    for name, (gain, turn) in model.rule.gains(model.committed_state()).items():
        assert torch.equal(gain, torch.ones_like(gain)) and torch.equal(turn, torch.zeros_like(turn)), name


def test_resume_through_load_state_dict_is_bitwise():
    """transformers.Trainer resumes a model that is not a PreTrainedModel by model.load_state_dict: the rule's
    host copies (t, the schedule multiplier) must follow its buffers (before: t = 0, a step 0.03 off)."""
    batch = tiny_batch("bert")
    first = wrap(dropout=False)
    opt1 = torch.optim.AdamW(first.trainable_parameters(), lr=1e-2)
    for t in range(1, 6):
        step(first, batch, opt1, t, lr_scale=1.0 - t / 20)
    resumed = wrap(dropout=False, seed=1)  # another start: everything must come from the state dict
    resumed.load_state_dict(first.state_dict())
    assert (resumed.rule.t, resumed.rule.eta_scale) == (5, 0.75)
    opt2 = torch.optim.AdamW(resumed.trainable_parameters(), lr=1e-2)
    opt2.load_state_dict(copy.deepcopy(opt1.state_dict()))  # a copy: loading shares opt1's moment tensors
    for model, opt in ((first, opt1), (resumed, opt2)):
        step(model, batch, opt, 6, lr_scale=0.7)
    for (k, a), b in zip(first.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_a_cast_of_the_model_keeps_the_statistics_precision():
    model = wrap(dropout=False)
    batch = tiny_batch("bert")
    for t in range(1, 3):
        step(model, batch, None, t, lr_scale=1 / 3)
    stats = {k: v.clone() for k, v in model.rule.named_buffers()}
    model.to(torch.bfloat16)
    assert model.lam.dtype == torch.bfloat16 and model.hypernets["P"].in_proj.weight.dtype == torch.bfloat16
    for k, v in model.rule.named_buffers():
        assert v.dtype == stats[k].dtype and torch.equal(v, stats[k]), k  # float32 moments, float64 lr_scale
    assert model.rule.lr_scale.dtype == torch.float64
    step(model, batch, None, 3)  # and the cast model trains on
    assert model.rule.t == 3 and model.rule.exp_avg.dtype == torch.float32
    assert not torch.equal(model.rule.exp_avg, stats["exp_avg"])


def test_ddp_ignores_the_state_and_the_rule_statistics_by_their_full_names():
    model = wrap()
    buffers = dict(model.named_buffers())
    ignored = model._ddp_params_and_buffers_to_ignore
    assert set(ignored) <= set(buffers)
    assert {"lam", "mask", "rule.exp_avg", "rule.exp_avg_sq", "rule.last_grad", "rule.count", "rule.lr_scale"} <= set(ignored)
    assert not any(name.startswith("base_model.") for name in ignored)


def test_an_adapter_reads_a_shared_holder_not_the_model():
    model = wrap()
    assert all(a.triplets is model.triplets for a in model.adapters)
    assert not any(isinstance(v, nn.Module) and v is model for a in model.adapters for v in vars(a).values())


@pytest.mark.slow
def test_compiled_hypernetworks_take_the_eager_steps():
    """hypernet_compile=True compiles the hypernetworks in place: the same state-dict keys and, within float
    tolerance, the same steps as eager ones."""
    batch = tiny_batch("bert")
    models = [wrap(dropout=False), wrap(dropout=False, hypernet_compile=True)]
    for model in models:
        opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2)
        for t in range(1, 4):
            step(model, batch, opt, t)
    eager, compiled = (m.adapter_state_dict() for m in models)
    assert list(eager) == list(compiled)
    for k, a in eager.items():
        assert torch.allclose(a, compiled[k], atol=1e-5, rtol=1e-4), k


@pytest.mark.parametrize("lever", ["horizon", "progress"])
def test_frozen_options_take_the_default_steps(lever):
    """With Φ frozen at its zero start, neither option changes a value: the horizon's credit adds exactly 0 to
    what the forward reads, and the progress features only reach an output projection that is zero."""
    batch = tiny_batch("bert")
    models = [wrap(dropout=False, total_step=20), wrap(dropout=False, **{"total_step": 20, **LEVERS[lever]})]
    for model in models:
        for t in range(1, 5):
            step(model, batch, None, t, lr_scale=1.0 - t / 10)
    for g in models[0].groups:
        assert torch.equal(models[0].state(g.name), models[1].state(g.name)), g.name


def test_the_horizon_credits_the_past_steps_regenerated_by_the_current_phi():
    """H = 2: ∂L_{t+1}/∂Φ = g_{t+1}·(∂U_t/∂Φ + ∂U_{t−1}/∂Φ), checked against a one-step twin that kept step t−1's
    generated values (and their graph) and backpropagates g_{t+1} into them."""
    torch.manual_seed(0)
    long = wrap(dropout=False, hypergradient_horizon=2)
    with torch.no_grad():  # a non-zero Φ, so that every weight gets a gradient
        for p in long.hypernets.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    one = wrap(dropout=False)
    one.rule.hypernets.load_state_dict(long.rule.hypernets.state_dict())
    batch = tiny_batch("bert")
    for model in (long, one):  # Φ is not stepped: the past step's Φ is the current one
        step(model, batch, None, 1, lr_scale=0.9)
    one.train()(**batch).loss.backward(retain_graph=True)
    past = dict(one.triplets.current.generated.values)  # U_{t−1}'s values, with their graph into Φ
    one.update_and_allocate(2, 0.8)
    one.zero_grad(set_to_none=True)
    step(long, batch, None, 2, lr_scale=0.8)
    for model in (long, one):
        model.train()(**batch).loss.backward()
    # g_{t+1}, cloned: the hooks on the kept values add what flows through them into the accumulator
    g_next = {name: one.rule._view(one.rule.acc, name, v.shape).clone() for name, v in past.items()}
    assert all(torch.equal(g_next[n], long.rule._view(long.rule.acc, n, g_next[n].shape)) for n in g_next)
    params = list(one.hypernets.parameters())
    extra = torch.autograd.grad(list(past.values()), params, grad_outputs=list(g_next.values()))
    for (name, p_long), p_one, e in zip(long.hypernets.named_parameters(), params, extra, strict=True):
        assert e.abs().max() > 0, name
        torch.testing.assert_close(p_long.grad, p_one.grad + e, atol=1e-7, rtol=1e-5, msg=name)


def test_progress_features_read_progress_step_count_and_loss_trend():
    T = 20
    model = wrap(dropout=False, progress_features=True, total_step=T)
    assert torch.equal(model.rule.run_features(), torch.tensor([0.0, 0.0, 0.0]))  # no step, no loss yet
    fast = slow = 0.0
    for t in range(1, 5):
        out = step(model, tiny_batch("bert", seed=t), None, t)
        loss = float(out.task_loss)
        fast, slow = 0.9 * fast + 0.1 * loss, 0.99 * slow + 0.01 * loss
    trend = math.log((fast / (1 - 0.9 ** 4)) / (slow / (1 - 0.99 ** 4)))
    want = torch.tensor([4 / T, math.log1p(4) / math.log1p(T), trend])
    torch.testing.assert_close(model.rule.run_features(), want, atol=1e-6, rtol=1e-5)
    assert model.hypernets["P"].in_proj.in_features == 3 * 7  # r · (4 + 3) features per token
    # a loop that computes the loss from the logits passes it: it replaces what the forward returned
    model.train()(**tiny_batch("bert", seed=5)).loss.backward()
    model.update_and_allocate(5, 1.0, loss=torch.tensor(7.0))
    fast, slow = 0.9 * fast + 0.1 * 7.0, 0.99 * slow + 0.01 * 7.0
    torch.testing.assert_close(model.rule.loss_ema, torch.tensor([fast, slow], dtype=torch.float64))
