"""`hyperadalora compare`: time-to-target arithmetic on synthetic curves, the summary / report / plots of
synthetic run folders, the CLI's orchestration with a fake trainer, and one end-to-end run on a tiny model."""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

import pytest

from hyperadalora.bench import compare
from hyperadalora.bench.report import load_run, render_report, smooth, steps_to_target, summarize
from hyperadalora.errors import UserInputError


# --- curves ------------------------------------------------------------------------------------
def test_smooth_is_a_trailing_mean_with_partial_start():
    assert smooth([4.0, 2.0, 6.0, 0.0], window=2) == [4.0, 3.0, 4.0, 3.0]
    assert smooth([1.0, 2.0, 3.0], window=10) == [1.0, 1.5, 2.0]
    assert smooth([5.0, 1.0], window=1) == [5.0, 1.0]


def test_steps_to_target_never_reached_returns_none():
    steps = list(range(1, 101))
    curve = [1.0 - 0.001 * s for s in steps]  # ends at 0.9
    assert steps_to_target(steps, curve, 0.5) is None


def test_steps_to_target_reached_at_step_one():
    steps = [1, 2, 3]
    assert steps_to_target(steps, [0.4, 0.3, 0.2], 0.5) == 1


def test_steps_to_target_is_the_first_crossing_and_exact_equality_counts():
    steps = list(range(1, 11))
    curve = [1.0, 0.9, 0.8, 0.7, 0.6, 0.65, 0.5, 0.4, 0.3, 0.2]
    assert steps_to_target(steps, curve, 0.6) == 5
    assert steps_to_target(steps, curve, 0.2) == 10


def test_noisy_curve_crosses_later_once_smoothed():
    rng = random.Random(0)
    steps = list(range(1, 401))
    clean = [1.0 * math.exp(-s / 100) + 0.2 for s in steps]
    noisy = [c + rng.uniform(-0.15, 0.15) for c in clean]
    # a single noisy dip crosses the target long before the trend does; the smoothed curve does not
    raw_hit = steps_to_target(steps, noisy, 0.45)
    smooth_hit = steps_to_target(steps, smooth(noisy, 20), 0.45)
    true_hit = steps_to_target(steps, clean, 0.45)
    assert raw_hit < true_hit - 20
    assert abs(smooth_hit - true_hit) <= 25


