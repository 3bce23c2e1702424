"""`hyperadalora bench` end to end on tiny models: JSON shape, ratios, profile, memory worker, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hyperadalora.bench.models import Rank, build_base, get_preset, parse_method, share_base, train_config
from hyperadalora.bench.report import bench_key
from hyperadalora.bench.step import _spawn_memory_worker, bench_step, main
from hyperadalora.memory import peak_rss_mb
from hyperadalora.train.config import TrainConfig
from hyperadalora.train.methods import build_method

METHODS = ["lora", "adalora", "hyperadalora"]


def test_bench_tiny_end_to_end_writes_json(tmp_path, capsys):
    out, md = tmp_path / "bench.json", tmp_path / "bench.md"
    code = main(["--preset", "tiny", "--batch-sizes", "1", "2", "--repeats", "2", "--warmup", "1", "--seq-len", "16",
                 "--threads", "2", "--no-memory", "--profile-batch-sizes", "2", "--profile-steps", "1",
                 "--out", str(out), "--md", str(md)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["methods"] == METHODS and result["complete"] is True
    assert result["machine"]["cores"] >= 1 and result["machine"]["torch"] == torch.__version__
    assert result["command"].startswith("hyperadalora bench ") and "--preset tiny" in result["command"]
    assert len(set(result["settings"]["adapted_modules"].values())) == 1  # same modules for every method
    assert [e["batch_size"] for e in result["results"]] == [1, 2]
    for entry in result["results"]:
        for m in METHODS:
            step = entry["methods"][m]["step_ms"]
            assert step["n"] == 2 and 0 < step["min"] <= step["median"] and step["min"] <= step["mean"]
            assert set(entry["methods"][m]["phases_median_ms"]) == {"forward", "backward", "optimizer",
                                                                     "update_and_allocate", "zero_grad"}
        for key in ("hyperadalora/adalora", "hyperadalora/lora"):
            ratio = entry["ratios"][key]
            assert ratio["time"] > 0 and ratio["time_mean"] > 0 and len(ratio["time_paired_iqr"]) == 2
    profile = result["results"][1]["profile"]["hyperadalora"]
    assert profile["forward_ms"]["hypernetworks"] > 0 and profile["backward_ms"]["hypernetworks"] > 0
    assert 0 < profile["hypernet_share"] < 1
    assert result["results"][1]["profile"]["lora"]["hypernet_ms"] == 0
    table = capsys.readouterr().out
    assert "hyperadalora/adalora time: paired" in table and md.read_text().startswith("Command: `hyperadalora bench")
    assert main(["--table-from", str(out)]) == 0 and capsys.readouterr().out.strip() == table.strip()


def test_bench_causal_preset_shares_base_weights():
    preset = get_preset("tiny-llama")
    base = build_base(preset, torch.device("cpu"))
    twin = share_base(base, preset)
    for (name, p), (_, q) in zip(base.named_parameters(), twin.named_parameters(), strict=True):
        assert p.data_ptr() == q.data_ptr() and p is not q, name
    assert torch.equal(base.model.rotary_emb.inv_freq, twin.model.rotary_emb.inv_freq)
    assert torch.isfinite(base.model.rotary_emb.inv_freq).all()
    result = bench_step(preset="tiny-llama", batch_sizes=[2], seq_len=8, warmup=1, repeats=1, memory=False,
                        methods=["lora", "adalora", "hyperadalora", "hyperadalora:hypernet=mlp"], threads=2)
    ratios = result["results"][0]["ratios"]
    assert {"hyperadalora/adalora", "hyperadalora/lora", "hyperadalora:hypernet=mlp/adalora"} <= set(ratios)


STORIES = Path(__file__).resolve().parents[3] / "shared" / "models" / "stories260k"


@pytest.mark.skipif(not STORIES.is_dir(), reason="the shared stories260k model is not beside this checkout")
def test_stories260k_preset_loads_the_real_weights_with_its_tied_embeddings():
    """The NLG comparison's model as a bench preset: real weights (not random), tie kept in the shared twin."""
    preset = get_preset("stories260k")
    base = build_base(preset, torch.device("cpu"), model_path=str(STORIES))
    state = load_file(STORIES / "model.safetensors")
    name = "model.embed_tokens.weight"
    assert torch.equal(base.state_dict()[name], state[name])
    twin = share_base(base, preset, model_path=str(STORIES))
    assert twin.lm_head.weight.data_ptr() == base.model.embed_tokens.weight.data_ptr()
    result = bench_step(preset="stories260k", model_path=str(STORIES), methods=["lora", "hyperadalora"],
                        batch_sizes=[1], seq_len=8, warmup=0, repeats=1, memory=False)
    assert "hyperadalora/lora" in result["results"][0]["ratios"]


@pytest.mark.slow
def test_memory_worker_reports_its_own_positive_peak_rss():
    result = bench_step(preset="tiny", batch_sizes=[1], seq_len=16, warmup=0, repeats=1, memory=True,
                        memory_steps=1, threads=2)
    entry = result["results"][0]
    for m in METHODS:
        mem = entry["methods"][m]["memory_mb"]
        assert mem["peak_rss_mb"] >= mem["rss_after_build_mb"] > 0
    assert entry["ratios"]["hyperadalora/adalora"]["memory"] > 0
    # A parent holding 1 GiB more than the worker ever does: the worker must not report the parent's peak.
    ballast = torch.ones(2**28)  # 1 GiB, touched
    worker = _spawn_memory_worker(dict(preset="tiny", method="lora", batch_size=1, seq_len=16, device="cpu", steps=1,
                                       rank=Rank(), seed=0, model_path=None, targets=None, threads=1))
    assert 0 < worker["peak_rss_mb"] < peak_rss_mb() - 512
    del ballast


