"""The core's contract, checked on tiny BERT / RoBERTa / DeBERTa-v2 / LLaMA / Qwen2 / GPT-2 models."""

from __future__ import annotations

import copy

import pytest
import torch

from hyperadalora import HyperAdaLoraConfig, HyperAdaLoraModel, get_hyperadalora_model
from tests.tiny_models import tiny_batch, tiny_model


def wrap(arch: str, **kw) -> tuple[HyperAdaLoraModel, torch.nn.Module]:
    base, saved = tiny_model(arch)
    reference = copy.deepcopy(base)
    cfg = dict(init_r=3, target_r=2, modules_to_save=saved, state_lr=1e-2)
    cfg.update(kw)
    return get_hyperadalora_model(base, HyperAdaLoraConfig(**cfg)), reference


def train_steps(model: HyperAdaLoraModel, batch: dict, steps: int, lr: float = 1e-2, start: int = 1):
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=lr)
    model.train()
    for step in range(start, start + steps):
        out = model(**batch)
        out.loss.backward()
        opt.step()
        model.update_and_allocate(step)
        opt.zero_grad()
    return opt


def test_identity_at_initialisation(arch):
    model, reference = wrap(arch)
    batch = tiny_batch(arch)
    with torch.no_grad():
        assert torch.equal(model.eval()(**batch).logits, reference(**batch).logits)
        model.train()
        reference.train()
        torch.manual_seed(0)
        a = model(**batch)
        torch.manual_seed(0)
        b = reference(**batch)
    assert torch.allclose(a.logits, b.logits, atol=1e-6)


def test_an_orthogonal_start_has_orthonormal_factors_and_keeps_the_base_output(arch):
    model, reference = wrap(arch, init_pq="orthogonal")
    for g in model.groups:
        if g.kind == "lam":
            continue
        s = model.state(g.name)  # (n_g, d_out, r) or (n_g, r, d_in)
        gram = s.transpose(1, 2) @ s if g.kind == "P" else s @ s.transpose(1, 2)  # (n_g, r, r)
        assert torch.allclose(gram, torch.eye(3).expand_as(gram), atol=1e-5), g.name
    batch = tiny_batch(arch)
    with torch.no_grad():
        assert torch.equal(model.eval()(**batch).logits, reference(**batch).logits)  # Λ = 0
    assert float(model.train()(**batch)["orth_loss"]) < 1e-9  # eq. 7's regulariser starts at its minimum


def test_only_hypernetworks_and_saved_modules_are_trainable(arch):
    model, _ = wrap(arch)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable, "nothing trainable"
    assert all(n.startswith("rule.hypernets.") or "classifier" in n for n in trainable), trainable
    assert not any(n.rsplit(".", 1)[-1] in ("P", "Q", "lam") for n, _ in model.named_parameters())
    batch = tiny_batch(arch)
    train_steps(model, batch, 1)  # the gradient rule's first step is U = 0: there is no gradient to read yet
    out = model.train()(**batch)
    out.loss.backward()
    for n, p in model.named_parameters():
        assert (p.grad is not None) == p.requires_grad, n
    # at step 2 the one-step hypergradient reaches every hypernetwork's output layer
    for kind in ("P", "lam", "Q"):
        assert model.hypernets[kind].out_proj.weight.grad.abs().sum() > 0, kind


def test_state_only_rules_get_a_gradient_at_the_first_step():
    model, _ = wrap("bert", generation="increment")
    model.train()(**tiny_batch("bert")).loss.backward()
    # at step 1 (Λ = 0) the task gradient reaches H_Λ's output layer, the orthogonality term H_P's and H_Q's
    for kind in ("P", "lam", "Q"):
        assert model.hypernets[kind].out_proj.weight.grad.abs().sum() > 0, kind


def test_loss_is_task_plus_weighted_orthogonality(arch):
    model, _ = wrap(arch, orth_reg_weight=0.3)
    out = model.train()(**tiny_batch(arch))
    assert torch.allclose(out.loss, out["task_loss"] + 0.3 * out["orth_loss"])
    assert out["orth_loss"] > 0


@pytest.mark.parametrize("generation", ["gradient", "per_matrix", "increment", "literal"])
def test_state_moves_after_a_step_and_not_in_eval(generation):
    model, _ = wrap("bert", generation=generation)
    batch = tiny_batch("bert")
    before = {k: v.clone() for k, v in model.adapter_state_dict().items() if k.startswith("state.")}
    train_steps(model, batch, 3)
    after = {k: v.clone() for k, v in model.adapter_state_dict().items() if k.startswith("state.")}
    assert not torch.equal(before["state.lam"], after["state.lam"])
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("state.P_"))
    model.eval()
    with torch.no_grad():
        model(**batch)
    model.update_and_allocate(3)  # no training forward since the last commit: nothing to commit
    again = {k: v for k, v in model.adapter_state_dict().items() if k.startswith("state.")}
    for k in after:
        if k != "state.step":
            assert torch.equal(after[k], again[k]), k