# --- synthetic run folders ---------------------------------------------------------------------
def write_run(run_dir: Path, method: str, seed: int, rate: float, steps: int = 100, floor: float = 0.3,
              lr: float = 1e-3, sec_per_step: float = 0.5, ranks: bool = True) -> None:
    """A run folder in the contract's format: loss decays as exp(-rate·step) towards `floor`, plus noise."""
    rng = random.Random(seed * 1000 + int(rate * 1e4))
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "log.jsonl").open("w") as f:
        for s in range(1, steps + 1):
            task = floor + (0.7 - floor) * math.exp(-rate * s) + rng.uniform(-0.02, 0.02)
            rank = (12 if s < steps // 2 else 8) if ranks and method in ("adalora", "hyperadalora") else None
            f.write(json.dumps({"kind": "train", "step": s, "task_loss": task, "orth_loss": 0.1, "loss": task + 0.01,
                                "lr": lr, "total_rank": rank, "wall_s": s * sec_per_step}) + "\n")
        f.write(json.dumps({"kind": "eval", "step": steps, "metrics": {"accuracy": 0.6 + 0.01 * seed},
                            "wall_s": steps * sec_per_step + 1}) + "\n")
    (run_dir / "config.json").write_text(json.dumps({"method": method, "lr": lr, "seed": seed}))
    (run_dir / "summary.json").write_text(json.dumps({
        "method": method, "task": "rte", "model": "tiny", "steps": steps, "seed": seed,
        "train_seconds": steps * sec_per_step, "final_metrics": {"accuracy": 0.6 + 0.01 * seed},
        "trainable_params": 1234, "peak_memory_mb": 100.0, "lr": lr}))


RATES = {"adalora": 0.02, "hyperadalora": 0.05, "lora": 0.04, "head": 0.001}


def synthetic_runs(root: Path, seeds=(0, 1, 2)):
    runs = {}
    for method, rate in RATES.items():
        for seed in seeds:
            d = root / method / f"seed{seed}"
            write_run(d, method, seed, rate, floor=0.6 if method == "head" else 0.3)
            runs.setdefault(method, []).append(load_run(d, method, seed))
    return runs


def test_summary_targets_ratios_and_floor(tmp_path):
    runs = synthetic_runs(tmp_path)
    s = summarize(runs, baseline="adalora", window=10, floor="head")
    base = s["variants"]["adalora"]
    assert s["target_loss"] == pytest.approx(base["final_smoothed_loss"]["mean"])
    # the baseline's seed-mean smoothed curve ends exactly at its own target, so it reaches it (late)
    assert base["steps_to_target"] is not None and base["steps_to_target"] > 60
    assert base["step_ratio_vs_baseline"] == 1.0
    fast = s["variants"]["hyperadalora"]
    assert fast["steps_to_target"] < base["steps_to_target"]
    assert fast["step_ratio_vs_baseline"] == pytest.approx(fast["steps_to_target"] / base["steps_to_target"])
    assert fast["time_ratio_vs_baseline"] == pytest.approx(fast["seconds_to_target"] / base["seconds_to_target"])
    head = s["variants"]["head"]
    assert head["steps_to_target"] is None and head["step_ratio_vs_baseline"] is None
    assert fast["beats_floor"] and not head.get("beats_floor", False)
    assert s["baseline_learned"]  # 0.7 → ~0.35 is far more than 25 %
    assert fast["final_metrics"]["accuracy"]["mean"] == pytest.approx(0.61)
    assert fast["final_metrics"]["accuracy"]["std"] == pytest.approx(0.01)
    assert base["final_total_rank"] == 8
    # the 90 % level lies between the baseline's start and final loss and is reached earlier than the plateau
    assert base["final_smoothed_loss"]["mean"] < s["target90_loss"] < base["start_loss"]["mean"]
    assert base["steps_to_target90"] < base["steps_to_target"]
    assert fast["step_ratio90_vs_baseline"] == pytest.approx(fast["steps_to_target90"] / base["steps_to_target90"])
    assert fast["step_ratio90_vs_baseline"] < 1
    assert head["final_total_rank"] is None


def test_a_stopped_run_is_reported_as_incomplete(tmp_path):
    runs = synthetic_runs(tmp_path, seeds=(0,))
    stopped = tmp_path / "stopped"
    write_run(stopped, "hyperadalora", 0, RATES["hyperadalora"], steps=30)
    (stopped / "summary.json").unlink()
    (stopped / "config.json").write_text(json.dumps({"method": "hyperadalora", "lr": 1e-3, "max_steps": 100}))
    runs["hyperadalora"] = [load_run(stopped, "hyperadalora", 0)]
    s = summarize(runs, baseline="adalora", window=10, floor="head")
    assert s["incomplete"] == ["hyperadalora"]
    assert s["variants"]["hyperadalora"]["steps"] == 30 and not s["variants"]["hyperadalora"]["complete"]
    s.update({"plan": {}, "provenance": {}})
    text = render_report(s)
    assert "INCOMPLETE: stopped at step 30 of 100" in text and "Incomplete comparison" in text


def test_given_target_and_unlearned_baseline(tmp_path):
    runs = synthetic_runs(tmp_path, seeds=(0,))
    s = summarize({"head": runs["head"], "adalora": runs["adalora"]}, baseline="head", window=10, target_loss=0.1)
    assert s["target_source"].startswith("given")
    assert all(v["steps_to_target"] is None for v in s["variants"].values())
    assert not s["baseline_learned"]  # the head barely moves


def test_missing_or_broken_log_is_a_clear_error(tmp_path):
    with pytest.raises(UserInputError, match="log.jsonl: missing"):
        load_run(tmp_path, "x", 0)
    (tmp_path / "log.jsonl").write_text('{"kind": "train", "step": 1, "task_loss": 0.5, "wall_s": 0.1}\n{oops\n')
    with pytest.raises(UserInputError, match="line 2"):
        load_run(tmp_path, "x", 0)


# --- the command with a fake trainer ----------------------------------------------------------
def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    compare.add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = argv
    return args


def fake_train(calls: list[dict]):
    def train_fn(fields: dict) -> dict:
        calls.append(fields)
        rate = RATES[fields["method"]] * (fields["lr"] / 1e-3) ** 0.5
        write_run(Path(fields["out"]), fields["method"], fields["seed"], rate, steps=fields["max_steps"],
                  lr=fields["lr"])
        (Path(fields["out"]) / "checkpoints").mkdir()
        return {}

    return train_fn


def test_compare_writes_folder_report_and_plots(tmp_path):
    calls: list[dict] = []
    out = tmp_path / "cmp"
    args = parse(["--experiment", "nlu-convergence", "--task", "rte", "--seeds", "2", "--steps", "80",
                  "--smooth-window", "10", "--lr", "adalora=2e-3", "--out", str(out)])
    assert compare.run(args, train_fn=fake_train(calls)) == 0
    assert len(calls) == 4 * 2
    assert {c["seed"] for c in calls} == {0, 1}
    assert all(c["max_steps"] == 80 and c["task"] == "rte" for c in calls)
    assert [c["lr"] for c in calls if c["method"] == "adalora"] == [2e-3, 2e-3]
    for method in RATES:
        for seed in (0, 1):
            run_dir = out / "runs" / method / f"seed{seed}"
            assert (run_dir / "log.jsonl").is_file() and (run_dir / "config.json").is_file()
            assert not (run_dir / "checkpoints").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["variants"]) == set(RATES)
    assert summary["baseline"] == "adalora" and summary["floor"] == "head"
    assert summary["provenance"]["command"].startswith("hyperadalora compare --experiment nlu-convergence")
    assert summary["provenance"]["machine"]["cores"] >= 1
    report = (out / "report.md").read_text()
    for needle in ("| `hyperadalora` |", "steps to target", "baseline learned: yes", "head-only floor",
                   "## Provenance", "git commit", "not reached", "time ratio"):
        assert needle in report, needle
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(summary["plots"])
    assert {"loss_smoothed_by_step.png", "loss_raw_by_step.png", "loss_smoothed_by_seconds.png",
            "rank_by_step.png"} <= set(pngs)
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000

    # same command again: every run is reused, nothing retrained
    calls.clear()
    assert compare.run(args, train_fn=fake_train(calls)) == 0
    assert calls == []
    # a different plan into the same folder is refused, the folder is untouched
    before = (out / "plan.json").read_text()
    with pytest.raises(UserInputError, match="different comparison"):
        compare.run(parse([*args.argv[:-2], "--steps", "50", "--out", str(out)]), train_fn=fake_train(calls))
    assert (out / "plan.json").read_text() == before

    # one more seed extends the comparison: only the new seed is trained
    assert compare.run(parse([*args.argv[:4], "--seeds", "3", *args.argv[6:]]), train_fn=fake_train(calls)) == 0
    assert sorted({c["seed"] for c in calls}) == [2] and len(calls) == 4
    assert json.loads((out / "summary.json").read_text())["variants"]["lora"]["seeds"] == [0, 1, 2]

    # another preset with an identical arm copies that run instead of retraining it: the gamma preset's
    # γ = 0.1 arm spells out orth_reg_weight=0.1, the default of the convergence preset's hyperadalora arm
    calls.clear()
    gamma_out = tmp_path / "gamma"
    gamma_args = parse(["--experiment", "gamma", "--task", "rte", "--seeds", "1", "--steps", "80", "--smooth-window",
                        "10", "--reuse-from", str(out), "--out", str(gamma_out)])
    assert compare.run(gamma_args, train_fn=fake_train(calls)) == 0
    assert sorted(c["orth_reg_weight"] for c in calls) == [0.15, 0.2]
    assert (gamma_out / "runs" / "gamma0.1" / "seed0" / "reused_from.txt").is_file()
    calls.clear()
    other = tmp_path / "subset"
    sub = parse(["--experiment", "nlu-convergence", "--task", "rte", "--seeds", "1", "--steps", "80",
                 "--smooth-window", "10", "--lr", "adalora=2e-3", "--methods", "adalora,lora",
                 "--reuse-from", str(out), "--out", str(other)])
    assert compare.run(sub, train_fn=fake_train(calls)) == 0
    assert calls == []
    assert (other / "runs" / "lora" / "seed0" / "reused_from.txt").is_file()


