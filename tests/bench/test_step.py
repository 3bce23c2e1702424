"""`hyperadalora bench` end to end on tiny models: JSON shape, ratios, profile, memory worker, bad input."""

from __future__ import annotations

import json

import pytest
import torch

from hyperadalora.bench.models import Rank, build_base, get_preset, parse_method, share_base
from hyperadalora.bench.step import _spawn_memory_worker, bench_step, main
from hyperadalora.memory import peak_rss_mb

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
    with pytest.raises(ValueError, match="--methods"):
        parse_method("hyperadalora:hidden=32")
    with pytest.raises(ValueError, match="only for hyperadalora"):
        parse_method("lora:r=4")
    assert Rank().init_r == 3 and Rank().target_r == 2


@pytest.mark.parametrize("argv, message", [
    (["--preset", "nope"], "--preset: unknown preset 'nope'"),
    (["--preset", "tiny", "--methods", "dora"], "--methods: unknown method 'dora'"),
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