def test_eval_runs_no_hypernetwork():
    model, _ = wrap("bert")
    calls = []
    for net in model.hypernets.values():
        net.register_forward_hook(lambda *a: calls.append(1))
    model.eval()
    model(**tiny_batch("bert"))
    model.train()
    with torch.no_grad():
        model(**tiny_batch("bert"))
    assert calls == []
    model(**tiny_batch("bert"))
    # one batched call per shape group, not one per module
    assert len(calls) == len(model.groups) < 2 * len(model.adapters) + 1


def test_increment_state_is_a_fixed_point_when_the_hypernetworks_do_not_move():
    model, _ = wrap("bert", generation="increment")
    batch = tiny_batch("bert")
    train_steps(model, batch, 3)
    frozen = {k: v.clone() for k, v in model.adapter_state_dict().items()}
    for step in (4, 5, 6):  # lr 0: Φ does not move, so the state must not either
        model.train()(**batch).loss.backward()
        model.update_and_allocate(step)
        model.zero_grad()
    for k, v in model.adapter_state_dict().items():
        if k != "state.step":
            assert torch.equal(v, frozen[k]), k


@pytest.mark.parametrize("generation", ["gradient", "per_matrix", "increment", "literal"])
def test_gradient_accumulation_generates_from_the_same_committed_state(generation):
    model, _ = wrap("bert", generation=generation)
    batch = tiny_batch("bert")
    train_steps(model, batch, 2)
    model.train()
    first = model._generate()
    second = model._generate()
    for k in first.values:
        assert torch.equal(first.values[k], second.values[k]), k
    assert torch.equal(first.lam, second.lam)


def test_batched_generation_equals_per_module_generation():
    from hyperadalora.generation.rule import from_tokens, state_residuals, to_tokens

    model, _ = wrap("bert", generation="literal")
    batch = tiny_batch("bert")
    train_steps(model, batch, 2)  # non-trivial hypernetwork weights
    with torch.no_grad():
        R = state_residuals(model.rule, model.committed_state())
        sigma = model.adapter_config.init_std
        for g in model.groups:
            if g.kind == "lam":
                continue
            S = model.state(g.name)
            for i in range(S.shape[0]):  # one matrix alone through its hypernetwork
                one = S[i: i + 1]
                alone = from_tokens(g.kind, model.hypernets[g.kind](to_tokens(g.kind, one[..., None] / sigma)),
                                    one.shape)[..., 0] * sigma
                assert torch.allclose(alone[0], R[g.name][i], atol=1e-6), (g.name, i)


def test_position_codes_break_the_symmetry_of_zero_singular_values():
    spreads = {}
    for pos in (True, False):
        model, _ = wrap("bert", position_encoding=pos, generation="increment")
        train_steps(model, tiny_batch("bert"), 3)
        spreads[pos] = float(model.lam.std())
    assert spreads[False] < 1e-6 < spreads[True]


def test_the_gradient_rule_needs_no_position_codes_to_spread_the_singular_values():
    model, _ = wrap("bert", position_encoding=False)
    train_steps(model, tiny_batch("bert"), 3)
    assert float(model.lam.std()) > 1e-4  # each λ moves by its own gradient


def test_rank_budget_follows_the_schedule_and_freezes():
    model, _ = wrap("bert", total_step=20, tinit=2, tfinal=5, deltaT=1)
    n = len(model.adapters)
    batch = tiny_batch("bert")
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2)
    totals, masks = [], []
    model.train()
    for step in range(1, 21):
        model(**batch).loss.backward()
        opt.step()
        model.update_and_allocate(step)
        opt.zero_grad()
        totals.append(model.total_rank)
        masks.append(model.mask.clone())
    assert totals[0] == totals[1] == 3 * n  # no pruning during tinit
    assert totals[14] == 2 * n  # final budget at T - tfinal
    assert all(torch.equal(masks[14], m) for m in masks[15:])  # frozen afterwards
    assert all(a >= b for a, b in zip(totals, totals[1:], strict=False))
    assert sum(model.rank_pattern.values()) == 2 * n


def test_sensitivity_importance_meets_the_budget():
    model, _ = wrap("bert", total_step=12, tinit=1, tfinal=3, importance="sensitivity")
    train_steps(model, tiny_batch("bert"), 12)
    assert model.total_rank == 2 * len(model.adapters)
    assert model.ipt_ema.abs().sum() > 0