def test_method_options_parsed_and_checked():
    spec = parse_method("hyperadalora:hypernet_hidden=32,hypernet=cnn")
    assert spec.kind == "hyperadalora" and spec.overrides == {"hypernet_hidden": 32, "hypernet": "cnn"}
    assert parse_method("lora:optimizer=prodigy,prodigy_d_coef=0.3").overrides == {"optimizer": "prodigy",
                                                                                    "prodigy_d_coef": 0.3}
    with pytest.raises(ValueError, match="--methods: 'hidden=32' .* not key=value with a TrainConfig field"):
        parse_method("hyperadalora:hidden=32")
    with pytest.raises(ValueError, match="--methods: 'r=4'"):
        parse_method("lora:r=4")
    with pytest.raises(ValueError, match="--methods: hypernet .* hyperadalora only"):
        parse_method("lora:hypernet=mlp")
    with pytest.raises(ValueError, match="--methods: 'lora_init=pissa'"):  # it would rewrite the shared base weights
        parse_method("lora:lora_init=pissa")
    with pytest.raises(ValueError, match="--methods hyperadalora:optimizer=prodigy: optimizer: prodigy is available"):
        train_config(parse_method("hyperadalora:optimizer=prodigy"), get_preset("tiny"), Rank(), None)
    assert Rank().init_r == 3 and Rank().target_r == 2


@pytest.mark.parametrize("variant", [
    {"method": "lora"}, {"method": "loraplus", "loraplus_lr_ratio": 2}, {"method": "lora", "lora_init": "pissa"},
    {"method": "lora", "optimizer": "prodigy"}, {"method": "adalora", "optimizer": "prodigy"},
    {"method": "lora", "optimizer": "schedulefree", "lr_scheduler": "constant"},
    {"method": "adalora", "optimizer": "schedulefree", "lr_scheduler": "constant"},
    {"method": "hyperadalora", "generation": "per_matrix"}, {"method": "hyperadalora", "attention_block": 128},
])
def test_every_compare_variant_has_a_bench_spec(variant):
    """`compare --bench` looks a variant up by report.bench_key: the bench must accept that key as a method."""
    key = bench_key(variant)
    spec = parse_method(key)
    cfg = train_config(spec, get_preset("tiny"), Rank(), None)
    assert spec.name == key and cfg.method == variant["method"]
    assert all(getattr(cfg, k) == v for k, v in variant.items() if k in spec.overrides)


def test_bench_runs_the_baselines_with_their_training_optimizers():
    methods = ["loraplus", "lora:optimizer=prodigy", "hyperadalora:generation=per_matrix"]
    result = bench_step(preset="tiny", methods=methods, batch_sizes=[1], seq_len=8, warmup=1, repeats=1,
                        memory=False, threads=2)
    assert result["methods"] == methods and result["complete"] is True
    assert result["settings"]["optimizers"] == {"loraplus": "AdamW", "lora:optimizer=prodigy": "Prodigy",
                                                "hyperadalora:generation=per_matrix": "AdamW"}
    assert len(set(result["settings"]["adapted_modules"].values())) == 1
    for m in methods:
        assert result["results"][0]["methods"][m]["step_ms"]["median"] > 0
    assert "hyperadalora:generation=per_matrix/lora" not in result["results"][0]["ratios"]  # no plain lora listed


@pytest.mark.parametrize("method", ["lora", "adalora", "hyperadalora"])
def test_bench_and_train_build_the_same_trainable_parameters(method, tmp_path):
    result = bench_step(preset="tiny", methods=[method], batch_sizes=[1], seq_len=8, warmup=0, repeats=1,
                        memory=False, threads=2)
    settings = result["settings"]
    cfg = TrainConfig(method=method, task="sst2", out=str(tmp_path), init_r=3, target_r=2, lora_alpha=8.0)
    trained = build_method(build_base(get_preset("tiny"), torch.device("cpu")), cfg, causal=False, total_steps=100)
    assert settings["trainable_params"][method] == trained.num_trainable()
    assert settings["target_modules"] == trained.targets


@pytest.mark.parametrize("argv, message", [
    (["--preset", "nope"], "--preset: unknown preset 'nope'"),
    (["--preset", "tiny", "--methods", "dora"], "--methods: unknown method 'dora'"),
    (["--preset", "tiny", "--methods", "lora:optimizer=adam"], "--methods lora:optimizer=adam: optimizer: unknown"),
    (["--preset", "tiny", "--batch-sizes", "0"], "--batch-sizes"),
])
def test_bad_input_exits_2(argv, message, capsys):
    assert main(argv + ["--no-memory", "--repeats", "1", "--warmup", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and message in err


def test_existing_out_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "bench.json"
    out.write_text("keep me")
    assert main(["--preset", "tiny", "--out", str(out)]) == 2
    assert out.read_text() == "keep me"
    assert "--overwrite" in capsys.readouterr().err
