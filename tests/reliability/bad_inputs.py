"""The table of bad inputs: each case is one `hyperadalora` command line that must fail with exit code 2, a
one-line `error: ...` naming the field or file (and line), and no change to the output directory.

The test (test_bad_inputs.py) runs every case; `cd tests && python -m reliability.bad_inputs` prints the table
with the message each case produces, as in docs/reliability.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .reliability_harness import train_args


@dataclass
class Env:
    """Paths a case may use: the tiny model(s) and data, a finished run, a scratch directory."""

    model: Path
    other_model: Path
    data: Path
    run: Path  # a finished run; every case must leave it byte-identical
    scratch: Path
    stories: Path  # a real causal LM, for the instruction-tuning cases


@dataclass
class Case:
    name: str
    argv: Callable[[Env], list[str]]
    expect: str  # regex the error line (after "error: ") must match, with {scratch}/{run} filled in


def finished_run_args(env: Env) -> list[str]:
    """The command that made `env.run` (the fixture runs it once)."""
    return train_args({"model": env.model, "data": env.data}, env.run, steps=8)


def _train(env: Env, *extra: str, **flags: str | None) -> list[str]:
    """The standard tiny run into the finished run's directory with --overwrite (so a bad input must be refused
    before anything is replaced), with flags changed (None removes a flag)."""
    args = [*finished_run_args(env), "--overwrite"]
    for flag, value in flags.items():
        name = "--" + flag.replace("_", "-")
        i = args.index(name) if name in args else None
        if value is None and i is not None:
            del args[i:i + 2]
        elif i is not None:
            args[i + 1] = value
        elif value is not None:
            args += [name, value]
    return args + list(extra)


def _write(env: Env, rel: str, content: str | bytes) -> Path:
    path = env.scratch / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


RTE_HEADER = "index\tsentence1\tsentence2\tlabel\n"
RTE_ROWS = "".join(f"{i}\ta man sleeps .\ta dog runs .\t{'not_' * (i % 2)}entailment\n" for i in range(16))


def _rte(env: Env, name: str, train: str | bytes, dev: str | bytes | None = None) -> str:
    _write(env, f"{name}/train.tsv", train)
    _write(env, f"{name}/dev.tsv", RTE_HEADER + RTE_ROWS if dev is None else dev)
    return str(env.scratch / name)


def _without_dev(env: Env) -> str:
    root = _rte(env, "nodev", RTE_HEADER + RTE_ROWS)
    (Path(root) / "dev.tsv").unlink()
    return root


def _config(env: Env, name: str, text: str) -> list[str]:
    path = _write(env, name, text)
    return ["train", "--config", str(path), "--out", str(env.run), "--overwrite", "--no-progress"]


def _good_config(env: Env) -> str:
    return (f"task: rte\ndata: {env.data}\nmodel: {env.model}\nmethod: hyperadalora\nmax_steps: 4\n"
            "batch_size: 8\nhypernet_hidden: 16\n")


def _instruct(env: Env, records: str) -> list[str]:
    path = _write(env, "instr.json", records)
    return ["train", "--task", "instruct", "--data", str(path), "--model", str(env.stories), "--out", str(env.run),
            "--overwrite", "--max-steps", "2", "--batch-size", "2", "--n-heldout", "1", "--no-progress"]


def _other_shape_adapter(env: Env) -> list[str]:
    """A run directory whose adapter/adapter.safetensors was saved from a base model of another hidden size."""
    import shutil

    from safetensors.torch import save_file
    from transformers import AutoModelForSequenceClassification

    from hyperadalora.train import TrainConfig
    from hyperadalora.train.methods import build_method

    run = env.scratch / "run-with-foreign-adapter"
    shutil.copytree(env.run, run)
    cfg = TrainConfig.from_dict(json.loads((env.run / "config.json").read_text()))
    base = AutoModelForSequenceClassification.from_pretrained(env.other_model)
    other = build_method(base, cfg, causal=False, total_steps=cfg.max_steps)  # the loop's own construction
    save_file(other.state_dict(), str(run / "adapter" / "adapter.safetensors"))
    return ["eval", "--run", str(run)]


CASES: list[Case] = [
    # --- config files ------------------------------------------------------------------------------
    Case("YAML syntax error", lambda e: _config(e, "bad.yaml", _good_config(e) + "lr: [0.1\n"),
         r"{scratch}/bad\.yaml: line \d+: not valid YAML"),
    Case("JSON syntax error", lambda e: _config(e, "bad.json", '{"task": "rte",\n "lr": 0.1,}\n'),
         r"{scratch}/bad\.json: line 2: not valid JSON"),
    Case("unknown config key", lambda e: _config(e, "typo.yaml", _good_config(e) + "max_step: 5\n"),
         r"{scratch}/typo\.yaml: unknown field 'max_step' \(did you mean 'max_steps'\?\)"),
    Case("wrong type in config", lambda e: _config(e, "type.yaml", _good_config(e) + "batch_size: eight\n"),
         r"batch_size: expected int, got 'eight' \(str\)"),
    Case("config is not a mapping", lambda e: _config(e, "list.yaml", "- task\n- rte\n"),
         r"{scratch}/list\.yaml: expected a mapping of field names to values, got list"),
    Case("unknown flag", lambda e: _train(e, "--batchsize", "8"),
         r"unrecognized arguments: --batchsize 8 \(did you mean --batch-size\?\)"),
    Case("wrong type on the command line", lambda e: _train(e, batch_size="eight"),
         r"argument --batch-size: invalid int value: 'eight'"),
    # --- absurd values -----------------------------------------------------------------------------
    Case("negative steps", lambda e: _train(e, max_steps="-5"), r"max_steps: must be a positive integer \(or unset\), got -5"),
    Case("batch size 0", lambda e: _train(e, batch_size="0"), r"batch_size: must be a positive integer, got 0"),
    Case("r = 0", lambda e: _train(e, init_r="0"), r"init_r: must be a positive integer, got 0"),
    Case("γ < 0", lambda e: _train(e, orth_reg_weight="-0.1"), r"orth_reg_weight: must be >= 0, got -0\.1"),
    Case("learning rate 0", lambda e: _train(e, lr="0"), r"lr: must be > 0, got 0\.0"),
    Case("target_r >= init_r", lambda e: _train(e, target_r="3"), r"target_r: must be smaller than init_r \(3 >= 3\)"),
    Case("unknown method", lambda e: _train(e, method="hyperlora"),
         r"method: unknown value 'hyperlora' \(did you mean 'hyperadalora'\?\)"),
    Case("unknown task", lambda e: _train(e, task="rtee"), r"task: unknown task 'rtee' \(did you mean 'rte'\?\)"),
    Case("batch larger than the data", lambda e: _train(e, batch_size="1000"),
         r"batch_size: 1000 is larger than the training set \(64 examples\)"),
    # --- data files --------------------------------------------------------------------------------
    Case("data directory missing", lambda e: _train(e, data=str(e.scratch / "nowhere")),
         r"{scratch}/nowhere: GLUE data directory not found; expected a directory holding train\.tsv and dev\.tsv"),
    Case("data file missing", lambda e: _train(e, data=_without_dev(e)),
         r"{scratch}/nodev: missing dev\.tsv for task rte \(expected train\.tsv and dev\.tsv\); found: train\.tsv"),
    Case("CSV given as TSV", lambda e: _train(e, data=_rte(e, "csv", RTE_HEADER.replace("\t", ",") + "0,a,b,entailment\n")),
         r"{scratch}/csv/train\.tsv: line 1: found a single field .*comma-separated"),
    Case("missing column", lambda e: _train(e, data=_rte(e, "nolabel", "index\tsentence1\tsentence2\n0\ta\tb\n")),
         r"{scratch}/nolabel/train\.tsv: line 1: missing column\(s\) 'label' for task rte; found columns: "
         r"'index', 'sentence1', 'sentence2'"),
    Case("ragged row", lambda e: _train(e, data=_rte(e, "ragged", RTE_HEADER + RTE_ROWS + "16\tonly one\tentailment\n")),
         r"{scratch}/ragged/train\.tsv: line 18: expected 4 tab-separated fields, got 3"),
    Case("non-UTF-8 bytes", lambda e: _train(e, data=_rte(e, "latin1", (RTE_HEADER + RTE_ROWS).encode()
                                                         + b"16\tcaf\xe9\tb\tentailment\n")),
         r"{scratch}/latin1/train\.tsv: line 18: invalid UTF-8 byte 0xe9"),
    Case("empty file", lambda e: _train(e, data=_rte(e, "empty", "")), r"{scratch}/empty/train\.tsv: file is empty"),
    Case("header only (empty split)", lambda e: _train(e, data=_rte(e, "header", RTE_HEADER)),
         r"{scratch}/header/train\.tsv: no data rows \(empty split\)"),
    Case("label outside the task's set", lambda e: _train(e, data=_rte(e, "neutral", RTE_HEADER + RTE_ROWS
                                                                      + "16\ta\tb\tneutral\n")),
         r"{scratch}/neutral/train\.tsv: line 18: label 'neutral' is not one of entailment, not_entailment"),
    Case("dev label never seen in train", lambda e: _train(e, data=_rte(
        e, "unseen", RTE_HEADER + "".join(f"{i}\ta\tb\tentailment\n" for i in range(16)))),
         r"{scratch}/unseen/dev\.tsv: line 3: label 'not_entailment' never occurs in train\.tsv"),
    Case("instruction record without output", lambda e: _instruct(
        e, '[{"instruction": "a", "output": "b"}, {"instruction": "c", "input": ""}]'),
         r"{scratch}/instr\.json: record 1: missing field 'output'"),
    Case("instruction record without instruction", lambda e: _instruct(e, '[{"input": "x", "output": "b"}]'),
         r"{scratch}/instr\.json: record 0: missing field 'instruction'"),
    # --- models, adapters and run directories --------------------------------------------------------
    Case("no target module matches", lambda e: _train(e, "--target-modules", "q_proj"),
         r"target_modules: no Linear layer of the model matches \['q_proj'\]; candidates in this model: "),
    Case("model directory missing", lambda e: _train(e, model=str(e.scratch / "no-model")),
         r"model {scratch}/no-model: no such directory"),
    Case("adapter from another base model shape", _other_shape_adapter,
         r"{scratch}/run-with-foreign-adapter/adapter/adapter\.safetensors: (tensor .* has shape .*, this model "
         r"expects|does not match)"),
    Case("resume with another model", lambda e: _train(e, "--resume", overwrite=None, model=str(e.other_model)),
         r"out: {run} holds a different run \(model="),
    Case("output directory holds another run", lambda e: _train(e, overwrite=None, seed="1"),
         r"out: {run} already holds a run; pass --resume to continue it, --overwrite to replace it"),
    Case("--resume with --overwrite", lambda e: _train(e, "--resume"),
         r"resume: --resume and --overwrite contradict each other"),
]


def expected(case: Case, env: Env) -> re.Pattern:
    return re.compile(case.expect.format(scratch=re.escape(str(env.scratch)), run=re.escape(str(env.run))))


def run_case(case: Case, env: Env) -> tuple[int, list[str]]:
    """Run the case through the CLI's `main` in this process: (exit code, the `error:` lines on stderr)."""
    import contextlib
    import io

    from hyperadalora.cli import main

    argv = case.argv(env)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse exits itself
            code = e.code
    return code, [line for line in err.getvalue().splitlines() if line.startswith("error: ")]


if __name__ == "__main__":
    import contextlib
    import io
    import os
    import sys
    import tempfile

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)
    from .reliability_harness import REPO, write_rte, write_tiny_bert

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = Env(write_tiny_bert(root / "bert"), write_tiny_bert(root / "bert48", hidden=48), write_rte(root / "RTE"),
                  root / "run", root / "scratch", REPO.parent / "shared" / "models" / "stories260k")
        env.scratch.mkdir()
        with contextlib.redirect_stdout(io.StringIO()):
            assert run_case(Case("finished run", finished_run_args, ""), env)[0] == 0
        print("| bad input | exit code | message |\n|---|---|---|")
        for case in CASES:
            code, lines = run_case(case, env)
            message = " ".join(lines).replace(str(env.scratch), "<dir>").replace(str(env.run), "<run>")
            message = message.replace("|", "\\|")
            print(f"| {case.name} | {code} | `{message}` |")
        sys.stdout.flush()