def test_save_and_load_round_trip(tmp_path, arch):
    model, _ = wrap(arch, total_step=10, tinit=1, tfinal=2)
    batch = tiny_batch(arch)
    train_steps(model, batch, 4)
    model.save_pretrained(tmp_path)
    base2, _ = tiny_model(arch)
    loaded = HyperAdaLoraModel.from_pretrained(base2, tmp_path)
    model.eval()
    loaded.eval()
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, loaded(**batch).logits)
    # a further training step is identical too
    torch.manual_seed(3)
    train_steps(model, batch, 1, start=5)
    torch.manual_seed(3)  # the same dropout masks
    train_steps(loaded, batch, 1, start=5)
    for (k, a), b in zip(model.adapter_state_dict().items(), loaded.adapter_state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_export_to_peft_lora_matches(tmp_path, arch):
    from peft import PeftModel

    model, _ = wrap(arch, total_step=10, tinit=1, tfinal=2)
    batch = tiny_batch(arch)
    train_steps(model, batch, 10)
    pattern = model.export_lora(tmp_path)
    assert set(pattern.values()) <= {1, 2, 3} and sum(pattern.values()) == model.total_rank
    base2, _ = tiny_model(arch)
    peft_model = PeftModel.from_pretrained(base2, tmp_path).eval()
    with torch.no_grad():
        ours = model.eval()(**batch).logits
        theirs = peft_model(**batch).logits
    assert (ours - theirs).abs().max() < 1e-5


def test_merge_and_unload_matches(arch):
    model, _ = wrap(arch)
    batch = tiny_batch(arch)
    train_steps(model, batch, 3)
    with torch.no_grad():
        ours = model.eval()(**batch).logits
        merged = model.merge_and_unload()
        assert not any(type(m).__name__ == "SvdAdapter" for m in merged.modules())
        assert (merged(**batch).logits - ours).abs().max() < 1e-5


def test_no_target_module_lists_candidates():
    base, _ = tiny_model("bert")
    with pytest.raises(ValueError, match=r"target_modules: .*candidates.*query"):
        get_hyperadalora_model(base, HyperAdaLoraConfig(init_r=3, target_r=2, target_modules=["q_proj"]))


def test_loading_a_checkpoint_saved_with_another_config_is_refused(tmp_path):
    model, _ = wrap("bert")
    model.save_pretrained(tmp_path)
    other, _ = wrap("bert", hypernet="mlp")
    with pytest.raises(ValueError, match="different config.*hypernet"):
        other.load_pretrained_adapter(tmp_path)


def test_loading_an_adapter_from_another_shape_is_refused(tmp_path):
    model, _ = wrap("bert")
    model.save_pretrained(tmp_path)
    from transformers import BertConfig, BertForSequenceClassification

    wider = BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=48, num_hidden_layers=2,
                                                     num_attention_heads=4, intermediate_size=64))
    with pytest.raises(ValueError, match="another base model"):
        HyperAdaLoraModel.from_pretrained(wider, tmp_path)


def test_corrupt_weights_file_is_named(tmp_path):
    model, _ = wrap("bert")
    model.save_pretrained(tmp_path)
    path = tmp_path / "hyperadalora_model.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="hyperadalora_model.safetensors"):
        wrap("bert")[0].load_pretrained_adapter(tmp_path)


@pytest.mark.parametrize("kind", ["attention", "mlp", "cnn"])
def test_every_hypernet_kind_trains(kind):
    model, _ = wrap("bert", hypernet=kind)
    batch = tiny_batch("bert")
    first = float(model.train()(**batch)["task_loss"].detach())
    train_steps(model, batch, 15, lr=1e-2)
    assert float(model.train()(**batch)["task_loss"].detach()) < 0.8 * first


def test_generate_uses_the_committed_adapters():
    model, _ = wrap("llama")
    batch = tiny_batch("llama")
    train_steps(model, batch, 3)
    ids = batch["input_ids"][:1]
    with torch.no_grad():
        ours = model.eval().generate(input_ids=ids, max_new_tokens=6, do_sample=False)
        merged = model.merge_and_unload().generate(input_ids=ids, max_new_tokens=6, do_sample=False)
    assert torch.equal(ours, merged)


def test_every_generation_the_config_accepts_is_a_rule():
    from hyperadalora.config import GENERATIONS
    from hyperadalora.generation import RULES

    assert set(GENERATIONS) == set(RULES)


def test_a_0_2_state_dict_key_is_mapped_and_a_current_one_loads_as_is():
    model, _ = wrap("bert")
    train_steps(model, tiny_batch("bert"), 2)
    current = model.state_dict()
    old = {("grad_count" if k == "rule.count" else k.removeprefix("rule.")): v for k, v in current.items()}
    assert "hypernets.P.out_proj.weight" in old and "exp_avg" in old  # how 0.2 named them
    for sd in (old, current):
        other, _ = wrap("bert", seed=5)
        other.load_state_dict(sd)
        assert other.rule.t == 2
        for (k, a), b in zip(current.items(), other.state_dict().values(), strict=True):
            assert torch.equal(a, b), k