def test_lr_sweep_picks_lowest_final_training_loss(tmp_path):
    calls: list[dict] = []
    out = tmp_path / "sweep"
    args = parse(["--experiment", "ablation", "--seeds", "1", "--steps", "40", "--lr-sweep", "--sweep-grid",
                  "1e-4,1e-3", "--sweep-steps", "30", "--smooth-window", "5", "--out", str(out)])
    args.methods = "attention,mlp"
    assert compare.run(args, train_fn=fake_train(calls)) == 0
    sweep_calls = [c for c in calls if c["max_steps"] == 30]
    assert len(sweep_calls) == 4
    assert len(calls) == 6  # + the two 40-step comparison runs
    summary = json.loads((out / "summary.json").read_text())
    # the fake loss falls faster with a larger rate, so 1e-3 must win for both variants
    assert {v["chosen"] for v in summary["lr_sweep"]["variants"].values()} == {1e-3}
    assert all(v["lr"] == 1e-3 for v in summary["variants"].values())
    assert "lr-sweep" in (out / "report.md").read_text()

    # when the comparison has the sweep's length, the winning sweep run is the seed-0 run: copied, not retrained
    calls.clear()
    args = parse(["--experiment", "ablation", "--methods", "attention", "--seeds", "1", "--steps", "30",
                  "--lr-sweep", "--sweep-grid", "1e-4,1e-3", "--sweep-steps", "30", "--smooth-window", "5",
                  "--out", str(tmp_path / "same")])
    assert compare.run(args, train_fn=fake_train(calls)) == 0
    assert len(calls) == 2
    assert (tmp_path / "same" / "runs" / "attention" / "seed0" / "reused_from.txt").read_text().strip().endswith("lr0.001")


