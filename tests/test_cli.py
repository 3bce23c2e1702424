"""The `hyperadalora` CLI: help generated from TrainConfig, a real run, and every bad input → exit code 2, one
line on stderr, nothing written."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hyperadalora import cli
from hyperadalora.train import TrainConfig
from tests.train.train_fixtures import write_rte, write_tiny_bert

torch.set_num_threads(1)  # tiny models on a shared 2-core machine (see tests/train/conftest.py)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    return {"model": write_tiny_bert(root / "bert"), "data": write_rte(root / "RTE")}


def train_argv(tiny: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["train", "--task", "rte", "--data", str(tiny["data"]), "--model", str(tiny["model"]), "--out", str(out),
            "--max-steps", "3", "--batch-size", "8", "--tinit", "1", "--tfinal", "1", "--no-progress", *extra]


def run_main(argv: list[str]) -> int:
    """main's exit code, whether it returns it or argparse exits."""
    try:
        return cli.main(argv)
    except SystemExit as e:
        return e.code


def snapshot(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(path.rglob("*"))} if path.exists() else {}


def test_train_help_documents_every_field(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for f in dataclasses.fields(TrainConfig):
        assert "--" + f.name.replace("_", "-") in text, f.name
    assert "--config" in text and "--no-progress" in text


@pytest.mark.parametrize("command", ["eval", None])
def test_other_help(capsys, command):
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"] if command else ["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert ("--run" in text) if command else all(c in text for c in ("train", "eval", "bench", "compare"))


def test_train_then_eval(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(train_argv(tiny, out, "--method", "lora")) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert f"accuracy {summary['final_metrics']['accuracy']:.4f}" in printed
    assert cli.main(["eval", "--run", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == summary["final_metrics"]


def test_config_file_with_flag_override(tiny, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"task: rte\ndata: {tiny['data']}\nmodel: {tiny['model']}\nmethod: head\nout: {tmp_path / 'a'}\n"
                      "max_steps: 2\nbatch_size: 8\nprogress: false\n")
    assert cli.main(["train", "--config", str(config), "--out", str(tmp_path / "b"), "--lr", "0.002"]) == 0
    stored = json.loads((tmp_path / "b" / "config.json").read_text())
    assert stored["lr"] == 0.002 and stored["method"] == "head" and not (tmp_path / "a").exists()


def test_stop_and_resume_from_the_stored_config(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(train_argv(tiny, out, "--method", "head", "--max-steps", "4", "--stop-after", "2")) == 0
    assert "continue with" in capsys.readouterr().out
    assert cli.main(["train", "--out", str(out), "--resume"]) == 0  # every other setting from config.json
    assert [r["step"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())] == [1, 2, 3, 4, 4]


def _bad_data(root: Path, kind: str) -> Path:
    d = write_rte(root / kind)
    train = d / "train.tsv"
    lines = train.read_text().splitlines()
    if kind == "no_files":
        train.unlink()
    elif kind == "missing_column":
        train.write_text("\n".join(["index\tsentence1\tsentence2\tgold"] + lines[1:]) + "\n")
    elif kind == "bad_label":
        train.write_text("\n".join(lines[:3] + [lines[3].rsplit("\t", 1)[0] + "\tmaybe"] + lines[4:]) + "\n")
    elif kind == "empty_split":
        train.write_text(lines[0] + "\n")
    return d


@pytest.mark.parametrize(("argv_extra", "data_kind", "message"), [
    (["--task", "rtee"], None, r"task: unknown task 'rtee' \(did you mean 'rte'\?\)"),
    (["--method", "lorra"], None, r"method: unknown value 'lorra' \(did you mean 'lora'\?\)"),
    (["--max-steps", "-3"], None, r"max_steps: must be a positive integer"),
    (["--batch-size", "0"], None, r"batch_size: must be a positive integer"),
    (["--init-r", "0"], None, r"init_r: must be a positive integer"),
    (["--orth-reg-weight", "-1"], None, r"orth_reg_weight: must be >= 0"),
    (["--target-modules", "q_proj", "v_proj"], None, r"target_modules: no Linear layer of the model matches"),
    (["--lrr", "0.1"], None, r"unrecognized arguments: --lrr .*did you mean --lr\?"),
    (["--max-steps", "many"], None, r"argument --max-steps: invalid int value: 'many'"),
    ([], "no_files", r"missing train.tsv"),
    ([], "missing_column", r"train.tsv: line 1: missing column\(s\) 'label'"),
    ([], "bad_label", r"train.tsv: line 4: label 'maybe' is not one of"),
    ([], "empty_split", r"train.tsv: .*empty split"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tiny, tmp_path, capsys, argv_extra, data_kind, message):
    import re

    out = tmp_path / "run"
    argv = train_argv(tiny, out)
    if data_kind:
        argv[argv.index("--data") + 1] = str(_bad_data(tmp_path, data_kind))
    code = run_main(argv + argv_extra)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and "\n" not in err and re.search(message, err), err
    assert not out.exists()


def test_out_dir_with_a_different_run_is_refused_and_untouched(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(train_argv(tiny, out, "--method", "head")) == 0
    before = snapshot(out)
    capsys.readouterr()
    assert cli.main(train_argv(tiny, out, "--method", "head")) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err
    assert cli.main(train_argv(tiny, out, "--method", "lora", "--resume")) == 2
    assert "holds a different run (method='head' (now 'lora'))" in capsys.readouterr().err
    assert snapshot(out) == before


def test_lazy_subcommand_import_failure_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "bench", cli.Command("x", module="hyperadalora.no_such_module"))
    assert cli.main(["bench"]) == 1
    assert "the 'bench' subcommand is unavailable: cannot load hyperadalora.no_such_module" in capsys.readouterr().err


def test_python_dash_m_exits_2_on_bad_input(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "hyperadalora", "train", "--task", "wnlii", "--out", str(tmp_path / "r")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: task: unknown task 'wnlii' (did you mean 'wnli'?); choose one of rte, wnli, "
                                     "qnli, mnli, sst2, cola, mrpc, qqp, instruct")
    assert not (tmp_path / "r").exists()


def test_unknown_subcommand_suggests_the_closest(capsys):
    assert run_main(["trian"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "did you mean 'train'?" in err and "\n" not in err


@pytest.mark.parametrize("text, value", [("auto", "auto"), ("full", "full"), ("none", None), ("128", 128)])
def test_attention_block_flag_takes_auto_full_none_or_an_integer(text, value):
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_train_arguments(parser)
    assert parser.parse_args(["--attention-block", text]).attention_block == value