def test_paper_settings_and_bad_input():
    args = parse(["--experiment", "gamma", "--paper-settings"])
    plan = compare.plan_from_args(args)
    assert plan.common["batch_size"] == 64 and plan.common["init_r"] == 3 and plan.common["weight_decay"] == 0.0
    assert {v.overrides["lr"] for v in plan.variants} == {1e-5}
    assert [v.overrides["orth_reg_weight"] for v in plan.variants] == [0.1, 0.15, 0.2]
    with pytest.raises(UserInputError, match="--lr nope"):
        compare.plan_from_args(parse(["--lr", "nope=1e-3"]))
    with pytest.raises(UserInputError, match="--methods"):
        compare.plan_from_args(parse(["--methods", "adalora,dora"]))
    with pytest.raises(UserInputError, match="--task"):
        compare.plan_from_args(parse(["--task", "squad"]))
    with pytest.raises(UserInputError, match="--seeds"):
        compare.plan_from_args(parse(["--seeds", "0"]))


# --- end to end with the real training harness on a tiny model ----------------------------------
WORDS = "a the man woman dog cat child runs sleeps eats sits walks is not big small red blue old young".split()


def write_tiny_assets(root: Path) -> tuple[Path, Path]:
    """A 2-layer BERT classifier + WordPiece tokenizer, and RTE-format TSVs with a learnable label."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    model_dir, data_dir = root / "bert", root / "RTE"
    model_dir.mkdir(parents=True)
    data_dir.mkdir(parents=True)
    (model_dir / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(model_dir / "vocab.txt"))
    torch.manual_seed(0)
    BertForSequenceClassification(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                             num_attention_heads=4, intermediate_size=64,
                                             max_position_embeddings=64, num_labels=2)).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    rng = random.Random(0)
    for name, n in (("train.tsv", 48), ("dev.tsv", 16)):
        lines = ["index\tsentence1\tsentence2\tlabel"]
        for i in range(n):
            a = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
            b = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
            label = "entailment" if i % 2 == 0 else "not_entailment"
            lines.append(f"{i}\t{a}\t{a.split()[0] + ' ' + b if i % 2 == 0 else b}\t{label}")
        (data_dir / name).write_text("\n".join(lines) + "\n")
    return model_dir, data_dir


@pytest.mark.slow
def test_end_to_end_with_the_training_harness(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model_dir, data_dir = write_tiny_assets(tmp_path / "assets")
    out = tmp_path / "cmp"
    argv = ["--experiment", "nlu-convergence", "--task", "rte", "--data", str(data_dir), "--model", str(model_dir),
            "--methods", "adalora,hyperadalora", "--seeds", "1", "--steps", "6", "--batch-size", "8",
            "--set", "eval_batch_size=8", "--smooth-window", "3", "--out", str(out)]
    assert compare.run(parse(argv)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["variants"]) == {"adalora", "hyperadalora"}
    for name, v in summary["variants"].items():
        assert v["steps"] == 6 and v["method"] == name
        assert math.isfinite(v["final_smoothed_loss"]["mean"])
        assert "accuracy" in v["final_metrics"] and v["trainable_params"] > 0
        run_dir = out / "runs" / name / "seed0"
        assert json.loads((run_dir / "config.json").read_text())["lr"] == v["lr"]
        assert not (run_dir / "checkpoints").exists()
    assert summary["variants"]["hyperadalora"]["final_total_rank"] is not None
    assert (out / "report.md").read_text().count("| `") >= 4
    assert (out / "loss_smoothed_by_step.png").stat().st_size > 5000


# --- best baseline and the bench time ratio ---------------------------------------------------
def _deterministic_run(run_dir: Path, method: str, curve: list[float], sec_per_step: float = 1.0) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "log.jsonl").open("w") as f:
        for s, loss in enumerate(curve, 1):
            f.write(json.dumps({"kind": "train", "step": s, "task_loss": loss, "orth_loss": 0.0, "loss": loss,
                                "lr": 1e-3, "total_rank": None, "wall_s": s * sec_per_step}) + "\n")
    (run_dir / "config.json").write_text(json.dumps({"method": method, "lr": 1e-3, "seed": 0}))
    (run_dir / "summary.json").write_text(json.dumps({"method": method, "steps": len(curve), "seed": 0,
                                                      "final_metrics": {}, "lr": 1e-3}))


def test_a_control_is_never_the_best_baseline_and_every_variant_gets_its_steps_to_it(tmp_path):
    """A plan's controls (AdaLoRA from the candidate's start, …) are not methods a user would pick: the best baseline
    is chosen without them, even when a control ends lowest, and each variant's steps to a control's final loss are
    reported beside."""
    curves = {"adalora": [1.0 - 0.005 * s for s in range(1, 101)],        # ends 0.5
              "lora": [1.0 - 0.006 * s for s in range(1, 101)],           # ends 0.4: the best user pick
              "adalora_orth": [1.0 - 0.008 * s for s in range(1, 101)],   # ends 0.2: lowest, but a control
              "hyperadalora": [1.0 - 0.0101 * s for s in range(1, 101)]}  # 0.4 at 60, 0.2 at 80
    runs = {}
    for name, curve in curves.items():
        method = "adalora" if name == "adalora_orth" else name
        _deterministic_run(tmp_path / name, method, curve)
        runs[name] = [load_run(tmp_path / name, name, 0)]
    s = summarize(runs, "adalora", window=1, controls=["adalora_orth"])
    h = s["variants"]["hyperadalora"]
    assert s["best_baseline"] == "lora" and s["controls"] == ["adalora_orth"]
    assert h["steps_to_best_baseline"] == 60 and h["step_ratio_vs_best_baseline"] == pytest.approx(0.6)
    assert h["steps_to_controls"]["adalora_orth"] == {"steps": 80, "ratio": pytest.approx(0.8)}
    assert s["variants"]["lora"]["steps_to_controls"]["adalora_orth"]["steps"] is None
    assert summarize(runs, "adalora", window=1)["best_baseline"] == "adalora_orth"  # without the plan's word


def test_bench_time_ratio_is_the_step_ratio_times_the_bench_step_time_ratio(tmp_path):
    """Pinned arithmetic: time ratio = (steps of the variant / steps of the reference) × (bench median step ms of
    the variant / of the reference), against AdaLoRA and against the best baseline users could pick."""
    from hyperadalora.bench.report import bench_key, bench_step_ms, bench_time_ratio

    assert bench_time_ratio(0.8, 150.0, 100.0) == pytest.approx(1.2, abs=1e-12)
    assert bench_time_ratio(None, 150.0, 100.0) is None and bench_time_ratio(0.8, None, 100.0) is None
    # straight lines from 1.0 (window 1): the steps to a level are exact, away from rounding at the crossing
    curves = {"adalora": [1.0 - 0.005 * s for s in range(1, 101)],      # ends 0.5: the target, reached at 100
              "lora": [1.0 - 0.008 * s for s in range(1, 101)],         # ends 0.2: the best baseline
              "hyperadalora": [1.0 - 0.0101 * s for s in range(1, 101)]}  # 0.5 at 50, 0.2 at 80
    runs = {}
    for name, curve in curves.items():
        _deterministic_run(tmp_path / name, name, curve)
        runs[name] = [load_run(tmp_path / name, name, 0)]
    bench = {"results": [{"batch_size": 16, "methods": {"adalora": {"step_ms": {"median": 100.0}},
                                                        "lora": {"step_ms": {"median": 80.0}},
                                                        "hyperadalora": {"step_ms": {"median": 120.0}}}}]}
    ms = bench_step_ms(bench)
    keys = {name: bench_key({"method": name}) for name in curves}
    s = summarize(runs, "adalora", window=1, bench_ms=ms, bench_keys=keys)
    h = s["variants"]["hyperadalora"]
    assert h["steps_to_target"] == 50 and h["step_ratio_vs_baseline"] == pytest.approx(0.5)
    assert h["bench_time_ratio_vs_baseline"] == pytest.approx(0.5 * 120 / 100)
    assert s["best_baseline"] == "lora" and s["best_baseline_loss"] == pytest.approx(0.2)
    assert h["steps_to_best_baseline"] == 80 and h["step_ratio_vs_best_baseline"] == pytest.approx(0.8)
    assert h["bench_time_ratio_vs_best_baseline"] == pytest.approx(0.8 * 120 / 80)
    assert s["variants"]["adalora"]["steps_to_best_baseline"] is None  # never reaches LoRA's final loss
    assert "Against the best baseline: `lora`" in render_report(s)
    with pytest.raises(UserInputError, match="batch size 8"):
        bench_step_ms(bench, 8)


def test_bench_key_names_what_changes_the_step():
    from hyperadalora.bench.report import bench_key

    assert bench_key({"method": "lora", "lora_init": "pissa", "lr": 3e-3}) == "lora"
    assert bench_key({"method": "lora", "optimizer": "prodigy"}) == "lora:optimizer=prodigy"
    assert bench_key({"method": "adalora", "optimizer": "adamw"}) == "adalora"
    assert bench_key({"method": "hyperadalora", "generation": "per_matrix"}) == "hyperadalora:generation=per_matrix"
    assert bench_key({"method": "loraplus"}) == "loraplus"


def test_hyperadalora_runs_of_another_minor_version_are_not_reused(tmp_path):
    """0.3 changed HyperAdaLoRA's defaults (start, η, attention): a run trained by 0.2 with the same fields computed
    something else, so it is retrained; a peft baseline's run is still copied."""
    from hyperadalora import __version__

    calls: list[dict] = []
    common = ["--experiment", "nlu-convergence", "--task", "rte", "--seeds", "1", "--steps", "80", "--smooth-window",
              "10", "--methods", "adalora,hyperadalora"]
    first = tmp_path / "first"
    assert compare.run(parse([*common, "--out", str(first)]), train_fn=fake_train(calls)) == 0
    for name in ("adalora", "hyperadalora"):  # as 0.2 wrote them: the fields alone
        path = first / "runs" / name / "seed0" / "compare_fields.json"
        fields = json.loads(path.read_text())
        assert fields.pop("trained_by") == __version__
        path.write_text(json.dumps(fields))
    calls.clear()
    assert compare.run(parse([*common, "--reuse-from", str(first), "--out", str(tmp_path / "second")]),
                       train_fn=fake_train(calls)) == 0
    assert [c["method"] for c in calls] == ["hyperadalora"]
    assert (tmp_path / "second" / "runs" / "adalora" / "seed0" / "reused_from.txt").is_file()
